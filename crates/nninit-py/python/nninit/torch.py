"""``torch.nn.init``'s functions on nninit's reproducible streams.

Each function takes ``torch.nn.init``'s name and arguments, plus keyword-only
``seed`` and ``name`` (the tensor's name: with the seed it keys the stream),
and fills the tensor in place with the values ``nninit.sample`` gives: the
same on any device, thread count or machine. CPU contiguous tensors are
filled directly through a numpy view of their memory (no copy); other
tensors (another device, not contiguous) through one host buffer and
``Tensor.copy_``. ``rng="torch"`` gives PyTorch's own CPU values after
``torch.manual_seed(seed)`` instead (float32/float64).

torch is imported when this module is, never by ``import nninit``.

Example:
    >>> import torch, nninit.torch as nt
    >>> w = torch.empty(256, 128)
    >>> nt.kaiming_normal_(w, nonlinearity="relu", seed=0, name="fc.weight")
"""

from __future__ import annotations

from typing import Any, Optional

import json

import numpy as np

import nninit
from nninit import _native

try:
    import torch
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("nninit.torch needs PyTorch (pip install torch); the rest of nninit needs only numpy") from e

__all__ = [
    "normal_", "uniform_", "kaiming_normal_", "kaiming_uniform_", "xavier_normal_", "xavier_uniform_",
    "trunc_normal_", "orthogonal_", "zeros_", "ones_", "constant_", "reset_", "apply_",
]

_DTYPES = {
    torch.float32: ("float32", np.float32),
    torch.float64: ("float64", np.float64),
    torch.float16: ("float16", np.float16),
    torch.bfloat16: ("bfloat16", np.uint16),
}


def _fill(tensor: "torch.Tensor", rule: str, seed: int, name: str, rng: str, **params: Any) -> "torch.Tensor":
    """Fills ``tensor`` in place with ``nninit.sample(rule, tensor.shape, ...)``."""
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"expected a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dtype not in _DTYPES:
        raise ValueError(f"nninit fills float32, float64, float16 and bfloat16 tensors, not {tensor.dtype}")
    if tensor.is_meta:
        raise ValueError("a meta tensor has no memory to fill: materialize it first (module.to_empty(device=...))")
    dtype, np_dtype = _DTYPES[tensor.dtype]
    shape = tuple(tensor.shape)
    if tensor.numel() == 0:
        return tensor
    with torch.no_grad():
        if tensor.device.type == "cpu" and tensor.is_contiguous() and not tensor.is_conj() and not tensor.is_neg():
            data = tensor.detach()
            view = data.view(torch.int16).numpy().view(np.uint16) if dtype == "bfloat16" else data.numpy()
            nninit.sample(rule, shape, seed=seed, name=name, dtype=dtype, rng=rng, out=view, **params)
        else:
            host = nninit.sample(rule, shape, seed=seed, name=name, dtype=dtype, rng=rng, **params)
            source = torch.from_numpy(host)
            if dtype == "bfloat16":
                source = source.view(torch.int16).view(torch.bfloat16)
            tensor.copy_(source)
    return tensor


def normal_(tensor: "torch.Tensor", mean: float = 0.0, std: float = 1.0, *, seed: int, name: str,
            rng: str = "philox") -> "torch.Tensor":
    """Fill ``tensor`` from N(mean, std²), as ``torch.nn.init.normal_``, reproducibly from (seed, name)."""
    return _fill(tensor, "normal", seed, name, rng, mean=mean, std=std)


def uniform_(tensor: "torch.Tensor", a: float = 0.0, b: float = 1.0, *, seed: int, name: str,
             rng: str = "philox") -> "torch.Tensor":
    """Fill ``tensor`` from U(a, b), as ``torch.nn.init.uniform_``, reproducibly from (seed, name)."""
    return _fill(tensor, "uniform", seed, name, rng, low=a, high=b)


def _kaiming(rule: str, tensor, a, mode, nonlinearity, seed, name, rng):
    params = {"mode": mode, "nonlinearity": nonlinearity}
    if nonlinearity == "leaky_relu":
        params["param"] = a
    return _fill(tensor, rule, seed, name, rng, **params)


def kaiming_normal_(tensor: "torch.Tensor", a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    *, seed: int, name: str, rng: str = "philox") -> "torch.Tensor":
    """He normal, N(0, gain²/fan), as ``torch.nn.init.kaiming_normal_`` (``a``: leaky_relu's slope)."""
    return _kaiming("kaiming_normal", tensor, a, mode, nonlinearity, seed, name, rng)


def kaiming_uniform_(tensor: "torch.Tensor", a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", *, seed: int, name: str,
                     rng: str = "philox") -> "torch.Tensor":
    """He uniform, U(±gain·√(3/fan)), as ``torch.nn.init.kaiming_uniform_`` (``a``: leaky_relu's slope)."""
    return _kaiming("kaiming_uniform", tensor, a, mode, nonlinearity, seed, name, rng)


def xavier_normal_(tensor: "torch.Tensor", gain: float = 1.0, *, seed: int, name: str,
                   rng: str = "philox") -> "torch.Tensor":
    """Glorot normal, N(0, gain²·2/(fan_in + fan_out)), as ``torch.nn.init.xavier_normal_``."""
    return _fill(tensor, "xavier_normal", seed, name, rng, gain=gain)


def xavier_uniform_(tensor: "torch.Tensor", gain: float = 1.0, *, seed: int, name: str,
                    rng: str = "philox") -> "torch.Tensor":
    """Glorot uniform, U(±gain·√(6/(fan_in + fan_out))), as ``torch.nn.init.xavier_uniform_``."""
    return _fill(tensor, "xavier_uniform", seed, name, rng, gain=gain)


def trunc_normal_(tensor: "torch.Tensor", mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  *, seed: int, name: str, rng: str = "philox") -> "torch.Tensor":
    """N(mean, std²) truncated to [a, b] (absolute bounds), as ``torch.nn.init.trunc_normal_``."""
    return _fill(tensor, "truncated_normal", seed, name, rng, mean=mean, std=std, low=a, high=b)


def orthogonal_(tensor: "torch.Tensor", gain: float = 1.0, *, seed: int, name: str,
                rng: str = "philox") -> "torch.Tensor":
    """A (semi-)orthogonal matrix times ``gain``, as ``torch.nn.init.orthogonal_``."""
    return _fill(tensor, "orthogonal", seed, name, rng, gain=gain)


def zeros_(tensor: "torch.Tensor", *, seed: int = 0, name: str = "") -> "torch.Tensor":
    """Fill ``tensor`` with 0, as ``torch.nn.init.zeros_`` (seed and name do not change the values)."""
    return _fill(tensor, "zeros", seed, name, "philox")


def ones_(tensor: "torch.Tensor", *, seed: int = 0, name: str = "") -> "torch.Tensor":
    """Fill ``tensor`` with 1, as ``torch.nn.init.ones_`` (seed and name do not change the values)."""
    return _fill(tensor, "ones", seed, name, "philox")


def constant_(tensor: "torch.Tensor", val: float, *, seed: int = 0, name: str = "") -> "torch.Tensor":
    """Fill ``tensor`` with ``val``, as ``torch.nn.init.constant_``."""
    return _fill(tensor, "constant", seed, name, "philox", value=val)


_CONV = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"}
_NORM = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}
_RNN = {"RNN", "GRU", "LSTM"}


def _describe(module: "torch.nn.Module") -> Optional[dict]:
    """The module as an entry of nninit's module list, or None when nninit does not replay it.

    Only the exact ``torch.nn`` classes count: a subclass may initialize differently.
    """
    kind = type(module).__name__
    if type(module).__module__.split(".")[:2] != ["torch", "nn"]:
        return None
    m = module
    if kind in ("Linear", "NonDynamicallyQuantizableLinear"):
        return {"type": "Linear", "in_features": m.in_features, "out_features": m.out_features,
                "bias": m.bias is not None}
    if kind in _CONV:
        return {"type": kind, "in_channels": m.in_channels, "out_channels": m.out_channels,
                "kernel_size": list(m.kernel_size), "groups": m.groups, "bias": m.bias is not None}
    if kind == "Bilinear":
        return {"type": kind, "in1_features": m.in1_features, "in2_features": m.in2_features,
                "out_features": m.out_features, "bias": m.bias is not None}
    if kind == "Embedding":
        entry = {"type": kind, "num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}
        if m.padding_idx is not None:
            entry["padding_idx"] = m.padding_idx
        return entry
    if kind == "LayerNorm":
        return {"type": kind, "normalized_shape": list(m.normalized_shape),
                "elementwise_affine": m.elementwise_affine, "bias": m.bias is not None or not m.elementwise_affine}
    if kind in _NORM:
        return {"type": kind, "num_features": m.num_features, "affine": m.affine,
                "track_running_stats": m.track_running_stats}
    if kind in _RNN:
        entry = {"type": kind, "input_size": m.input_size, "hidden_size": m.hidden_size,
                 "num_layers": m.num_layers, "bias": m.bias, "bidirectional": m.bidirectional}
        if kind == "LSTM":
            entry["proj_size"] = m.proj_size
        return entry
    if kind == "MultiheadAttention":
        return {"type": kind, "embed_dim": m.embed_dim, "num_heads": m.num_heads,
                "bias": m.in_proj_bias is not None, "add_bias_kv": m.bias_k is not None,
                "kdim": m.kdim, "vdim": m.vdim}
    return None


def reset_(module: "torch.nn.Module", *, seed: int, torch_kernel: str = "avx2") -> "torch.nn.Module":
    """Re-initialize ``module`` as ``torch.manual_seed(seed)`` followed by constructing it would.

    Afterwards ``module.state_dict()`` equals, bit for bit, the state dict of the same model built
    right after ``torch.manual_seed(seed)`` on the CPU (nninit replays PyTorch's generator and each
    module's ``reset_parameters``), without touching PyTorch's global generator. Modules are
    replayed in their registration order (``named_modules()``), which is their construction order
    in ordinary ``__init__`` code. Supported: ``Linear``, ``Conv1d/2d/3d``,
    ``ConvTranspose1d/2d/3d``, ``Bilinear``, ``Embedding``, ``LayerNorm``, ``BatchNorm1d/2d/3d``,
    ``RNN``, ``LSTM``, ``GRU``, ``MultiheadAttention``, and containers and modules without
    parameters of their own. Any other module holding parameters or buffers is refused by name
    (``ValueError``) before anything is changed. Parameters must be float32 or float64.
    """
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(module).__name__}")
    entries, covered, unsupported = [], [], []
    for prefix, m in module.named_modules():
        if any(prefix == c or prefix.startswith(c + ".") for c in covered):
            continue
        entry = _describe(m)
        if entry is not None:
            if prefix:
                entry["name"] = prefix
            entries.append(entry)
            covered.append(prefix)
        elif any(True for _ in m.parameters(recurse=False)) or any(True for _ in m.buffers(recurse=False)):
            unsupported.append(f"`{prefix or '(root)'}` ({type(m).__name__})")
    if unsupported:
        raise ValueError("nninit.torch.reset_ cannot replay these modules: " + ", ".join(unsupported))
    dtypes = {p.dtype for p in module.parameters()}
    if not dtypes:
        return module
    if len(dtypes) != 1 or next(iter(dtypes)) not in (torch.float32, torch.float64):
        raise ValueError(f"reset_ replays float32 or float64 parameters, not {sorted(map(str, dtypes))}")
    dtype = "f32" if next(iter(dtypes)) == torch.float32 else "f64"
    tensors = _native.torch_state_dict(json.dumps(entries), nninit._seed(seed), dtype, torch_kernel)
    targets = dict(module.named_parameters())
    targets.update(dict(module.named_buffers()))
    missing = [key for key, _, _ in tensors if key not in targets]
    if missing:
        raise ValueError(f"the model has no tensor named {', '.join(missing)} (a module registered twice?)")
    with torch.no_grad():
        for key, shape, values in tensors:
            target = targets[key]
            source = torch.from_numpy(values).reshape(shape)
            if tuple(target.shape) != tuple(source.shape):
                raise ValueError(f"`{key}` has shape {tuple(target.shape)}, the replay {tuple(source.shape)}")
            target.copy_(source)
    return module


_PLAN_DTYPES = {torch.float32: "f32", torch.float64: "f64", torch.float16: "f16", torch.bfloat16: "bf16"}


def apply_(model: "torch.nn.Module", scheme: str, *, seed: int, config: Optional[dict] = None) -> "torch.nn.Module":
    """Re-initialize every parameter of a Hugging Face model under an nninit scheme.

    The values are the bytes ``nninit materialize --config CONFIG --scheme SCHEME --seed SEED``
    writes for the model's config (``model.config``, or ``config`` as a dict), in the parameters'
    dtype, filled in place (CPU contiguous parameters through a numpy view, others through one
    host buffer). Tied parameters get their source's values. A parameter the plan does not know,
    or a planned tensor the model lacks, is refused by name (``ValueError``) before anything is
    changed.
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"expected a torch.nn.Module, got {type(model).__name__}")
    if config is None:
        if not hasattr(model, "config"):
            raise ValueError("the model has no .config: pass config= (the Hugging Face config as a dict)")
        config = model.config.to_dict()
        if not config.get("architectures"):
            config["architectures"] = [type(model).__name__]
    params = dict(model.named_parameters(remove_duplicate=False))
    dtypes = {p.dtype for p in params.values()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in _PLAN_DTYPES:
        raise ValueError(f"apply_ needs every parameter in one of float32, float64, float16, bfloat16: {dtypes}")
    plan = _native.ModelPlan(json.dumps(config), scheme, _PLAN_DTYPES[next(iter(dtypes))])
    planned = {name: (shape, tied) for name, shape, tied in plan.tensors()}
    unknown = [n for n in params if n not in planned]
    if unknown:
        raise ValueError(f"{len(unknown)} parameter(s) the {scheme} plan does not know: {', '.join(unknown)}")
    lacking = [n for n in planned if n not in params]
    if lacking:
        raise ValueError(f"the model lacks planned tensor(s): {', '.join(lacking)}")
    for name, (shape, _) in planned.items():
        if tuple(params[name].shape) != tuple(shape):
            raise ValueError(f"`{name}` has shape {tuple(params[name].shape)}, the plan {tuple(shape)}")
    seed = nninit._seed(seed)
    with torch.no_grad():
        for name, (shape, tied) in planned.items():
            if tied is not None:
                continue
            target = params[name]
            np_dtype = _DTYPES[target.dtype][1]
            if target.device.type == "cpu" and target.is_contiguous():
                data = target.detach()
                view = data.view(torch.int16).numpy().view(np.uint16) if np_dtype is np.uint16 else data.numpy()
                plan.fill(name, seed, view)
            else:
                host = np.empty(tuple(shape), dtype=np_dtype)
                plan.fill(name, seed, host)
                source = torch.from_numpy(host)
                if np_dtype is np.uint16:
                    source = source.view(torch.int16).view(torch.bfloat16)
                target.copy_(source)
        for name, (shape, tied) in planned.items():
            if tied is not None and params[name].data_ptr() != params[tied].data_ptr():
                params[name].copy_(params[tied])
    return model
