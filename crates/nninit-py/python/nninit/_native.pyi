"""The native module (private: use the functions of ``nninit``)."""

from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np

__version__: str
SPECTRAL_ITERATIONS: int

def sample(rule: str, shape: Sequence[int], seed: int, name: str, dtype: str, layout: str, rng: str,
           torch_kernel: str, start: Optional[int], end: Optional[int], out: Optional[np.ndarray],
           params: Dict[str, str], param: Optional[float], fan: Optional[Tuple[int, int]],
           groups: int) -> np.ndarray:
    """Fill ``out`` (or a new array) as ``nninit sample`` does."""

def explain(rule: str, shape: Sequence[int], layout: str, params: Dict[str, str], param: Optional[float],
            fan: Optional[Tuple[int, int]], groups: int) -> str:
    """The JSON of ``nninit explain RULE --shape ... --json``."""

def explain_plan(config: Optional[str], preset: Optional[str], scheme: str, dtype: str) -> str:
    """The JSON of ``nninit explain --config/--preset ... --json``."""

def gain(activation: str, param: Optional[float]) -> str:
    """The JSON of ``nninit gain --json``."""

def theory(activation: str, param: Optional[float], sigma_w2: Optional[float], sigma_b2: float, q0: float,
           depth: int, recommend: bool, edge: bool, sigma_w2_max: float, sigma_b2_max: float) -> str:
    """The JSON of ``nninit theory --json``."""

def materialize(out: str, config: Optional[str], preset: Optional[str], scheme: str, seed: int, dtype: str,
                max_shard_size: str, rank: int, world_size: int, verify: bool, digest: str,
                progress: Optional[Callable[[int], Any]]) -> str:
    """The JSON of ``nninit materialize --json``."""

def doctor(path: str, config: Optional[str], expect: Optional[str], iterations: int) -> str:
    """The JSON of ``nninit doctor --json``."""
