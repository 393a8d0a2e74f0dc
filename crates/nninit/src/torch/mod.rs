//! The `Torch` stream: PyTorch's CPU generator and `torch.nn.init`, bit for bit.
//!
//! [`TorchGenerator::new`]`(seed)` is the state `torch.manual_seed(seed)`
//! leaves PyTorch's CPU generator in, and the functions here draw from it
//! exactly as PyTorch's CPU kernels do. Filling the same shapes in the same
//! order therefore gives the same tensors as PyTorch, so a Rust port of a model
//! can start from the very weights its PyTorch original starts from:
//!
//! ```
//! use nninit::torch::{normal_, uniform_, TorchGenerator};
//!
//! // torch.manual_seed(42); a = torch.empty(100).normal_(); b = torch.empty(3).uniform_()
//! let mut g = TorchGenerator::new(42);
//! let mut a = vec![0.0f32; 100];
//! normal_(&mut g, &mut a, 0.0, 1.0)?;
//! let mut b = [0.0f32; 3];
//! uniform_(&mut g, &mut b, 0.0, 1.0)?;
//! assert_eq!(a[0], 1.9269153);
//! # Ok::<(), nninit::Error>(())
//! ```
//!
//! [`state_dict`] replays whole modules (`nn.Linear`, `nn.Conv2d`,
//! `nn.LSTM`, `nn.MultiheadAttention`, ...) from a JSON list and returns the
//! state dict PyTorch would have; see [`modules`].
//!
//! # What is bit-exact
//!
//! Checked against torch 2.15.0 (x86-64 wheel, GCC 13.3 build) by the
//! fixtures of `scripts/golden/torch_cpu.py`, for seeds 0, 42 and 2⁴⁰+3, sizes
//! 1 to 1,100,003, `f32` and `f64`, and both kernel flavours ([`TorchKernel`]):
//!
//! - the generator: MT19937 seeded from the seed's low 32 bits, `random()`,
//!   `random64()`;
//! - [`uniform_`] (24-bit `f32`, 53-bit `f64`, fused in the AVX2 flavour, the
//!   `== to` clamp);
//! - [`normal_`]: the 16-wide vectorised Box–Muller for 16 or more elements
//!   (with the tail redraw of the last 16; in the AVX2 flavour `avx_mathfun.h`'s
//!   `log256_ps`/`sincos256_ps` with the multiply-adds GCC fused), and the
//!   scalar path below 16 elements with its cached second normal, which
//!   persists across calls in the generator;
//! - [`trunc_normal_`] (the 2.12+ algorithm, both branches), [`kaiming_uniform_`],
//!   [`kaiming_normal_`], [`xavier_uniform_`], [`xavier_normal_`], [`sparse_`]
//!   and [`randperm`], [`constant_`], [`eye_`], [`dirac_`], with PyTorch's
//!   fans (`size(1)·∏size[2:]`, `size(0)·∏size[2:]`) and double-precision
//!   parameter math;
//! - whole default-initialised modules ([`state_dict`]).
//!
//! # What is not
//!
//! - [`orthogonal_`]: the Gaussians are exact, the QR is faer's rather than
//!   LAPACK's; values agree to about 1e-6 (tested to 1e-5).
//! - [`trunc_normal_`] with acceptance probability ≤ 0.3: PyTorch's vectorised
//!   `log_` is not glibc's `logf`; a decision could flip when `ln U` is within an
//!   ulp of the bound (never seen in the fixtures). Torch ≤ 2.11's
//!   `trunc_normal_` was a different algorithm.
//! - Other torch versions: the kernels are 2.15's (the `== to` clamp, the
//!   `fma` in the scalar `NormalFill16`, the 2.12+ `trunc_normal_`); where GCC
//!   fused multiply-adds is a property of the 2.15 wheel's build.
//! - Platforms: `f64` `normal_`, the scalar path, and the DEFAULT flavour's
//!   `f32` `normal_` call the C library's `log`, `log1p`, `sin`, `cos`, `logf`,
//!   `sinf`, `cosf` through Rust's `std` (the `libm` crate, a musl port, differs
//!   from glibc on up to 8 % of inputs). On Linux with glibc they are PyTorch's
//!   own; elsewhere an ulp may differ (`f64` tensors, and rarely `f32`). The
//!   AVX2 flavour's `f32` `normal_` and all of `uniform_` need only IEEE
//!   arithmetic and are exact on every platform. ARM/macOS wheels (no AVX2
//!   kernel, platform `logf`/`sinf`/`cosf`) are untested.
//! - GPU generators (Philox on CUDA), `bfloat16`/`float16` tensors, and
//!   non-contiguous tensors other than through the scalar path (fill chunks of
//!   fewer than 16 elements to reproduce a non-contiguous `normal_`).
//! - `leaky_relu` gains: computed with the C library's `pow` as CPython does,
//!   so exact with glibc.
//!
//! # Speed
//!
//! `normal_` on `f32` runs the AVX2-flavour arithmetic with hardware FMA when
//! the CPU has it (chosen at run time; the bits do not depend on it), as fast
//! as or faster than PyTorch's own single-threaded `normal_`.
//!
//! # Whole models
//!
//! [`state_dict`] builds the state dict of a list of modules; the order of
//! draws per module and the JSON format [`parse_modules`] reads are documented,
//! with an example, in [`modules`].

mod catalogue;
mod generator;
mod init;
mod kernels;
pub mod modules;
mod simd;

pub use catalogue::apply;
pub use generator::{TorchGenerator, TorchKernel};
pub use init::{
    TorchFloat, constant_, dirac_, eye_, kaiming_normal_, kaiming_uniform_, linear_bias_bound, normal_, ones_,
    orthogonal_, randperm, sparse_, sparse_with_generator_, trunc_normal_, uniform_, xavier_normal_, xavier_uniform_,
    zeros_,
};
pub use modules::{
    AttentionArgs, BatchNormArgs, BilinearArgs, ConvArgs, EmbeddingArgs, IntOrList, LayerNormArgs, LinearArgs, RnnArgs,
    StateValues, TorchDType, TorchModule, TorchTensor, parse_modules, state_dict, state_dict_from_json,
};
