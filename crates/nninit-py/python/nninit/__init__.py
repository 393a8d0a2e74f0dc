"""nninit: neural-network weight initialization on a Rust core.

Every tensor is reproducible anywhere: element ``i`` depends only on
``(seed, name, i)``, so the same arguments give the same bytes on any machine,
thread count, or slice. The functions mirror the ``nninit`` command:
:func:`sample` is ``nninit sample``, :func:`explain`, :func:`gain`,
:func:`theory`, :func:`doctor` and :func:`materialize` return the
dictionaries the command prints with ``--json``. ``nninit.torch`` fills
PyTorch tensors (torch is imported only there).

Errors are ``ValueError`` (bad arguments) or ``OSError`` (files), with the
command's one-line message.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native

__version__: str = _native.__version__

__all__ = ["sample", "explain", "gain", "theory", "materialize", "doctor", "__version__"]

_DTYPES = {
    "float32": "f32", "f32": "f32",
    "float64": "f64", "f64": "f64",
    "float16": "f16", "f16": "f16",
    "bfloat16": "bf16", "bf16": "bf16",
}
_NUMPY = {"f32": np.float32, "f64": np.float64, "f16": np.float16, "bf16": np.uint16}


def _shape(shape: Union[int, Sequence[int]]) -> list:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    dims = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise ValueError(f"invalid shape {tuple(shape)!r}: dimensions must be integers")
        if d < 1:
            raise ValueError(f"shape {list(shape)!r} has a zero dimension; every dimension must be at least 1"
                             if d == 0 else f"invalid shape {tuple(shape)!r}: dimensions must be positive")
        dims.append(int(d))
    return dims


def _seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise ValueError(f"invalid seed {seed!r}: must be an integer in [0, 2**64)")
    return int(seed)


def _count(what: str, value: Any) -> int:
    """A non-negative integer argument (PyO3 would raise OverflowError for a negative one)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**64:
        raise ValueError(f"invalid {what} {value!r}: must be a non-negative integer")
    return int(value)


def _rule(params: Dict[str, Any]) -> Tuple[Dict[str, str], Optional[float], Optional[Tuple[int, int]], int]:
    """The rule's parameters as the command line gives them (text), and the tensor's extras."""
    params = dict(params)
    param = params.pop("param", None)
    fan_in, fan_out = params.pop("fan_in", None), params.pop("fan_out", None)
    groups = params.pop("groups", 1)
    if (fan_in is None) != (fan_out is None):
        raise ValueError("give fan_in and fan_out together")
    if param is not None and "nonlinearity" not in params:
        raise ValueError("param= is the nonlinearity's parameter: give nonlinearity= too")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"invalid groups {groups!r}: must be a positive integer")
    text = {}
    for key, value in params.items():
        if value is None:
            continue
        text[key] = repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
    fan = None if fan_in is None else (_count("fan_in", fan_in), _count("fan_out", fan_out))
    return text, (None if param is None else float(param)), fan, int(groups)


def _slice(slice: Any) -> Tuple[Optional[int], Optional[int]]:
    if slice is None:
        return None, None
    if isinstance(slice, builtin_slice):
        if slice.step not in (None, 1):
            raise ValueError("slice= takes contiguous elements: no step")
        start, end = slice.start, slice.stop
    else:
        try:
            start, end = slice
        except (TypeError, ValueError):
            raise ValueError(f"invalid slice {slice!r}: give (start, end) or a slice object") from None
    for v in (start, end):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0):
            raise ValueError(f"invalid slice {slice!r}: bounds must be non-negative integers")
    return (None if start is None else int(start)), (None if end is None else int(end))


builtin_slice = slice


def sample(
    rule: str,
    shape: Union[int, Sequence[int]],
    *,
    seed: int,
    name: str,
    dtype: str = "float32",
    layout: str = "torch",
    rng: str = "philox",
    out: Optional[np.ndarray] = None,
    slice: Any = None,
    torch_kernel: str = "avx2",
    **params: Any,
) -> np.ndarray:
    """Draw one tensor, bit for bit what ``nninit sample`` writes with the same arguments.

    Args:
        rule: the initializer (``normal``, ``uniform``, ``truncated_normal``,
            ``xavier_uniform``, ``kaiming_normal``, ``orthogonal``, ``sparse``, ...).
        shape: the tensor's shape, e.g. ``(64, 32)``.
        seed: any integer in ``[0, 2**64)``.
        name: the tensor's name; with ``seed`` it keys the random stream.
        dtype: ``float32``, ``float64``, ``float16`` or ``bfloat16`` (returned
            as its bits in a ``uint16`` array: ``torch.from_numpy(a).view(torch.bfloat16)``).
        layout: ``torch`` ([out, in, k...]), ``torch-transposed``, ``jax``
            ([k..., in, out]) or ``axes:IN;OUT``.
        rng: ``philox`` (nninit's stream) or ``torch`` (PyTorch's CPU generator
            after ``torch.manual_seed(seed)``: torch.nn.init's values; f32/f64 only).
        out: a C-contiguous, writeable array of the dtype to fill in place
            (its size must be the tensor's, or the slice's); returned.
        slice: ``(start, end)`` or ``slice(start, end)`` of the flattened
            tensor: identical to those elements of the whole (returned 1-D).
        torch_kernel: PyTorch kernel flavour for ``rng="torch"``: ``avx2`` or ``default``.
        **params: the rule's parameters, as the command's options: ``mean``,
            ``std``, ``low``/``a``, ``high``/``b``, ``lower``, ``upper``, ``gain``,
            ``scale``, ``mode``, ``nonlinearity``, ``param``, ``distribution``,
            ``correction``, ``value``, ``sparsity``, ``groups``, ``fan_in``, ``fan_out``.

    Returns:
        The array (``out`` when given).

    Raises:
        ValueError: bad arguments, with the command's message.

    Example:
        >>> w = nninit.sample("kaiming_normal", (64, 32), seed=0, name="fc.weight", nonlinearity="relu")
    """
    dt = _DTYPES.get(str(np.dtype(dtype)) if not isinstance(dtype, str) else dtype.lower())
    if dt is None:
        raise ValueError(f"unknown dtype `{dtype}` (known: float32, float64, float16, bfloat16)")
    if out is not None:
        if not isinstance(out, np.ndarray):
            raise ValueError("out= must be a numpy array")
        if out.dtype != np.dtype(_NUMPY[dt]):
            raise ValueError(f"out= has dtype {out.dtype}, expected {np.dtype(_NUMPY[dt])} for dtype={dtype!r}")
    text, param, fan, groups = _rule(params)
    start, end = _slice(slice)
    return _native.sample(rule, _shape(shape), _seed(seed), str(name), dt, layout, rng, torch_kernel,
                          start, end, out, text, param, fan, groups)


def explain(
    rule: Optional[str] = None,
    shape: Union[int, Sequence[int], None] = None,
    *,
    layout: str = "torch",
    config: Optional[str] = None,
    preset: Optional[str] = None,
    scheme: Optional[str] = None,
    dtype: str = "f32",
    **params: Any,
) -> Dict[str, Any]:
    """What a rule does to a tensor, or a whole model's plan: ``nninit explain --json``.

    Either ``rule`` and ``shape`` (and the rule's parameters, as for
    :func:`sample`): formula, fans, gain, mean, std, bound, equivalents; or
    ``config`` (a ``config.json`` path) or ``preset`` with ``scheme``: every
    tensor's rule under the scheme.

    Example:
        >>> nninit.explain("xavier_uniform", (256, 128))["bound"]
        0.125
    """
    model = config is not None or preset is not None
    if model and (rule is not None or shape is not None):
        raise ValueError("give either an initializer with shape, or config/preset, not both")
    if model:
        if scheme is None:
            raise ValueError("scheme= is required with config/preset")
        return json.loads(_native.explain_plan(None if config is None else str(config), preset, scheme, dtype))
    if rule is None or shape is None:
        raise ValueError("give an initializer and shape (explain('normal', (64, 32))), or config/preset with scheme")
    text, param, fan, groups = _rule(params)
    return json.loads(_native.explain(rule, _shape(shape), layout, text, param, fan, groups))


def gain(activation: str, *, param: Optional[float] = None) -> Dict[str, Any]:
    """PyTorch's gain for an activation and the gains from Gaussian integrals: ``nninit gain --json``.

    Example:
        >>> nninit.gain("relu")["torch"]
        1.4142135623730951
    """
    return json.loads(_native.gain(activation, None if param is None else float(param)))


def theory(
    activation: str,
    *,
    param: Optional[float] = None,
    sigma_w2: Optional[float] = None,
    sigma_b2: float = 0.0,
    q0: float = 1.0,
    depth: int = 100,
    recommend: bool = False,
    edge: bool = False,
    sigma_w2_max: float = 4.0,
    sigma_b2_max: float = 0.3,
) -> Dict[str, Any]:
    """Mean-field signal propagation for one activation: ``nninit theory --json``.

    By default the theory at (``sigma_w2``, ``sigma_b2``) from inputs of length
    ``q0`` for a network of ``depth`` layers (q*, chi1, depth scales, phase,
    edge of chaos, verdict); ``recommend=True`` gives the recommended point
    and init rule for ``depth``; ``edge=True`` the critical sigma_w2 for 13
    sigma_b2 in [0, ``sigma_b2_max``].

    Example:
        >>> nninit.theory("tanh", sigma_w2=1.0)["phase"]
        'critical'
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise ValueError(f"invalid depth {depth!r}: must be a positive integer")
    return json.loads(_native.theory(
        activation, None if param is None else float(param), None if sigma_w2 is None else float(sigma_w2),
        float(sigma_b2), float(q0), int(depth), bool(recommend), bool(edge), float(sigma_w2_max),
        float(sigma_b2_max)))


class _Progress:
    """A progress bar on a terminal: tqdm if importable, else a simple one on stderr."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bar = None
        self.total = 0
        self.done = 0

    def __call__(self, n: int) -> None:
        if not self.enabled:
            return
        if n < 0:
            self.total = -n
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=self.total, unit="B", unit_scale=True, file=sys.stderr, leave=False)
            except ImportError:
                self.bar = None
            return
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.total:
            width = 40
            filled = width * self.done // self.total
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB")
            sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.total:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def materialize(
    out: str,
    *,
    scheme: str,
    config: Optional[str] = None,
    preset: Optional[str] = None,
    seed: int = 0,
    dtype: str = "f32",
    max_shard_size: str = "5GB",
    rank: int = 0,
    world_size: int = 1,
    verify: bool = False,
    digest: str = "sha256",
    progress: bool = True,
) -> Dict[str, Any]:
    """Initialize a whole model into sharded safetensors: ``nninit materialize --json``.

    ``config`` (a Hugging Face ``config.json``) or ``preset`` under ``scheme``,
    streamed into the folder ``out`` (atomically: on an error no file is left
    half-written). ``rank``/``world_size`` split the shards between processes.
    ``digest="none"`` leaves the SHA-256 of each shard out of the manifest (it
    costs about as much CPU as generating bf16 values; the bytes are the same).
    A progress bar shows on a terminal (tqdm if installed), never otherwise.

    Example:
        >>> report = nninit.materialize("gpt2-init", preset="gpt2", scheme="hf", seed=1)
    """
    if (config is None) == (preset is None):
        raise ValueError("give config= (a config.json) or preset=, not both")
    bar = _Progress(progress)
    try:
        report = _native.materialize(str(out), None if config is None else str(config), preset, scheme,
                                     _seed(seed), dtype, str(max_shard_size), _count("rank", rank),
                                     _count("world_size", world_size),
                                     bool(verify), str(digest), bar if bar.enabled else None)
    finally:
        bar.close()
    return json.loads(report)


def doctor(
    path: str,
    *,
    config: Optional[str] = None,
    expect: Optional[str] = None,
    iterations: int = _native.SPECTRAL_ITERATIONS,
) -> Dict[str, Any]:
    """Examine a checkpoint: ``nninit doctor --json`` (``{"report": ..., "seconds": ...}``).

    ``path`` is a ``.safetensors`` file, a sharded folder or a Hugging Face
    folder; ``config`` a ``config.json`` when it is not beside the weights;
    ``expect`` a scheme the weights must follow (see
    ``report["expected_followed"]``).

    Example:
        >>> nninit.doctor("model.safetensors")["report"]["verdict"]
    """
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"invalid iterations {iterations!r}: must be a non-negative integer")
    return json.loads(_native.doctor(str(path), None if config is None else str(config), expect, int(iterations)))
