//! Initializers that build the whole tensor at once: orthogonal, identity-like
//! and sparse.
//!
//! They work in the tensor's [`MatrixView`] `[out, in · k]`, so they honour
//! every [`Layout`](crate::fan::Layout). A slice of such a tensor is cut from
//! the whole, which is computed (the values are still identical to the same
//! elements of the whole).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{self, Error, Result};
use crate::fan::MatrixView;
use crate::linalg;
use crate::spec::TensorSpec;
use crate::stream::{self, Philox, Stream, TorchCall};
use crate::tensor::Element;
use crate::torch::{self as nn, TorchFloat, TorchGenerator};

use super::explain::{Explanation, hadamard_row_sum};
use super::rule::{Equivalent, Initializer, doc_list, equivalent, fill_structured, no_torch};

// Each rule's counterparts, written once (see `elementwise.rs`).
macro_rules! orthogonal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`orthogonal_(w, gain)`", "`orthogonal(scale)`", "`Orthogonal(gain)`")
    };
}
macro_rules! eye_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`eye_(w)`", "—", "`Identity(gain=1)`")
    };
}
macro_rules! dirac_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`dirac_(w, groups)`", "—", "—")
    };
}
macro_rules! delta_orthogonal_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "`delta_orthogonal(scale)`", "—")
    };
}
macro_rules! sparse_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "`sparse_(w, sparsity, std)`", "—", "—")
    };
}
macro_rules! zero_equivalent {
    ($then:ident $(, $rule:literal)?) => {
        $then!($($rule,)? "—", "—", "—")
    };
}
pub(crate) use {
    delta_orthogonal_equivalent, dirac_equivalent, eye_equivalent, orthogonal_equivalent, sparse_equivalent,
    zero_equivalent,
};

fn unsupported(init: &'static str, spec: &TensorSpec, reason: impl Into<String>) -> Error {
    Error::UnsupportedShape { init, shape: spec.shape().dims().to_vec(), reason: reason.into() }
}

/// Writes `gain · Q` into `out`: `Q` is a `rows × cols` row-major Haar-random
/// matrix with orthonormal rows or columns (whichever are fewer), from the
/// tensor's normal stream.
///
/// `f32` and `f64` are drawn, orthonormalized and scaled in `out` itself (the QR's
/// workspace is the only other copy). `bf16` and `f16` are the `f32` result rounded, as
/// for every initializer (rounding `Q` before the gain would round twice).
fn haar<E: Element>(stream: &Philox, rows: usize, cols: usize, gain: f64, out: &mut [E]) {
    const MIN_LEN: usize = 1 << 14;
    if let Some(q) = E::as_f64_slice(out) {
        stream::par_fill(0, q, |offset, chunk| stream.normal_f64(offset, chunk, 0.0, 1.0));
        linalg::orthonormalize_f64(rows, cols, q);
        q.par_iter_mut().with_min_len(MIN_LEN).for_each(|v| *v *= gain);
    } else if let Some(q) = E::as_f32_slice(out) {
        stream::par_fill(0, q, |offset, chunk| stream.normal_f32(offset, chunk, 0.0, 1.0));
        linalg::orthonormalize_f32(rows, cols, q);
        q.par_iter_mut().with_min_len(MIN_LEN).for_each(|v| *v = f32::from_f64(f64::from(*v) * gain));
    } else {
        let mut q = vec![0.0f32; out.len()];
        haar(stream, rows, cols, gain, &mut q);
        out.par_iter_mut().zip(&q).with_min_len(MIN_LEN).for_each(|(o, &v)| *o = E::from_f32(v));
    }
}

/// [`haar`] into a new buffer, for outputs laid out otherwise than row-major.
fn haar_owned<E: Element>(stream: &Philox, rows: usize, cols: usize, gain: f64) -> Vec<E> {
    let mut q = vec![E::default(); rows * cols];
    haar(stream, rows, cols, gain, &mut q);
    q
}

/// (Semi-)orthogonal matrix from the Haar measure, scaled by a gain.
///
/// # Formula
/// View the tensor as `W = [out, in·k]`, draw `G` with i.i.d. `N(0, 1)`
/// entries of that shape (of its transpose when `out < in·k`), factor
/// `G = QR`, and set `W = gain · Q · diag(sign(diag R))`: `W Wᵀ = gain²·I`
/// when `out ≤ in·k`, else `Wᵀ W = gain²·I`. The sign correction makes `Q`
/// Haar-distributed (Mezzadri 2007).
///
/// # Parameters
/// - `gain > 0` finite (`√2` for ReLU nets, 1 for linear ones).
/// - Any tensor of rank ≥ 2; higher ranks are flattened as PyTorch does.
///
/// # Equivalent to
#[doc = orthogonal_equivalent!(doc_list)]
///
/// PyTorch flattens as [`Layout::Torch`](crate::fan::Layout::Torch) does;
/// `jax.nn.initializers.orthogonal(scale, column_axis=-1)` matches for
/// [`Layout::Jax`](crate::fan::Layout::Jax) up to a transpose, which leaves
/// the Haar measure unchanged. From a [`Philox`] stream the values are
/// nninit's; from a [`TorchStream`](crate::stream::TorchStream) they are
/// `orthogonal_`'s to about 1e-6 (the QR is faer's, not LAPACK's).
///
/// # Cost
/// The QR and the explicit `Q` take `8/3·n³` flops for an `n × n` matrix
/// (4096² `f32`: 1.7–2.0 s on two cores, 0.8× faer's own QR, BENCHMARKS.md). Memory: besides the
/// tensor, one working copy of it in `f32` (`f64` for `f64` tensors), and one
/// more copy for `bf16` and `f16` tensors and for layouts whose flattened
/// `[out, in·k]` is not row-major in memory.
///
/// # Example
/// ```
/// use nninit::{Shape, TensorSpec, stream::Philox};
/// use nninit::init::{Initializer, Orthogonal};
/// let spec = TensorSpec::new(Shape::new(vec![4, 8])?);
/// let mut w = vec![0.0f64; 32];
/// Orthogonal::new(1.0)?.fill(&spec, &Philox::new(0, "w"), &mut w)?;
/// // rows are orthonormal
/// let dot: f64 = (0..8).map(|j| w[j] * w[8 + j]).sum();
/// assert!(dot.abs() < 1e-12);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad gain; [`Error::RankTooSmall`] below rank 2.
///
/// # References
/// Saxe, McClelland & Ganguli (2014), *Exact solutions to the nonlinear
/// dynamics of learning in deep linear neural networks*, ICLR.
/// <https://arxiv.org/abs/1312.6120>; Mezzadri (2007), *How to generate
/// random matrices from the classical compact groups*, Notices AMS 54(5).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GainRaw", into = "GainRaw")]
pub struct Orthogonal {
    gain: f64,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GainRaw {
    #[serde(default = "unit_gain", alias = "scale")]
    gain: f64,
}

fn unit_gain() -> f64 {
    1.0
}

impl Orthogonal {
    /// Validates the gain.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `gain` is finite and > 0.
    pub fn new(gain: f64) -> Result<Self> {
        Ok(Self { gain: error::positive("gain", gain)? })
    }

    /// The gain.
    pub fn gain(&self) -> f64 {
        self.gain
    }

    pub(crate) fn generate<E: Element>(&self, spec: &TensorSpec, stream: &Philox, out: &mut [E]) -> Result<()> {
        let view = spec.matrix_view()?;
        let (rows, cols) = (view.rows(), view.cols());
        if view.is_row_major() {
            haar(stream, rows, cols, self.gain, out);
        } else {
            let q = haar_owned::<E>(stream, rows, cols, self.gain);
            for r in 0..rows {
                for c in 0..cols {
                    out[view.offset(r, c / view.taps(), c % view.taps())] = q[r * cols + c];
                }
            }
        }
        Ok(())
    }
}

impl TryFrom<GainRaw> for Orthogonal {
    type Error = Error;
    fn try_from(raw: GainRaw) -> Result<Self> {
        Self::new(raw.gain)
    }
}

impl From<Orthogonal> for GainRaw {
    fn from(o: Orthogonal) -> Self {
        Self { gain: o.gain }
    }
}

/// Delta-orthogonal convolution kernel: an orthogonal matrix at the centre
/// tap, zeros elsewhere, so a deep CNN starts as an isometry.
///
/// # Formula
/// For a kernel with `in ≤ out`: draw `H` (`in × out`, orthonormal rows) as
/// [`Orthogonal`] does; `w[o, i, centre] = gain · H[i, o]`, every other tap 0.
/// With circular padding the convolution's singular values all equal `gain`.
///
/// # Parameters
/// - `gain > 0` finite; a convolution kernel (rank 3 to 5) with `in ≤ out`.
///
/// # Equivalent to
#[doc = delta_orthogonal_equivalent!(doc_list)]
///
/// JAX's kernel is `[k…, in, out]` ([`Layout::Jax`](crate::fan::Layout::Jax));
/// TF's `ConvolutionDeltaOrthogonal` is the same rule. PyTorch has none. The
/// centre is `k // 2` along each spatial axis, as in TF.
///
/// # Example
/// ```
/// use nninit::{Shape, TensorSpec, stream::Philox};
/// use nninit::init::{DeltaOrthogonal, Initializer};
/// let spec = TensorSpec::new(Shape::new(vec![16, 8, 3, 3])?);
/// let mut w = vec![0.0f32; 16 * 8 * 9];
/// DeltaOrthogonal::new(1.0)?.fill(&spec, &Philox::new(0, "conv"), &mut w)?;
/// assert_eq!(w.iter().filter(|v| **v != 0.0).count(), 16 * 8); // centre taps only
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad gain; [`Error::UnsupportedShape`]
/// for rank < 3 or > 5, or `in > out`.
///
/// # References
/// Xiao, Bahri, Sohl-Dickstein, Schoenholz & Pennington (2018), *Dynamical
/// Isometry and a Mean Field Theory of CNNs: How to Train 10,000-Layer Vanilla
/// Convolutional Neural Networks*, ICML, Algorithm 2. <https://arxiv.org/abs/1806.05393>
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GainRaw", into = "GainRaw")]
pub struct DeltaOrthogonal {
    gain: f64,
}

impl DeltaOrthogonal {
    /// Validates the gain.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `gain` is finite and > 0.
    pub fn new(gain: f64) -> Result<Self> {
        Ok(Self { gain: error::positive("gain", gain)? })
    }

    /// The gain.
    pub fn gain(&self) -> f64 {
        self.gain
    }

    pub(crate) fn check(spec: &TensorSpec) -> Result<MatrixView> {
        if !(3..=5).contains(&spec.shape().rank()) {
            return Err(unsupported("delta_orthogonal", spec, "needs a convolution kernel of rank 3, 4 or 5"));
        }
        let view = spec.matrix_view()?;
        if view.inputs() > view.rows() {
            return Err(unsupported(
                "delta_orthogonal",
                spec,
                format!("needs in <= out channels, got in = {} > out = {}", view.inputs(), view.rows()),
            ));
        }
        Ok(view)
    }

    pub(crate) fn generate<E: Element>(&self, spec: &TensorSpec, stream: &Philox, out: &mut [E]) -> Result<()> {
        let view = Self::check(spec)?;
        let (inputs, rows) = (view.inputs(), view.rows());
        let h = haar_owned::<E>(stream, inputs, rows, self.gain);
        out.iter_mut().for_each(|x| *x = E::default());
        let centre = view.centre_tap();
        for o in 0..rows {
            for i in 0..inputs {
                out[view.offset(o, i, centre)] = h[i * rows + o];
            }
        }
        Ok(())
    }
}

impl TryFrom<GainRaw> for DeltaOrthogonal {
    type Error = Error;
    fn try_from(raw: GainRaw) -> Result<Self> {
        Self::new(raw.gain)
    }
}

impl From<DeltaOrthogonal> for GainRaw {
    fn from(o: DeltaOrthogonal) -> Self {
        Self { gain: o.gain }
    }
}

/// Dirac delta kernel: a convolution that passes its input through unchanged
/// (per group, on the first `min(out/groups, in)` channels).
///
/// # Formula
/// `w[g·(out/groups) + d, d, centre] = 1` for each group `g` and
/// `d < min(out/groups, in/groups)`; every other entry 0.
///
/// # Parameters
/// - `groups ≥ 1`, dividing the output channels; a kernel of rank 3, 4 or 5.
///
/// # Equivalent to
#[doc = dirac_equivalent!(doc_list)]
///
/// Works in every layout (PyTorch's only in its own).
///
/// # Example
/// ```
/// use nninit::{Shape, TensorSpec, stream::Philox};
/// use nninit::init::{Dirac, Initializer};
/// let spec = TensorSpec::new(Shape::new(vec![4, 4, 3])?);
/// let mut w = vec![0.0f32; 48];
/// Dirac::new(1)?.fill(&spec, &Philox::new(0, "conv"), &mut w)?;
/// assert_eq!(w[0 * 12 + 0 * 3 + 1], 1.0);
/// assert_eq!(w.iter().sum::<f32>(), 4.0);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for `groups = 0`; [`Error::UnsupportedShape`]
/// for other ranks or groups that do not divide the output channels.
///
/// # References
/// Zagoruyko & Komodakis (2017), *DiracNets: Training Very Deep Neural
/// Networks Without Skip-Connections*. <https://arxiv.org/abs/1706.00388>
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "GroupsRaw", into = "GroupsRaw")]
pub struct Dirac {
    groups: usize,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsRaw {
    #[serde(default = "unit_groups")]
    groups: usize,
}

fn unit_groups() -> usize {
    1
}

impl Dirac {
    /// Validates the number of groups.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `groups = 0`.
    pub fn new(groups: usize) -> Result<Self> {
        if groups == 0 {
            return Err(Error::InvalidParameter { name: "groups", value: 0.0, expected: ">= 1" });
        }
        Ok(Self { groups })
    }

    /// The number of groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    pub(crate) fn check(&self, spec: &TensorSpec) -> Result<MatrixView> {
        if !(3..=5).contains(&spec.shape().rank()) {
            return Err(unsupported("dirac", spec, "needs a convolution kernel of rank 3, 4 or 5"));
        }
        let view = spec.matrix_view()?;
        if view.rows() % self.groups != 0 {
            return Err(unsupported(
                "dirac",
                spec,
                format!("groups = {} does not divide the {} output channels", self.groups, view.rows()),
            ));
        }
        Ok(view)
    }

    pub(crate) fn generate<E: Element>(&self, spec: &TensorSpec, out: &mut [E]) -> Result<()> {
        let view = self.check(spec)?;
        out.iter_mut().for_each(|x| *x = E::default());
        let per_group = view.rows() / self.groups;
        let centre = view.centre_tap();
        for g in 0..self.groups {
            for d in 0..per_group.min(view.inputs()) {
                out[view.offset(g * per_group + d, d, centre)] = E::from_f64(1.0);
            }
        }
        Ok(())
    }
}

impl TryFrom<GroupsRaw> for Dirac {
    type Error = Error;
    fn try_from(raw: GroupsRaw) -> Result<Self> {
        Self::new(raw.groups)
    }
}

impl From<Dirac> for GroupsRaw {
    fn from(d: Dirac) -> Self {
        Self { groups: d.groups }
    }
}

/// Identity matrix: ones on the diagonal of a 2-D weight, zeros elsewhere, so
/// a square linear layer starts as the identity map.
///
/// # Formula
/// `w[o, i] = 1 if o == i else 0` for the weight `[out, in]` (in its
/// [`MatrixView`], so every layout); a rectangular matrix gets the partial
/// identity `I[out × in]`, whose `min(out, in)` singular values are all 1.
/// Mean `min(out, in) / (out · in)`, RMS `√(min(out, in) / (out · in))`.
///
/// # Parameters
/// None; a 2-D tensor (as both PyTorch and Keras require).
///
/// # Equivalent to
#[doc = eye_equivalent!(doc_list)]
///
/// Keras's `Identity(gain)` multiplies by `gain`; this is gain 1. JAX ships
/// no identity initializer; for a random isometry use [`Orthogonal`]. No
/// randomness: every seed gives the same tensor.
///
/// # Example
/// ```
/// use nninit::init::{Eye, Initializer};
/// use nninit::{Init, Shape, TensorSpec, stream::Philox};
/// let spec = TensorSpec::new(Shape::new(vec![2, 3])?);
/// let mut w = vec![0.0f32; 6];
/// Eye.fill(&spec, &Philox::new(0, "w"), &mut w)?;
/// assert_eq!(w, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
/// assert_eq!(Init::Eye.explain(&spec)?.std, Some((2.0f64 / 6.0).sqrt()));
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::UnsupportedShape`] for a tensor that is not 2-D.
///
/// # References
/// Le, Jaitly & Hinton (2015), *A Simple Way to Initialize Recurrent Networks
/// of Rectified Linear Units* (identity recurrent weights, IRNN).
/// <https://arxiv.org/abs/1504.00941>; Saxe, McClelland & Ganguli (2014)
/// (see [`Orthogonal`]) on why an isometry at initialization keeps deep linear
/// networks trainable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Eye;

impl Eye {
    fn check(spec: &TensorSpec) -> Result<MatrixView> {
        if spec.shape().rank() != 2 {
            return Err(unsupported("eye", spec, "needs a 2-D matrix"));
        }
        spec.matrix_view()
    }

    fn generate<E: Element>(spec: &TensorSpec, out: &mut [E]) -> Result<()> {
        let view = Self::check(spec)?;
        out.iter_mut().for_each(|x| *x = E::default());
        for d in 0..view.rows().min(view.inputs()) {
            out[view.offset(d, d, 0)] = E::from_f64(1.0);
        }
        Ok(())
    }
}

/// Sparse initialization: normal values with a fixed fraction of each
/// column set to zero.
///
/// # Formula
/// `w ~ N(0, std²)`, then in each column (input unit) of the 2-D weight
/// `[out, in]`, `⌈sparsity · out⌉` entries chosen uniformly at random are set
/// to 0. The choice is a partial Fisher–Yates shuffle driven by the
/// sub-stream `name\0sparse_mask` (see [`Philox::derive`]): for column `c`
/// and step `t`, `j = t + uniform_below(c·out + t, out − t)`.
///
/// # Parameters
/// - `sparsity ∈ [0, 1]`, `std ≥ 0` finite (PyTorch's default 0.01).
///
/// # Equivalent to
#[doc = sparse_equivalent!(doc_list)]
///
/// 2-D only, as PyTorch. nninit's mask is its own (above); PyTorch's
/// generator gives PyTorch's ([`TorchStream`](crate::stream::TorchStream)).
///
/// # Example
/// ```
/// use nninit::{Shape, TensorSpec, stream::Philox};
/// use nninit::init::{Initializer, Sparse};
/// let spec = TensorSpec::new(Shape::new(vec![10, 4])?);
/// let mut w = vec![0.0f32; 40];
/// Sparse::new(0.3, 0.01)?.fill(&spec, &Philox::new(0, "w"), &mut w)?;
/// assert_eq!(w.iter().filter(|v| **v == 0.0).count(), 4 * 3);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for sparsity outside `[0, 1]` or a bad std;
/// [`Error::UnsupportedShape`] for a tensor that is not 2-D.
///
/// # References
/// Martens (2010), *Deep learning via Hessian-free optimization*, ICML, section 5.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SparseRaw", into = "SparseRaw")]
pub struct Sparse {
    sparsity: f64,
    std: f64,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SparseRaw {
    sparsity: f64,
    #[serde(default = "sparse_std")]
    std: f64,
}

fn sparse_std() -> f64 {
    0.01
}

impl Sparse {
    /// Validates the parameters.
    ///
    /// # Errors
    /// See the type's documentation.
    pub fn new(sparsity: f64, std: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&sparsity) {
            return Err(Error::InvalidParameter { name: "sparsity", value: sparsity, expected: "in [0, 1]" });
        }
        Ok(Self { sparsity, std: error::finite_spread("std", 0.0, error::non_negative("std", std)?)? })
    }

    /// The fraction of each column set to zero.
    pub fn sparsity(&self) -> f64 {
        self.sparsity
    }

    /// The std of the non-zero entries.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// The number of zeros per column of a matrix with `rows` rows.
    pub fn zeros_per_column(&self, rows: usize) -> usize {
        (self.sparsity * rows as f64).ceil() as usize
    }

    pub(crate) fn check(spec: &TensorSpec) -> Result<MatrixView> {
        if spec.shape().rank() != 2 {
            return Err(unsupported("sparse", spec, "needs a 2-D matrix"));
        }
        spec.matrix_view()
    }

    pub(crate) fn generate<E: Element>(&self, spec: &TensorSpec, stream: &Philox, out: &mut [E]) -> Result<()> {
        let view = Self::check(spec)?;
        super::sample::Sampler::Normal { mean: 0.0, std: self.std }.fill(stream, 0, out);
        let mask = stream.derive("sparse_mask");
        let rows = view.rows();
        let zeros = self.zeros_per_column(rows);
        let mut perm: Vec<usize> = Vec::with_capacity(rows);
        for c in 0..view.inputs() {
            perm.clear();
            perm.extend(0..rows);
            for &row in mask.partial_shuffle(c as u64, &mut perm, zeros).iter() {
                out[view.offset(row, c, 0)] = E::default();
            }
        }
        Ok(())
    }
}

impl TryFrom<SparseRaw> for Sparse {
    type Error = Error;
    fn try_from(raw: SparseRaw) -> Result<Self> {
        Self::new(raw.sparsity, raw.std)
    }
}

impl From<Sparse> for SparseRaw {
    fn from(s: Sparse) -> Self {
        Self { sparsity: s.sparsity, std: s.std }
    }
}

/// `2^(−c/2)`, correctly rounded: a power of two, times √2 when `c` is odd.
pub(crate) fn hadamard_scale(c: u32) -> f64 {
    let half = -((c as i32 + 1) / 2);
    let power = 2f64.powi(half);
    if c.is_multiple_of(2) { power } else { power * std::f64::consts::SQRT_2 }
}

/// ZerO: deterministic initialization from identities and Hadamard matrices,
/// with only zeros and ones (up to one scale) and no randomness.
///
/// # Formula
/// For the matrix `[m = out, n = in]` (a convolution uses its centre tap,
/// every other tap 0):
/// - `m ≤ n`: the partial identity, `w[i, j] = 1 if i == j`;
/// - `m > n`: `w = I_{m×p} · H_p / 2^{c/2} · I_{p×n}` with `c = ⌈log₂ m⌉`,
///   `p = 2^c` and `H_p` the Sylvester–Hadamard matrix, i.e.
///   `w[i, j] = (−1)^{popcount(i & j)} / 2^{c/2}`.
///
/// The Hadamard transform spreads an `n`-dimensional input over all `m > n`
/// outputs (a partial identity would leave `m − n` of them at zero, the
/// "training degeneracy" the paper removes). When `m` is a power of two
/// (`m = p`) the columns are orthonormal, `wᵀ w = I`; otherwise `w` keeps the
/// first `m` rows of `H_p / 2^{c/2}` and its columns are only nearly so.
/// Every seed gives the same tensor.
///
/// # Parameters
/// None; a tensor of rank ≥ 2.
///
/// # Equivalent to
#[doc = zero_equivalent!(doc_list)]
///
/// The reference is the paper's own code (`jiaweizzhao/ZerO-initialization`);
/// neither PyTorch, JAX nor Keras ships it. The paper also zeroes the last
/// layer of each residual branch, a scheme-level choice (use
/// [`Init::Zeros`](super::Init::Zeros) there; [`crate::scheme`]'s `zero` scheme does).
///
/// # Example
/// ```
/// use nninit::init::{Initializer, ZerO};
/// use nninit::{Shape, TensorSpec, stream::Philox};
/// // out = 4 > in = 2: the first two columns of H₄ / 2.
/// let spec = TensorSpec::new(Shape::new(vec![4, 2])?);
/// let mut w = vec![0.0f64; 8];
/// ZerO.fill(&spec, &Philox::new(0, "w"), &mut w)?;
/// assert_eq!(w, [0.5, 0.5, 0.5, -0.5, 0.5, 0.5, 0.5, -0.5]);
/// # Ok::<(), nninit::Error>(())
/// ```
///
/// # Errors
/// [`Error::RankTooSmall`] below rank 2.
///
/// # References
/// Zhao, Schäfer & Anandkumar (2022), *ZerO Initialization: Initializing
/// Neural Networks with only Zeros and Ones*, TMLR. <https://arxiv.org/abs/2110.12661>
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZerO;

impl ZerO {
    fn generate<E: Element>(spec: &TensorSpec, out: &mut [E]) -> Result<()> {
        let view = spec.matrix_view()?;
        let (m, n) = (view.rows(), view.inputs());
        out.iter_mut().for_each(|x| *x = E::default());
        let tap = view.centre_tap();
        if m <= n {
            for d in 0..m {
                out[view.offset(d, d, tap)] = E::from_f64(1.0);
            }
        } else {
            let c = usize::BITS - (m - 1).leading_zeros();
            let scale = hadamard_scale(c);
            for i in 0..m {
                for j in 0..n {
                    let sign = if (i & j).count_ones() % 2 == 0 { 1.0 } else { -1.0 };
                    out[view.offset(i, j, tap)] = E::from_f64(sign * scale);
                }
            }
        }
        Ok(())
    }
}

impl Initializer for Orthogonal {
    fn name(&self) -> &'static str {
        "orthogonal"
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_structured(self, spec, stream, start, out, |p, whole| self.generate(spec, p, whole))
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let view = spec.matrix_view()?;
        let (r, c) = (view.rows(), view.cols());
        x.formula = format!(
            "W = gain · Q · sign(diag R) with G = QR, G ~ N(0,1) of shape [{r}, {c}]; {} = gain²·I; RMS = gain / √max(rows, cols)",
            if r <= c { "W·Wᵀ" } else { "Wᵀ·W" }
        );
        x.gain = Some(self.gain);
        x.std = Some(self.gain / (r.max(c) as f64).sqrt());
        x.bound = Some(self.gain);
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        orthogonal_equivalent!(equivalent)
    }
}

impl TorchCall for Orthogonal {
    fn call<T: TorchFloat>(&self, g: &mut TorchGenerator, spec: &TensorSpec, out: &mut [T]) -> Result<()> {
        nn::orthogonal_(g, out, spec.shape(), self.gain)
    }
}

impl Initializer for DeltaOrthogonal {
    fn name(&self) -> &'static str {
        "delta_orthogonal"
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_structured(self, spec, stream, start, out, |p, whole| self.generate(spec, p, whole))
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let view = Self::check(spec)?;
        x.formula = format!(
            "w[o, i, centre] = gain · H[i, o], H: [{}, {}] with orthonormal rows; other taps 0",
            view.inputs(),
            view.rows()
        );
        x.gain = Some(self.gain);
        x.std = Some(deterministic_rms(spec, view.inputs() as f64, self.gain));
        x.bound = Some(self.gain);
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        delta_orthogonal_equivalent!(equivalent)
    }
}

impl TorchCall for DeltaOrthogonal {
    fn call<T: TorchFloat>(&self, _: &mut TorchGenerator, _: &TensorSpec, _: &mut [T]) -> Result<()> {
        Err(no_torch(self))
    }
}

impl Initializer for Dirac {
    fn name(&self) -> &'static str {
        "dirac"
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_structured(self, spec, stream, start, out, |_, whole| self.generate(spec, whole))
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let view = self.check(spec)?;
        let n = (self.groups * (view.rows() / self.groups).min(view.inputs())) as f64;
        x.formula = format!("w[g·out/groups + d, d, centre] = 1 for d < min(out/groups, in), groups = {}", self.groups);
        (x.mean, x.std, x.bound) = (Some(n / spec.numel() as f64), Some(deterministic_rms(spec, n, 1.0)), Some(1.0));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        dirac_equivalent!(equivalent)
    }
}

impl TorchCall for Dirac {
    fn call<T: TorchFloat>(&self, _: &mut TorchGenerator, spec: &TensorSpec, out: &mut [T]) -> Result<()> {
        nn::dirac_(out, spec.shape(), self.groups)
    }
}

impl Initializer for Eye {
    fn name(&self) -> &'static str {
        "eye"
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_structured(self, spec, stream, start, out, |_, whole| Self::generate(spec, whole))
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let view = Self::check(spec)?;
        let n = view.rows().min(view.inputs()) as f64;
        x.formula = "w[o, i] = 1 if o == i else 0".into();
        (x.mean, x.std, x.bound) = (Some(n / spec.numel() as f64), Some(deterministic_rms(spec, n, 1.0)), Some(1.0));
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        eye_equivalent!(equivalent)
    }
}

impl TorchCall for Eye {
    fn call<T: TorchFloat>(&self, _: &mut TorchGenerator, spec: &TensorSpec, out: &mut [T]) -> Result<()> {
        nn::eye_(out, spec.shape())
    }
}

impl Initializer for Sparse {
    fn name(&self) -> &'static str {
        "sparse"
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_structured(self, spec, stream, start, out, |p, whole| self.generate(spec, p, whole))
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let view = Self::check(spec)?;
        let zeros = self.zeros_per_column(view.rows());
        x.formula = format!(
            "w ~ N(0, {}²), then {zeros} of {} entries per column set to 0 (⌈sparsity · rows⌉)",
            self.std,
            view.rows()
        );
        let kept = (view.rows() - zeros) as f64 / view.rows() as f64;
        x.std = Some(self.std * kept.sqrt());
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        sparse_equivalent!(equivalent)
    }
}

impl TorchCall for Sparse {
    fn call<T: TorchFloat>(&self, g: &mut TorchGenerator, spec: &TensorSpec, out: &mut [T]) -> Result<()> {
        nn::sparse_(g, out, spec.shape(), self.sparsity, self.std)
    }
}

impl Initializer for ZerO {
    fn name(&self) -> &'static str {
        "zero"
    }
    fn fill_slice<E: Element, S: Stream + ?Sized>(
        &self,
        spec: &TensorSpec,
        stream: &S,
        start: u64,
        out: &mut [E],
    ) -> Result<()> {
        fill_structured(self, spec, stream, start, out, |_, whole| Self::generate(spec, whole))
    }
    fn explain(&self, spec: &TensorSpec) -> Result<Explanation> {
        let (mut x, _) = Explanation::start(self, spec)?;
        let view = spec.matrix_view()?;
        let (m, n) = (view.rows(), view.inputs());
        let numel = spec.numel() as f64;
        if m <= n {
            x.formula = format!("partial identity [{m}, {n}] at the centre tap");
            (x.mean, x.std, x.bound) =
                (Some(m as f64 / numel), Some(deterministic_rms(spec, m as f64, 1.0)), Some(1.0));
        } else {
            let c = usize::BITS - (m - 1).leading_zeros();
            let scale = hadamard_scale(c);
            x.formula = format!("w = I[{m}×{p}] · H_{p} / 2^({c}/2) · I[{p}×{n}], H Sylvester–Hadamard", p = 1u64 << c);
            let sum: i64 = (0..m).map(|i| hadamard_row_sum(i, n)).sum();
            x.mean = Some(sum as f64 * scale / numel);
            x.std = Some(deterministic_rms(spec, (m * n) as f64, scale));
            x.bound = Some(scale);
        }
        Ok(x)
    }
    fn equivalent(&self) -> Equivalent {
        zero_equivalent!(equivalent)
    }
}

impl TorchCall for ZerO {
    fn call<T: TorchFloat>(&self, _: &mut TorchGenerator, _: &TensorSpec, _: &mut [T]) -> Result<()> {
        Err(no_torch(self))
    }
}

/// The RMS of a tensor with `nonzeros` entries equal to `±value` and zeros elsewhere.
fn deterministic_rms(spec: &TensorSpec, nonzeros: f64, value: f64) -> f64 {
    value * (nonzeros / spec.numel() as f64).sqrt()
}
