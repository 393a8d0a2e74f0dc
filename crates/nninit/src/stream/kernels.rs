//! Sequential fill kernels: block-to-value maps, the head/body/tail driver, and the
//! runtime choice between the baseline build and an AVX2 build of the same code (whose
//! `unsafe` dispatch lives in the `simd` module, with the hand-written AVX2 kernels).
//!
//! Every map has two forms that share their arithmetic: `block` (one Philox block, used
//! for an unaligned head and the tail) and `lanes` (`LANES` consecutive blocks in
//! structure-of-arrays form, used for the body). Both call the same `#[inline(always)]`
//! scalar functions, so they round identically; the lane form only lets LLVM vectorize.

use super::math32;
use super::philox::{blocks, philox4x32_10};

/// Blocks generated together in the vectorized body.
pub(crate) const LANES: usize = 16;

/// 2⁻²⁴, 2⁻⁵³ and 2⁻⁵².
const TWO_M24: f32 = 1.0 / 16_777_216.0;
const TWO_M53: f64 = 1.0 / 9_007_199_254_740_992.0;
const TWO_M52: f64 = 1.0 / 4_503_599_627_370_496.0;

/// What a fill is keyed by: the Philox key and the name hash (the two high counter
/// words).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Keys {
    pub(crate) key: [u32; 2],
    pub(crate) hash: u64,
}

impl Keys {
    /// Philox block `j`.
    #[inline(always)]
    pub(crate) fn block(self, j: u64) -> [u32; 4] {
        let h = self.hash;
        philox4x32_10([j as u32, (j >> 32) as u32, h as u32, (h >> 32) as u32], self.key)
    }
}

/// A map from Philox blocks to `PER_BLOCK` consecutive output values.
pub(crate) trait BlockMap: Copy {
    /// The output type.
    type Out: Copy + Default;
    /// Values per block: 4 (32-bit outputs) or 2 (64-bit outputs).
    const PER_BLOCK: usize;
    /// Writes the values of one block into `out[..PER_BLOCK]`.
    fn block(self, w: [u32; 4], out: &mut [Self::Out; 4]);
    /// Writes the values of `LANES` blocks into `out`, which holds exactly
    /// `LANES · PER_BLOCK` values; `a[l] = w1 << 32 | w0` and `b[l] = w3 << 32 | w2` of
    /// block `l` (see [`blocks`]).
    fn lanes(self, a: &[u64; LANES], b: &[u64; LANES], out: &mut [Self::Out]);
    /// Writes the values of whole blocks `j, j + 1, …` into a prefix of `out` with a
    /// hand-written AVX2 kernel, and returns how many values it wrote (a multiple of
    /// `PER_BLOCK`); the driver does the rest. Only the AVX2 driver calls it. The
    /// default writes nothing.
    #[inline(always)]
    fn avx2_body(self, _keys: Keys, _j: u64, _out: &mut [Self::Out]) -> usize {
        0
    }
}

/// Top 24 bits of a word as an f32 in `[0, 1)` (exact).
#[inline(always)]
pub(crate) fn unit_f32(w: u32) -> f32 {
    // < 2^24, so the signed conversion is exact (and vectorizes on SSE2).
    (w >> 8) as i32 as f32 * TWO_M24
}

/// `hi << 32 | lo`.
#[inline(always)]
fn join(lo: u32, hi: u32) -> u64 {
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The words of `LANES` blocks in stream order: `w[4l + k]` is word `k` of block `l`.
#[inline(always)]
fn words(a: &[u64; LANES], b: &[u64; LANES]) -> [u32; 4 * LANES] {
    let mut w = [0u32; 4 * LANES];
    for (l, w) in w.chunks_exact_mut(4).enumerate() {
        w[0] = a[l] as u32;
        w[1] = (a[l] >> 32) as u32;
        w[2] = b[l] as u32;
        w[3] = (b[l] >> 32) as u32;
    }
    w
}

/// `low + (high − low)·u`, clamped to at most `high`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UniformF32 {
    pub(crate) low: f32,
    pub(crate) high: f32,
}

impl UniformF32 {
    #[inline(always)]
    fn map(self, w: u32) -> f32 {
        let v = self.low + (self.high - self.low) * unit_f32(w);
        if v > self.high { self.high } else { v }
    }
}

impl BlockMap for UniformF32 {
    type Out = f32;
    const PER_BLOCK: usize = 4;
    #[inline(always)]
    fn block(self, w: [u32; 4], out: &mut [f32; 4]) {
        for k in 0..4 {
            out[k] = self.map(w[k]);
        }
    }
    #[inline(always)]
    fn lanes(self, a: &[u64; LANES], b: &[u64; LANES], out: &mut [f32]) {
        let w = words(a, b);
        for (o, &w) in out.iter_mut().zip(w.iter()) {
            *o = self.map(w);
        }
    }
}

/// Box–Muller in f32: `(r·cos 2πs, r·sin 2πs)` from the words `(wa, wb)`.
#[inline(always)]
pub(crate) fn box_muller_f32(wa: u32, wb: u32) -> (f32, f32) {
    let u1 = 1.0 - unit_f32(wa);
    let r = (-2.0 * math32::ln(u1)).sqrt();
    let (sin, cos) = math32::sincos_turns(unit_f32(wb));
    (r * cos, r * sin)
}

/// `mean + std·z`, z standard normal by Box–Muller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NormalF32 {
    pub(crate) mean: f32,
    pub(crate) std: f32,
}

impl NormalF32 {
    /// `mean + std·z` rounded once, `fma(std, z, mean)`, as the specification writes it.
    #[inline(always)]
    pub(crate) fn scale(self, z: f32) -> f32 {
        self.std.mul_add(z, self.mean)
    }
}

impl BlockMap for NormalF32 {
    type Out = f32;
    const PER_BLOCK: usize = 4;
    #[inline(always)]
    fn block(self, w: [u32; 4], out: &mut [f32; 4]) {
        let (a, b) = box_muller_f32(w[0], w[1]);
        let (c, d) = box_muller_f32(w[2], w[3]);
        *out = [a, b, c, d].map(|z| self.scale(z));
    }
    #[inline(always)]
    fn lanes(self, a: &[u64; LANES], b: &[u64; LANES], out: &mut [f32]) {
        // Pair m = 2l is (w0, w1) of block l, pair 2l + 1 is (w2, w3).
        let w = words(a, b);
        let mut u = [0u32; 2 * LANES];
        let mut v = [0u32; 2 * LANES];
        for m in 0..2 * LANES {
            u[m] = w[2 * m];
            v[m] = w[2 * m + 1];
        }
        let mut c = [0f32; 2 * LANES];
        let mut s = [0f32; 2 * LANES];
        for m in 0..2 * LANES {
            let (zc, zs) = box_muller_f32(u[m], v[m]);
            c[m] = self.scale(zc);
            s[m] = self.scale(zs);
        }
        for (m, o) in out.chunks_exact_mut(2).enumerate() {
            o[0] = c[m];
            o[1] = s[m];
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn avx2_body(self, keys: Keys, j: u64, out: &mut [f32]) -> usize {
        super::simd::normal_f32(keys, j, self.mean, self.std, out)
    }
}

/// 2⁻²³: the spacing of the truncated normal's uniforms.
const TWO_M23: f32 = 1.0 / 8_388_608.0;

/// An f64 as an unevaluated sum of two f32, `hi + lo` (`lo` flushed to zero below the
/// normal range, where it no longer matters and would only slow the arithmetic).
fn split_f32(x: f64) -> [f32; 2] {
    let hi = x as f32;
    let lo = (x - f64::from(hi)) as f32;
    [hi, if lo.abs() < f32::MIN_POSITIVE { 0.0 } else { lo }]
}

/// `[low, high]` rounded inwards to f32: the smallest f32 at or above `low` and the largest
/// at or below `high`.
pub(crate) fn inward_f32(low: f64, high: f64) -> (f32, f32) {
    let (l, h) = (low as f32, high as f32);
    (if f64::from(l) < low { l.next_up() } else { l }, if f64::from(h) > high { h.next_down() } else { h })
}

/// A normal truncated to `[low, high]` in f32, by the inverse CDF on one word per value
/// (see the parent module's specification): probabilities are carried as pairs of f32
/// through fused multiply-adds, so that the centre (`q = p − ½`) and each tail
/// (`t = p` or `1 − p`) keep their own relative precision.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TruncatedF32 {
    /// `p₀ − ½`, `p₀`, `1 − p₀` and `p₁ − p₀`, each split into two f32.
    pub(crate) q0: [f32; 2],
    pub(crate) p0: [f32; 2],
    pub(crate) c0: [f32; 2],
    pub(crate) d: [f32; 2],
    /// σ, negated when the probabilities are survival probabilities.
    pub(crate) sigma: f32,
    pub(crate) mean: f32,
    /// The bounds rounded inwards to f32.
    pub(crate) low: f32,
    pub(crate) high: f32,
    /// How far into `PPND7`'s tails the interval reaches.
    reach: TailReach,
    /// Whether it reaches the centre at all.
    span: Span,
}

/// Whether a [`TruncatedF32`]'s values can go through `PPND7`'s centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    /// Some values may lie in the centre (`|q| ≤ 0.425`).
    Centre,
    /// Every value lies in one tail (`|q| > 0.425`): an interval such as `[2σ, 3σ]`.
    TailOnly,
}

/// How far into `PPND7`'s tails the probabilities of a [`TruncatedF32`] can go: a fill
/// that never reaches the far tail skips its selections (the same bits either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TailReach {
    /// Every tail distance is at least [`math32::PPND7_NEAR_TAIL`].
    Near,
    /// Some may be smaller.
    Far,
}

impl TruncatedF32 {
    /// The map for `μ + s·σ·Φ⁻¹(p)`, `p` uniform between `p0` and `p1`, where `s = −1`
    /// when `p0, p1` are survival probabilities (`upper`); `None` where the smallest
    /// tail probability a 2⁻²³-spaced uniform can reach, `2⁻²⁴·|p1 − p0|`, is below 2⁻¹⁰⁰
    /// (the interval lies too far out for f32 probabilities: the caller uses f64).
    pub(crate) fn new(mean: f64, sigma: f64, low: f64, high: f64, p0: f64, p1: f64, upper: bool) -> Option<Self> {
        let d = p1 - p0;
        if d.is_nan() || d.abs() < 2f64.powi(-76) {
            return None;
        }
        let (low, high) = inward_f32(low, high);
        // Every probability lies between p0 and p1, so every tail distance is at least
        // the nearest of their distances to 0 and 1.
        let nearest = p0.min(p1).min(1.0 - p0).min(1.0 - p1);
        let reach = if nearest >= math32::PPND7_NEAR_TAIL { TailReach::Near } else { TailReach::Far };
        // Every q lies between p0 − ½ and p1 − ½ (to within the f32 pairs' rounding, far
        // below the margin): both beyond the split on one side puts all of them there.
        let beyond = |p: f64| (p - 0.5).abs() > f64::from(math32::PPND7_SPLIT) + 1e-6;
        let span = if beyond(p0) && beyond(p1) && (p0 < 0.5) == (p1 < 0.5) { Span::TailOnly } else { Span::Centre };
        Some(Self {
            q0: split_f32(p0 - 0.5),
            p0: split_f32(p0),
            c0: split_f32(1.0 - p0),
            d: split_f32(d),
            sigma: if upper { -sigma as f32 } else { sigma as f32 },
            mean: mean as f32,
            low,
            high,
            reach,
            span,
        })
    }

    /// The value of word `w`.
    #[inline(always)]
    pub(crate) fn value(self, w: u32) -> f32 {
        let (q, t) = self.probabilities(w);
        self.finish(math32::PPND7.inverse_cdf(q, t))
    }

    /// `(q, t)`: the word's probability less ½, and its distance to the nearer end.
    #[inline(always)]
    fn probabilities(self, w: u32) -> (f32, f32) {
        // u = (2k + 1)·2⁻²⁴ for the top 23 bits k: exact, symmetric, never 0 or 1.
        let u = ((w >> 9) as i32 as f32).mul_add(TWO_M23, TWO_M23 * 0.5);
        let along = |a: [f32; 2], v: f32| v.mul_add(self.d[0], a[0]) + v.mul_add(self.d[1], a[1]);
        let q = along(self.q0, u);
        // Below ½ the distance is p itself, above it 1 − p: selected by bit masks, so that
        // the lanes of a vector never split into scalar loads.
        let lower = math32::mask(q < 0.0);
        let a = [math32::select(lower, self.p0[0], self.c0[0]), math32::select(lower, self.p0[1], self.c0[1])];
        (q, along(a, math32::select(lower, u, -u)))
    }

    /// Whether every value lies in one of `PPND7`'s tails and none in its far tail (the
    /// AVX2 kernel then skips the centre).
    #[inline(always)]
    pub(crate) fn near_tail_only(self) -> bool {
        self.span == Span::TailOnly && self.reach == TailReach::Near
    }

    /// Whether some value may go through `PPND7`'s far tail (`√(−ln t) > 5`).
    #[inline(always)]
    pub(crate) fn reaches_far_tail(self) -> bool {
        self.reach == TailReach::Far
    }

    /// `fma(σ, z, μ)` clamped to the bounds.
    #[inline(always)]
    fn finish(self, z: f32) -> f32 {
        let v = self.sigma.mul_add(z, self.mean);
        let v = if v < self.low { self.low } else { v };
        if v > self.high { self.high } else { v }
    }
}

/// Lanes of one group of the truncated normal's body: one AVX2 vector of f32.
pub(crate) const GROUP: usize = 8;

impl BlockMap for TruncatedF32 {
    type Out = f32;
    const PER_BLOCK: usize = 4;
    #[inline(always)]
    fn block(self, w: [u32; 4], out: &mut [f32; 4]) {
        for k in 0..4 {
            out[k] = self.value(w[k]);
        }
    }
    #[inline(always)]
    fn lanes(self, a: &[u64; LANES], b: &[u64; LANES], out: &mut [f32]) {
        let w = words(a, b);
        for (w, out) in w.chunks_exact(GROUP).zip(out.chunks_exact_mut(GROUP)) {
            let (mut q, mut t) = ([0f32; GROUP], [0f32; GROUP]);
            for i in 0..GROUP {
                (q[i], t[i]) = self.probabilities(w[i]);
            }
            // A group with no value in the tails (most, for intervals within about ±2σ)
            // skips the logarithm; both forms give the same bits.
            let tails = q.iter().fold(0u32, |any, &q| any | u32::from(q.abs() > math32::PPND7_SPLIT));
            let mut z = [0f32; GROUP];
            if tails == 0 {
                for i in 0..GROUP {
                    z[i] = math32::PPND7.inverse_cdf_centre(q[i]);
                }
            } else {
                for i in 0..GROUP {
                    z[i] = math32::PPND7.inverse_cdf(q[i], t[i]);
                }
            }
            for i in 0..GROUP {
                out[i] = self.finish(z[i]);
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn avx2_body(self, keys: Keys, j: u64, out: &mut [f32]) -> usize {
        super::simd::truncated_f32(self, keys, j, out)
    }
}

/// Applies a per-pair f64 map to both word pairs of each block.
macro_rules! pairwise_f64 {
    () => {
        type Out = f64;
        const PER_BLOCK: usize = 2;
        #[inline(always)]
        fn block(self, w: [u32; 4], out: &mut [f64; 4]) {
            out[0] = self.map(join(w[0], w[1]));
            out[1] = self.map(join(w[2], w[3]));
        }
        #[inline(always)]
        fn lanes(self, a: &[u64; LANES], b: &[u64; LANES], out: &mut [f64]) {
            for (l, o) in out.chunks_exact_mut(2).enumerate() {
                o[0] = self.map(a[l]);
                o[1] = self.map(b[l]);
            }
        }
    };
}

/// `low + (high − low)·u` in f64, clamped to at most `high`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UniformF64 {
    pub(crate) low: f64,
    pub(crate) high: f64,
}

impl UniformF64 {
    #[inline(always)]
    fn map(self, x: u64) -> f64 {
        let u = (x >> 11) as f64 * TWO_M53;
        let v = self.low + (self.high - self.low) * u;
        if v > self.high { self.high } else { v }
    }
}

impl BlockMap for UniformF64 {
    pairwise_f64!();
}

/// The open-interval unit uniform `((x >> 12) + ½)·2⁻⁵²` in `(0, 1)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnitOpenF64;

impl UnitOpenF64 {
    #[inline(always)]
    fn map(self, x: u64) -> f64 {
        // 52 bits: (v + ½)·2⁻⁵² is exact for every v < 2⁵², so the largest value is
        // 1 − 2⁻⁵³ < 1. (With 53 bits, v + ½ would round to v + 1 for odd v ≥ 2⁵², and
        // v = 2⁵³ − 1 would give exactly 1.)
        ((x >> 12) as f64 + 0.5) * TWO_M52
    }
}

impl BlockMap for UnitOpenF64 {
    pairwise_f64!();
}

/// `mean + std·z` in f64, z standard normal by Box–Muller with libm.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NormalF64 {
    pub(crate) mean: f64,
    pub(crate) std: f64,
}

/// Box–Muller in f64: `(r·cos 2πs, r·sin 2πs)` from the word pairs `x1 = w1:w0` and
/// `x2 = w3:w2` of one block.
#[inline(always)]
pub(crate) fn box_muller_f64(x1: u64, x2: u64) -> (f64, f64) {
    let u1 = 1.0 - (x1 >> 11) as f64 * TWO_M53;
    let s = (x2 >> 11) as f64 * TWO_M53;
    let r = (-2.0 * libm::log(u1)).sqrt();
    let t = s - s.round_ties_even();
    let q = (4.0 * t).round_ties_even();
    let x = (t - 0.25 * q) * core::f64::consts::TAU;
    let (sin_x, cos_x) = (libm::sin(x), libm::cos(x));
    let (sin, cos) = match q as i64 & 3 {
        0 => (sin_x, cos_x),
        1 => (cos_x, -sin_x),
        2 => (-sin_x, -cos_x),
        _ => (-cos_x, sin_x),
    };
    (r * cos, r * sin)
}

impl BlockMap for NormalF64 {
    type Out = f64;
    const PER_BLOCK: usize = 2;
    #[inline(always)]
    fn block(self, w: [u32; 4], out: &mut [f64; 4]) {
        let (c, s) = box_muller_f64(join(w[0], w[1]), join(w[2], w[3]));
        out[0] = self.mean + self.std * c;
        out[1] = self.mean + self.std * s;
    }
    #[inline(always)]
    fn lanes(self, a: &[u64; LANES], b: &[u64; LANES], out: &mut [f64]) {
        for (l, o) in out.chunks_exact_mut(2).enumerate() {
            let (c, s) = box_muller_f64(a[l], b[l]);
            o[0] = self.mean + self.std * c;
            o[1] = self.mean + self.std * s;
        }
    }
}

/// Fills `out[k]` with element `start + k` (no wrap-around: the caller splits at 2⁶⁴).
///
/// With `AVX2`, the body first runs the map's [`BlockMap::avx2_body`].
#[inline(always)]
pub(crate) fn drive<M: BlockMap, const AVX2: bool>(map: M, keys: Keys, start: u64, out: &mut [M::Out]) {
    let per = M::PER_BLOCK;
    let mut j = start / per as u64;
    let mut out = out;
    // Unaligned head: the rest of the block holding element `start`.
    let off = (start % per as u64) as usize;
    if off != 0 && !out.is_empty() {
        let mut buf = [M::Out::default(); 4];
        map.block(keys.block(j), &mut buf);
        let n = (per - off).min(out.len());
        let (head, rest) = out.split_at_mut(n);
        head.copy_from_slice(&buf[off..off + n]);
        out = rest;
        j += 1;
    }
    // Body: the hand-written kernel if there is one, then LANES blocks at a time.
    if AVX2 {
        let n = map.avx2_body(keys, j, out);
        let rest = core::mem::take(&mut out);
        out = &mut rest[n..];
        j += (n / per) as u64;
    }
    let mut body = out.chunks_exact_mut(LANES * per);
    for chunk in &mut body {
        let (a, b) = blocks::<LANES>(keys.key, keys.hash, j);
        map.lanes(&a, &b, chunk);
        j += LANES as u64;
    }
    // Tail: whole blocks, then part of one.
    for chunk in body.into_remainder().chunks_mut(per) {
        let mut buf = [M::Out::default(); 4];
        map.block(keys.block(j), &mut buf);
        chunk.copy_from_slice(&buf[..chunk.len()]);
        j += 1;
    }
}

/// A compiled variant of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// The build for the crate's target features (SSE2 on x86-64).
    Baseline,
    /// The same code compiled with AVX2 and FMA enabled.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Path {
    /// The fastest variant this CPU runs. `is_x86_feature_detected!` caches its answer
    /// in a static, so this costs one relaxed atomic load.
    #[inline]
    pub(crate) fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        if super::simd::avx2_fma_available() {
            return Path::Avx2;
        }
        Path::Baseline
    }
}

/// Fills `out[k]` with element `start + k` (mod 2⁶⁴) using the kernel variant `path`.
pub(crate) fn fill_with<M: BlockMap>(path: Path, map: M, keys: Keys, start: u64, out: &mut [M::Out]) {
    // Element indices wrap at 2^64: split there so each part is contiguous in u64.
    let to_wrap = (u64::MAX - start).saturating_add(1);
    let (first, second) =
        if (out.len() as u64) > to_wrap { out.split_at_mut(to_wrap as usize) } else { (out, &mut [][..]) };
    for (s, part) in [(start, first), (0, second)] {
        if part.is_empty() {
            continue;
        }
        match path {
            Path::Baseline => drive::<M, false>(map, keys, s, part),
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => super::simd::drive_avx2_if_supported(map, keys, s, part),
        }
    }
}

/// Fills `out[k]` with element `start + k` (mod 2⁶⁴) using the best kernel variant.
#[inline]
pub(crate) fn fill<M: BlockMap>(map: M, keys: Keys, start: u64, out: &mut [M::Out]) {
    fill_with(Path::best(), map, keys, start, out);
}
