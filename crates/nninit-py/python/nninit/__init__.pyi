"""Type stubs of nninit (see the docstrings in nninit/__init__.py)."""

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

__version__: str
__all__: list

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
    slice: Union[Tuple[Optional[int], Optional[int]], slice, None] = None,
    torch_kernel: str = "avx2",
    **params: Any,
) -> np.ndarray:
    """Draw one tensor, bit for bit what ``nninit sample`` writes with the same arguments."""

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
    """What a rule does to a tensor, or a whole model's plan: ``nninit explain --json``."""

def gain(activation: str, *, param: Optional[float] = None) -> Dict[str, Any]:
    """PyTorch's gain and the Gaussian-integral gains of an activation: ``nninit gain --json``."""

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
    """Mean-field signal propagation for one activation: ``nninit theory --json``."""

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
    """Initialize a whole model into sharded safetensors: ``nninit materialize --json``."""

def doctor(
    path: str,
    *,
    config: Optional[str] = None,
    expect: Optional[str] = None,
    iterations: int = 8,
) -> Dict[str, Any]:
    """Examine a checkpoint: ``nninit doctor --json``."""
