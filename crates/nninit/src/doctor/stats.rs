//! Per-tensor statistics and the spectral measurements, computed in
//! parallel (rayon) straight from a checkpoint's little-endian bytes.

use rayon::prelude::*;
use serde::Serialize;

use crate::init::{Init, Normal};
use crate::io::StoredDType;
use crate::spec::TensorSpec;
use crate::stats::Moments;
use crate::stream::Philox;
use crate::tensor::Shape;

/// Elements decoded at a time (fits in L1 as `f32`).
const BLOCK: usize = 4096;

/// The seed of the Lanczos recurrence's Gaussian start vectors. It must differ
/// from the seeds checkpoints are made with: a start equal to the tensor's own
/// first row (seed 0 and the tensor's name, as `nninit materialize --seed 0`
/// draws it) would bias the probe.
const PROBE_SEED: u64 = 0x646f_6374_6f72_2121;

/// The fewest rows per parallel piece of a spectral pass.
const ROWS_PER_TASK: usize = 16;

/// Summary statistics of a floating-point tensor. Mean, std, kurtosis and
/// the outlier fraction are over the finite values; `std` is the population
/// standard deviation (divided by n).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Stats {
    /// Number of finite values.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Number of NaN values.
    pub nan: u64,
    /// Number of ±∞ values.
    pub inf: u64,
    /// Fraction of finite values more than 6 std from the mean.
    pub beyond_6_std: f64,
    /// Excess kurtosis `m₄/m₂² − 3` (0 for a normal, −1.2 for a uniform); 0 when std is 0.
    pub excess_kurtosis: f64,
    /// Root mean square `√(mean² + std²)`.
    pub rms: f64,
    /// Number of values exactly ±0.
    pub zeros: u64,
    /// Number of subnormal values of the stored type (non-zero, below its
    /// smallest normal: 2⁻¹²⁶ for f32 and bf16, 2⁻¹⁴ for f16).
    pub subnormal: u64,
    /// Index (row-major) of the first NaN.
    pub first_nan: Option<u64>,
    /// Index of the first ±∞.
    pub first_inf: Option<u64>,
    /// Index of the first subnormal value.
    pub first_subnormal: Option<u64>,
    /// Index of the first exact zero.
    pub first_zero: Option<u64>,
}

/// The smallest positive normal value of a stored float type, as `f32`
/// (values are decoded to `f32`; f64 values below f32's range are f32's concern).
pub(crate) fn min_normal(dtype: StoredDType) -> f32 {
    match dtype {
        StoredDType::F16 => half::f16::MIN_POSITIVE.to_f32(),
        _ => f32::MIN_POSITIVE,
    }
}

/// The smallest positive subnormal value of a stored float type.
pub(crate) fn min_subnormal(dtype: StoredDType) -> f64 {
    match dtype {
        StoredDType::F16 => 2f64.powi(-24),
        StoredDType::BF16 => 2f64.powi(-133),
        StoredDType::F64 => 2f64.powi(-1074),
        _ => 2f64.powi(-149),
    }
}

/// Decodes `bytes` (elements of `dtype`, little-endian) into `out`.
///
/// # Panics
/// If `bytes.len() != out.len() · dtype.size()` or `dtype` is not a float
/// type (internal invariants: callers pass whole elements of float tensors).
fn decode(dtype: StoredDType, bytes: &[u8], out: &mut [f32]) {
    assert_eq!(bytes.len(), out.len() * dtype.size(), "whole elements");
    match dtype {
        StoredDType::F32 => {
            for (x, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        StoredDType::BF16 => {
            for (x, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *x = f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16);
            }
        }
        StoredDType::F16 => {
            for (x, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *x = half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
            }
        }
        StoredDType::F64 => {
            for (x, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                *x = f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32;
            }
        }
        other => panic!("{} is not a float type", other.name()),
    }
}

/// The bytes as `f32` values without a copy, when they are `f32` and 4-byte aligned.
fn as_f32(dtype: StoredDType, bytes: &[u8]) -> Option<&[f32]> {
    (dtype == StoredDType::F32 && cfg!(target_endian = "little")).then(|| bytemuck::try_cast_slice(bytes).ok())?
}

/// First pass: counts, extremes and the moments of the finite values.
#[derive(Clone, Copy)]
struct First {
    moments: Moments,
    min: f32,
    max: f32,
    nan: u64,
    inf: u64,
    zeros: u64,
    subnormal: u64,
    first_nan: Option<u64>,
    first_inf: Option<u64>,
    first_subnormal: Option<u64>,
    first_zero: Option<u64>,
}

/// The earlier of two first indices.
fn first_of(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl First {
    const EMPTY: Self = Self {
        moments: Moments::EMPTY,
        min: f32::INFINITY,
        max: f32::NEG_INFINITY,
        nan: 0,
        inf: 0,
        zeros: 0,
        subnormal: 0,
        first_nan: None,
        first_inf: None,
        first_subnormal: None,
        first_zero: None,
    };

    fn merge(self, o: Self) -> Self {
        Self {
            moments: self.moments.merge(o.moments),
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            nan: self.nan + o.nan,
            inf: self.inf + o.inf,
            zeros: self.zeros + o.zeros,
            subnormal: self.subnormal + o.subnormal,
            first_nan: first_of(self.first_nan, o.first_nan),
            first_inf: first_of(self.first_inf, o.first_inf),
            first_subnormal: first_of(self.first_subnormal, o.first_subnormal),
            first_zero: first_of(self.first_zero, o.first_zero),
        }
    }

    /// The rare values of a block (NaN, ∞, zeros, subnormals): counts and
    /// first indices, `offset` being the block's first index.
    fn rare(&mut self, xs: &[f32], offset: u64, tiny: f32) {
        for (i, &x) in xs.iter().enumerate() {
            let at = Some(offset + i as u64);
            if x.is_nan() {
                self.nan += 1;
                self.first_nan = self.first_nan.or(at);
            } else if x.is_infinite() {
                self.inf += 1;
                self.first_inf = self.first_inf.or(at);
            } else if x == 0.0 {
                self.zeros += 1;
                self.first_zero = self.first_zero.or(at);
            } else if x.abs() < tiny {
                self.subnormal += 1;
                self.first_subnormal = self.first_subnormal.or(at);
            }
        }
    }

    /// One block (at most [`BLOCK`] values, in L1): its sum in `f32` lanes
    /// (each lane adds at most 512 values: relative error ~10⁻⁶, far below
    /// the sampling error the tests allow), then its central sums around its
    /// own mean, also in lanes; blocks merge in `f64` ([`Moments::merge`]).
    /// `offset` is the block's first index; `tiny` the stored type's smallest normal.
    fn block(xs: &[f32], offset: u64, tiny: f32) -> Self {
        let FirstLanes { sum: mut s, mut min, mut max, mut bad, mut small } = first_lanes(xs, tiny);
        for &x in xs.chunks_exact(8).remainder() {
            bad |= !x.is_finite();
            small |= x.abs() < tiny;
            s[0] += x;
            min[0] = min[0].min(x);
            max[0] = max[0].max(x);
        }
        if bad {
            // Rare: a block with NaN or ∞; count them and keep the finite values.
            let mut out = Self::EMPTY;
            out.rare(xs, offset, tiny);
            for &x in xs.iter().filter(|x| x.is_finite()) {
                out.moments.push(f64::from(x));
                out.min = out.min.min(x);
                out.max = out.max.max(x);
            }
            return out;
        }
        let n = xs.len();
        if n == 0 {
            return Self::EMPTY;
        }
        let mean = s.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let m = mean as f32;
        let [mut m2, mut m3, mut m4] = central_lanes(xs, m);
        for &x in xs.chunks_exact(8).remainder() {
            let d = x - m;
            m2[0] += d * d;
            m3[0] += d * d * d;
            m4[0] += d * d * d * d;
        }
        let sum = |v: [f32; 8]| v.iter().map(|&x| f64::from(x)).sum::<f64>();
        // Centred on the f32-rounded mean: shift the sums to the f64 mean (exact identities).
        let e = f64::from(m) - mean;
        let (c2, c3, c4) = (sum(m2), sum(m3), sum(m4));
        let c1 = -e * n as f64; // Σ(x − m) = Σ(x − mean) − n·e = −n·e
        let nn = n as f64;
        let m2 = c2 + 2.0 * e * c1 + nn * e * e;
        let m3 = c3 + 3.0 * e * c2 + 3.0 * e * e * c1 + nn * e * e * e;
        let m4 = c4 + 4.0 * e * c3 + 6.0 * e * e * c2 + 4.0 * e * e * e * c1 + nn * e * e * e * e;
        let mut out = Self {
            moments: Moments::from_central_sums(n as u64, mean, m2, m3, m4),
            min: min.iter().fold(f32::INFINITY, |a, &b| a.min(b)),
            max: max.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)),
            ..Self::EMPTY
        };
        if small {
            out.rare(xs, offset, tiny);
        }
        out
    }
}

/// The lanes of the first pass over the chunks of eight of `xs`: sums, extremes, and
/// whether any value is NaN/±∞ or below `tiny` in magnitude.
pub(super) struct FirstLanes {
    pub(super) sum: [f32; 8],
    pub(super) min: [f32; 8],
    pub(super) max: [f32; 8],
    pub(super) bad: bool,
    pub(super) small: bool,
}

/// [`FirstLanes`] of `xs`, with AVX2 where the CPU has it (the same bits).
fn first_lanes(xs: &[f32], tiny: f32) -> FirstLanes {
    #[cfg(target_arch = "x86_64")]
    if let Some(([sum, min, max], bad, small)) = super::simd::first_lanes(xs, tiny) {
        return FirstLanes { sum, min, max, bad, small };
    }
    first_lanes_portable(xs, tiny)
}

/// The portable build of [`first_lanes`].
pub(super) fn first_lanes_portable(xs: &[f32], tiny: f32) -> FirstLanes {
    let mut out =
        FirstLanes { sum: [0.0; 8], min: [f32::INFINITY; 8], max: [f32::NEG_INFINITY; 8], bad: false, small: false };
    for c in xs.chunks_exact(8) {
        for (k, &x) in c.iter().enumerate() {
            out.bad |= x.to_bits() & 0x7f80_0000 == 0x7f80_0000;
            out.small |= x.abs() < tiny;
            out.sum[k] += x;
            out.min[k] = if x < out.min[k] { x } else { out.min[k] };
            out.max[k] = if x > out.max[k] { x } else { out.max[k] };
        }
    }
    out
}

/// The lanes of `Σd²`, `Σd³`, `Σd⁴` for `d = x − m` over the chunks of eight of `xs`,
/// with AVX2 where the CPU has it (the same bits).
fn central_lanes(xs: &[f32], m: f32) -> [[f32; 8]; 3] {
    #[cfg(target_arch = "x86_64")]
    if let Some(l) = super::simd::central_lanes(xs, m) {
        return l;
    }
    central_lanes_portable(xs, m)
}

/// The portable build of [`central_lanes`].
pub(super) fn central_lanes_portable(xs: &[f32], m: f32) -> [[f32; 8]; 3] {
    let (mut m2, mut m3, mut m4) = ([0.0f32; 8], [0.0f32; 8], [0.0f32; 8]);
    for c in xs.chunks_exact(8) {
        for k in 0..8 {
            let d = c[k] - m;
            let d2 = d * d;
            m2[k] += d2;
            m3[k] += d2 * d;
            m4[k] += d2 * d2;
        }
    }
    [m2, m3, m4]
}

/// The lanes of the count of finite values with `(x − mean)² > limit2` over the chunks
/// of eight of `xs`, with AVX2 where the CPU has it (the same counts).
fn beyond_lanes(xs: &[f32], mean: f32, limit2: f32) -> [u32; 8] {
    #[cfg(target_arch = "x86_64")]
    if let Some(l) = super::simd::beyond_lanes(xs, mean, limit2) {
        return l;
    }
    beyond_lanes_portable(xs, mean, limit2)
}

/// The portable build of [`beyond_lanes`].
pub(super) fn beyond_lanes_portable(xs: &[f32], mean: f32, limit2: f32) -> [u32; 8] {
    let mut beyond = [0u32; 8];
    for c in xs.chunks_exact(8) {
        for k in 0..8 {
            let d = c[k] - mean;
            // NaN compares false; ±∞ is not counted as an outlier (it is counted as infinite).
            beyond[k] += u32::from(d * d > limit2 && c[k].is_finite());
        }
    }
    beyond
}

/// Second pass: the count of finite values more than a threshold from the mean.
fn beyond_block(xs: &[f32], mean: f64, limit2: f64) -> u64 {
    let (mean, limit2) = (mean as f32, limit2 as f32);
    let mut beyond = beyond_lanes(xs, mean, limit2);
    for &x in xs.chunks_exact(8).remainder() {
        let d = x - mean;
        beyond[0] += u32::from(d * d > limit2 && x.is_finite());
    }
    beyond.iter().map(|&b| u64::from(b)).sum()
}

/// Runs `f` on one block of a tensor's bytes (at most [`BLOCK`] elements), decoded to
/// `f32` unless it is aligned `f32` already (the usual case, read in place); `offset` is
/// the block's first index.
fn on_block<T>(dtype: StoredDType, chunk: &[u8], offset: u64, f: impl Fn(&[f32], u64) -> T) -> T {
    if let Some(xs) = as_f32(dtype, chunk) {
        return f(xs, offset);
    }
    let mut buf = [0.0f32; BLOCK];
    let xs = &mut buf[..chunk.len() / dtype.size()];
    decode(dtype, chunk, xs);
    f(xs, offset)
}

/// The statistics of a float tensor's bytes, in one parallel pass: the moments, extremes
/// and rare values block by block, merged in block order (so the result is the same bits
/// on every run, whatever the threads); then the count beyond 6 std, which re-reads only
/// the blocks whose extremes lie beyond it (`(x − mean)²` is largest at a block's minimum
/// or maximum), almost none in a freshly initialized tensor.
pub(crate) fn stats(dtype: StoredDType, bytes: &[u8]) -> Stats {
    let tiny = min_normal(dtype);
    let step = BLOCK * dtype.size();
    let per_block: Vec<First> = bytes
        .par_chunks(step)
        .enumerate()
        .map(|(i, chunk)| on_block(dtype, chunk, (i * BLOCK) as u64, |xs, at| First::block(xs, at, tiny)))
        .collect();
    let first = per_block.iter().fold(First::EMPTY, |a, &b| a.merge(b));
    let m = first.moments;
    let count = m.count();
    // An empty sample (every value NaN or ∞) has NaN mean, std, rms and extremes.
    let extreme = |x: f32| if count == 0 { f64::NAN } else { f64::from(x) };
    let (mean, var) = (m.mean(), m.variance());
    let beyond = if var > 0.0 {
        let limit2 = 36.0 * var;
        let (mean32, limit32) = (mean as f32, limit2 as f32);
        // The same arithmetic as `beyond_block`'s, so that no block it would count is skipped.
        let far = |x: f32| {
            let d = x - mean32;
            d * d > limit32
        };
        per_block
            .par_iter()
            .enumerate()
            .filter(|(_, b)| far(b.min) || far(b.max))
            .map(|(i, _)| {
                let chunk = &bytes[i * step..((i + 1) * step).min(bytes.len())];
                on_block(dtype, chunk, 0, |xs, _| beyond_block(xs, mean, limit2))
            })
            .sum()
    } else {
        0
    };
    Stats {
        count,
        mean,
        std: m.std(),
        min: extreme(first.min),
        max: extreme(first.max),
        nan: first.nan,
        inf: first.inf,
        beyond_6_std: if count == 0 { 0.0 } else { beyond as f64 / count as f64 },
        excess_kurtosis: m.excess_kurtosis(),
        rms: m.rms(),
        zeros: first.zeros,
        subnormal: first.subnormal,
        first_nan: first.first_nan,
        first_inf: first.first_inf,
        first_subnormal: first.first_subnormal,
        first_zero: first.first_zero,
    }
}

/// Where two tensors' values differ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Difference {
    /// Values that differ (NaN equals NaN here).
    pub(crate) differing: u64,
    /// The first index where they differ.
    pub(crate) first: Option<u64>,
    /// The largest |a − b| over finite pairs.
    pub(crate) max_abs: f64,
}

/// Compares two tensors of the same element count value by value (after
/// decoding each to `f32`), block by block in parallel.
///
/// # Panics
/// If the byte lengths do not hold the same number of elements (callers
/// compare tensors of one shape).
pub(crate) fn differences(a: StoredDType, a_bytes: &[u8], b: StoredDType, b_bytes: &[u8]) -> Difference {
    let n = a_bytes.len() / a.size();
    assert_eq!(n, b_bytes.len() / b.size(), "tensors of one shape");
    let none = Difference { differing: 0, first: None, max_abs: 0.0 };
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|i| {
            let (start, end) = (i * BLOCK, ((i + 1) * BLOCK).min(n));
            let (mut x, mut y) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
            let (x, y) = (&mut x[..end - start], &mut y[..end - start]);
            decode(a, &a_bytes[start * a.size()..end * a.size()], x);
            decode(b, &b_bytes[start * b.size()..end * b.size()], y);
            let mut d = none;
            for (k, (&p, &q)) in x.iter().zip(y.iter()).enumerate() {
                if p != q && !(p.is_nan() && q.is_nan()) {
                    d.differing += 1;
                    d.first = d.first.or(Some((start + k) as u64));
                    let gap = f64::from(p) - f64::from(q);
                    if gap.is_finite() {
                        d.max_abs = d.max_abs.max(gap.abs());
                    }
                }
            }
            d
        })
        .reduce(
            || none,
            |l, r| Difference {
                differing: l.differing + r.differing,
                first: first_of(l.first, r.first),
                max_abs: l.max_abs.max(r.max_abs),
            },
        )
}

/// The largest singular value and the distance from orthogonality of a matrix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spectral {
    /// Rows of the matrix view (`shape[0]`).
    pub rows: usize,
    /// Columns (the product of the other dimensions).
    pub cols: usize,
    /// Estimate of the spectral norm σ_max (a lower bound; see [`SPECTRAL_ITERATIONS`](super::SPECTRAL_ITERATIONS)).
    pub norm: f64,
    /// σ_max / (rms · (√rows + √cols)): about 1 for a matrix of i.i.d.
    /// entries (the Marchenko–Pastur edge), well above 1 when a few
    /// directions dominate (trained weights, low rank).
    pub edge_ratio: f64,
    /// ‖W Wᵀ/c − I‖_F / √m over the smaller side m, with c = ‖W‖_F²/m (the
    /// scale that fits best): 0 for a scaled (semi-)orthogonal matrix,
    /// about √(m/n) for an m×n matrix of i.i.d. entries (1 when square).
    /// Estimated from one Gaussian probe (see the module docs).
    pub orthogonality: f64,
    /// Passes over the matrix run (Lanczos steps: fewer than asked where the Krylov
    /// space became invariant, at most `min(rows, cols)`).
    pub iterations: usize,
}

/// Parallel pieces of a pass over a matrix's rows: fixed (not the thread count), so that
/// the sums, added piece by piece in order, are the same bits on every run and machine
/// with the same SIMD level.
const GRAM_PIECES: usize = 64;

/// One pass over the matrix: `y = Wᵀ(W v)` and `‖W v‖²`, reading each row once.
fn gram_pass(dtype: StoredDType, bytes: &[u8], cols: usize, v: &[f32]) -> (Vec<f32>, f64) {
    let row_bytes = cols * dtype.size();
    let rows = bytes.len() / row_bytes;
    // At least ROWS_PER_TASK rows per piece, so that small matrices do not pay for
    // GRAM_PIECES partial sums of `cols` floats each.
    let per_piece = rows.div_ceil(GRAM_PIECES).max(ROWS_PER_TASK);
    let pieces: Vec<(Vec<f32>, f64)> = bytes
        .par_chunks(row_bytes * per_piece)
        .map(|piece| {
            let (mut y, mut row, mut tt) = (vec![0.0f32; cols], vec![0.0f32; cols], 0.0f64);
            for r in piece.chunks_exact(row_bytes) {
                let x = match as_f32(dtype, r) {
                    Some(x) => x,
                    None => {
                        decode(dtype, r, &mut row);
                        &row
                    }
                };
                let t = dot(x, v);
                tt += f64::from(t) * f64::from(t);
                axpy(t, x, &mut y);
            }
            (y, tt)
        })
        .collect();
    let mut pieces = pieces.into_iter();
    let (mut y, mut tt) = pieces.next().unwrap_or_else(|| (vec![0.0; cols], 0.0));
    for (p, t) in pieces {
        y.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
        tt += t;
    }
    (y, tt)
}

/// The eight lane sums of [`dot`] over the chunks of eight, with AVX2 where the CPU has
/// it (the same bits).
fn dot_lanes(a: &[f32], b: &[f32]) -> [f32; 8] {
    #[cfg(target_arch = "x86_64")]
    if let Some(acc) = super::simd::dot_lanes(a, b) {
        return acc;
    }
    dot_lanes_portable(a, b)
}

/// The portable build of [`dot_lanes`].
pub(super) fn dot_lanes_portable(a: &[f32], b: &[f32]) -> [f32; 8] {
    let mut acc = [0.0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc
}

/// `y += t·x`, with AVX2 where the CPU has it (the same bits).
fn axpy(t: f32, x: &[f32], y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    let done = super::simd::axpy(t, x, y);
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for (yi, &xi) in y[done..].iter_mut().zip(&x[done..]) {
        *yi += t * xi;
    }
}

/// A dot product with eight independent accumulators.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let acc = dot_lanes(a, b);
    let (ra, rb) = (a.chunks_exact(8).remainder(), b.chunks_exact(8).remainder());
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

fn norm2(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x) * f64::from(x)).sum()
}

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}

/// Lanczos on `A = WᵀW` for the `rows × cols` row-major matrix in `bytes`: `iterations`
/// passes over the matrix (at most `min(rows, cols)`, where the Krylov space is whole)
/// from a Gaussian start drawn from the Philox stream keyed by ([`PROBE_SEED`], `name`).
/// `sumsq` is `‖W‖_F²` (from [`stats`]). `None` for an all-zero matrix.
///
/// Each pass is one product `A q` (one read of the matrix, [`gram_pass`]); the three-term
/// recurrence keeps two vectors, and the largest eigenvalue of the tridiagonal matrix of
/// its coefficients (the largest Ritz value) bounds `λ_max(A) = σ_max²` from below, like
/// the power iteration's `‖A q‖` (also kept), but converges about as fast as power iteration
/// with the square of the passes (Kuczyński and Woźniakowski 1992), so that fewer passes
/// reach the stated accuracy. The recurrence is not reorthogonalized: lost orthogonality
/// only repeats converged Ritz values, which stay inside the spectrum up to rounding.
pub(crate) fn spectral(
    dtype: StoredDType,
    bytes: &[u8],
    rows: usize,
    cols: usize,
    sumsq: f64,
    iterations: usize,
    name: &str,
) -> Option<Spectral> {
    if sumsq <= 0.0 || iterations == 0 {
        return None;
    }
    let spec = TensorSpec::new(Shape::new(vec![cols]).ok()?);
    let mut q = vec![0.0f32; cols];
    Init::Normal(Normal::new(0.0, 1.0).ok()?).fill(&spec, &Philox::new(PROBE_SEED, name), &mut q).ok()?;
    let scale = 1.0 / norm2(&q).sqrt();
    q.iter_mut().for_each(|x| *x = (f64::from(*x) * scale) as f32);
    let steps = iterations.min(rows.min(cols));
    let (mut alpha, mut beta) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let mut previous = vec![0.0f32; cols];
    let mut lambda = 0.0f64;
    let mut orthogonality = None;
    for step in 0..steps {
        // w = A q; a = qᵀAq = ‖Wq‖².
        let (mut w, a) = gram_pass(dtype, bytes, cols, &q);
        let ww = norm2(&w);
        if step == 0 {
            // The first pass doubles as the probe for ‖WᵀW‖_F² (see the module docs).
            if a <= 0.0 || ww <= 0.0 {
                return None;
            }
            let m = rows.min(cols) as f64;
            orthogonality = Some((m * (ww / a) / sumsq - 1.0).max(0.0).sqrt());
        }
        // For a unit q, ‖Aq‖ ≤ λ_max.
        lambda = lambda.max(ww.sqrt());
        alpha.push(a);
        // w −= a·q + b·previous, then once more against q (one step of
        // reorthogonalization against the newest vector, which keeps the recurrence stable).
        let b_prev = beta.last().copied().unwrap_or(0.0);
        for ((wi, &qi), &pi) in w.iter_mut().zip(&q).zip(&previous) {
            *wi = (f64::from(*wi) - a * f64::from(qi) - b_prev * f64::from(pi)) as f32;
        }
        let fix = dot64(&w, &q);
        w.iter_mut().zip(&q).for_each(|(wi, &qi)| *wi = (f64::from(*wi) - fix * f64::from(qi)) as f32);
        let b = norm2(&w).sqrt();
        // The Krylov space is invariant (to rounding): the Ritz values are eigenvalues.
        if step + 1 == steps || b <= 1e-6 * lambda {
            break;
        }
        beta.push(b);
        let inv = 1.0 / b;
        previous = std::mem::replace(&mut q, w.iter().map(|&x| (f64::from(x) * inv) as f32).collect());
    }
    beta.truncate(alpha.len() - 1);
    lambda = lambda.max(crate::linalg::largest_eigenvalue_tridiagonal(&alpha, &beta));
    let norm = lambda.sqrt();
    let rms = (sumsq / (rows * cols) as f64).sqrt();
    let edge = rms * ((rows as f64).sqrt() + (cols as f64).sqrt());
    Some(Spectral { rows, cols, norm, edge_ratio: norm / edge, orthogonality: orthogonality?, iterations: alpha.len() })
}

/// The `view.rows() × view.cols()` matrix of a tensor stored in another
/// order, as row-major little-endian `f32` bytes.
pub(crate) fn gather(dtype: StoredDType, bytes: &[u8], view: &crate::fan::MatrixView) -> Vec<u8> {
    let mut values = vec![0.0f32; bytes.len() / dtype.size()];
    decode(dtype, bytes, &mut values);
    let (inputs, taps) = (view.inputs(), view.taps());
    let mut out = Vec::with_capacity(values.len() * 4);
    for r in 0..view.rows() {
        for c in 0..view.cols() {
            out.extend_from_slice(&values[view.offset(r, c / taps, c % taps)].to_le_bytes());
        }
    }
    debug_assert_eq!(inputs * taps, view.cols());
    out
}

#[cfg(test)]
pub(crate) fn encode_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
