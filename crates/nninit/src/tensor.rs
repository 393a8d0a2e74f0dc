//! Tensor shapes and element types.

use std::fmt;

use crate::error::{Error, Result};

/// A validated tensor shape: every dimension is at least 1 and the element
/// count fits in a `u64` (and a `usize`).
///
/// A rank-0 shape (`[]`) is a scalar with one element.
///
/// # Example
/// ```
/// use nninit::Shape;
/// let shape = Shape::new(vec![64, 3, 3, 3])?;
/// assert_eq!(shape.numel(), 1728);
/// assert!(Shape::new(vec![4, 0]).is_err());
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: Vec<usize>,
    numel: u64,
}

impl Shape {
    /// Validates `dims`.
    ///
    /// # Errors
    /// [`Error::ZeroDimension`] if a dimension is 0, [`Error::ShapeOverflow`] if
    /// the element count overflows `u64` or `usize`.
    pub fn new(dims: Vec<usize>) -> Result<Self> {
        if dims.contains(&0) {
            return Err(Error::ZeroDimension { shape: dims });
        }
        let mut numel: u64 = 1;
        for &d in &dims {
            numel = match numel.checked_mul(d as u64) {
                Some(n) if usize::try_from(n).is_ok() => n,
                _ => return Err(Error::ShapeOverflow { shape: dims }),
            };
        }
        Ok(Self { dims, numel })
    }

    /// Parses a comma-separated list such as `64,3,3,3` (spaces and `x` as a
    /// separator are accepted too: `64x3x3x3`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for text that is not a list of integers, and
    /// the errors of [`Shape::new`].
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim().trim_start_matches('[').trim_end_matches(']');
        if text.is_empty() {
            return Self::new(Vec::new());
        }
        let dims = text
            .split([',', 'x'])
            .map(|d| {
                d.trim().parse::<usize>().map_err(|_| Error::InvalidConfig {
                    reason: format!("shape `{text}`: `{}` is not a non-negative integer", d.trim()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Self::new(dims)
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// The number of elements (1 for a scalar).
    pub fn numel(&self) -> u64 {
        self.numel
    }

    /// Row-major (C order) strides, in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut strides = vec![1; self.dims.len()];
        for axis in (0..self.dims.len().saturating_sub(1)).rev() {
            strides[axis] = strides[axis + 1] * self.dims[axis + 1];
        }
        strides
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl TryFrom<Vec<usize>> for Shape {
    type Error = Error;
    fn try_from(dims: Vec<usize>) -> Result<Self> {
        Self::new(dims)
    }
}

impl TryFrom<&[usize]> for Shape {
    type Error = Error;
    fn try_from(dims: &[usize]) -> Result<Self> {
        Self::new(dims.to_vec())
    }
}

/// The element type of an output tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary64.
    F64,
    /// bfloat16 (8-bit exponent, 7-bit mantissa).
    BF16,
    /// IEEE binary16.
    F16,
    /// 64-bit signed integer, for integer buffers in checkpoints (BatchNorm's
    /// `num_batches_tracked`); no initializer draws integers.
    I64,
}

impl DType {
    /// Parses `f32`, `f64`, `bf16`, `f16` or `i64` (also `float32`, `float64`,
    /// `bfloat16`, `float16`, `int64`).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for any other name.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "float" => Ok(Self::F32),
            "f64" | "float64" | "double" => Ok(Self::F64),
            "bf16" | "bfloat16" => Ok(Self::BF16),
            "f16" | "float16" | "half" => Ok(Self::F16),
            "i64" | "int64" | "long" => Ok(Self::I64),
            _ => Err(Error::InvalidConfig {
                reason: format!("unknown dtype `{name}` (known: f32, f64, bf16, f16, i64)"),
            }),
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F64 | Self::I64 => 8,
            Self::BF16 | Self::F16 => 2,
        }
    }

    /// The largest finite magnitude the type holds (`i64`: its largest value).
    pub fn max_finite(self) -> f64 {
        match self {
            Self::F32 => f64::from(f32::MAX),
            Self::F64 => f64::MAX,
            Self::BF16 => half::bf16::MAX.to_f64(),
            Self::F16 => half::f16::MAX.to_f64(),
            Self::I64 => i64::MAX as f64,
        }
    }

    /// The short name (`f32`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::BF16 => "bf16",
            Self::F16 => "f16",
            Self::I64 => "i64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::bf16 {}
    impl Sealed for half::f16 {}
}

/// An element type nninit can fill: `f32`, `f64`, [`half::bf16`], [`half::f16`].
///
/// `f64` buffers are filled from the 64-bit streams (53-bit uniforms, double
/// precision arithmetic); the others from the 32-bit streams, with `bf16` and
/// `f16` rounded from `f32` to nearest, ties to even. Bounded distributions
/// stay inside their bounds after that rounding (see [`Element::round_within`]).
pub trait Element: sealed::Sealed + Copy + Default + Send + Sync + PartialOrd + 'static {
    /// The matching [`DType`].
    const DTYPE: DType;
    /// Rounds an `f32` to this type (nearest, ties to even).
    fn from_f32(v: f32) -> Self;
    /// Rounds every `src[k]` into `dst[k]` exactly as [`Element::from_f32`] does, a whole
    /// slice at a time (vectorized for `bf16` and `f16`: the half-precision output of every
    /// fill goes through here).
    ///
    /// # Panics
    /// If the slices' lengths differ.
    fn from_f32_slice(src: &[f32], dst: &mut [Self]);
    /// Rounds an `f64` to this type (nearest, ties to even).
    fn from_f64(v: f64) -> Self;
    /// Widens to `f64` (exact).
    fn to_f64(self) -> f64;
    /// The next representable value toward −∞.
    fn next_down(self) -> Self;
    /// The next representable value toward +∞.
    fn next_up(self) -> Self;
    /// Little-endian bytes of a slice, for writing files.
    fn extend_le_bytes(values: &[Self], out: &mut Vec<u8>);
    /// Little-endian bytes of a slice into `out`, which holds exactly
    /// `values.len()` elements' bytes (for writing into file buffers).
    ///
    /// # Panics
    /// If `out.len()` is not `values.len()` times the element size.
    fn write_le_bytes(values: &[Self], out: &mut [u8]);
    /// Little-endian bytes viewed in place as elements, where that is
    /// possible: a little-endian target, bytes aligned for the type, a
    /// whole number of elements. `None` otherwise (then use
    /// [`Element::write_le_bytes`]). Lets file buffers be filled without a copy.
    fn as_le_elements(bytes: &mut [u8]) -> Option<&mut [Self]>;
    /// The slice as `f32` if this type is `f32` (lets kernels write in place).
    fn as_f32_slice(values: &mut [Self]) -> Option<&mut [f32]>;
    /// The slice as `f64` if this type is `f64`.
    fn as_f64_slice(values: &mut [Self]) -> Option<&mut [f64]>;

    /// Rounds `v` to this type and moves it by one step if the rounding took it
    /// outside `[low, high]`, so a bounded distribution never leaves its bounds
    /// even when a bound is not representable in the output type.
    fn round_within(v: f64, low: f64, high: f64) -> Self {
        Self::from_f64(v).step_within(low, high)
    }

    /// `self` moved by one step toward `[low, high]` if it lies outside: the second half
    /// of [`Element::round_within`], for values already rounded.
    fn step_within(self, low: f64, high: f64) -> Self {
        if self.to_f64() > high {
            self.next_down()
        } else if self.to_f64() < low {
            self.next_up()
        } else {
            self
        }
    }
}

/// Steps an IEEE bit pattern with `bits` total bits by one unit in the last place.
fn step_bits(bits: u64, sign_bit: u64, up: bool) -> u64 {
    let magnitude = bits & !sign_bit;
    let negative = bits & sign_bit != 0;
    if magnitude == 0 {
        // ±0: the smallest subnormal of the requested sign.
        return if up { 1 } else { sign_bit | 1 };
    }
    if negative == up { bits - 1 } else { bits + 1 }
}

/// Rounds an `f64` to the `f32` neighbour with an odd last bit when inexact
/// ("round to odd"). Rounding that result again to a type with at most 22
/// significant bits (bf16, f16) equals rounding the `f64` directly to nearest
/// even: no double-rounding error.
fn f64_to_f32_round_odd(v: f64) -> f32 {
    let t = v as f32;
    if f64::from(t) == v || !t.is_finite() || t.to_bits() & 1 == 1 {
        return t;
    }
    // `t` is even and inexact: its odd neighbour on `v`'s side also brackets `v`.
    if f64::from(t) > v { t.next_down() } else { t.next_up() }
}

/// `f32` to `bf16` bits, nearest with ties to even, NaN kept quiet: the same bits as
/// `half::bf16::from_f32`, written without branches so that a loop over a slice vectorizes.
/// Adding `0x7fff` plus the kept part's lowest bit carries into the kept half exactly when the
/// dropped half is above one half, or at one half with an odd kept part.
#[inline]
fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let rounded = (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16;
    let quiet_nan = ((b >> 16) | 0x0040) as u16;
    if b & 0x7fff_ffff > 0x7f80_0000 { quiet_nan } else { rounded }
}

/// [`bf16_bits`] over a slice (the lengths are checked by the caller), in 256-bit vectors
/// where the CPU has AVX2: the same code compiled for it, so the same bits.
fn bf16_from_f32_slice(src: &[f32], dst: &mut [half::bf16]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: the function only enables AVX2, which the check just above found.
        unsafe {
            bf16_from_f32_slice_avx2(src, dst)
        };
        return;
    }
    bf16_from_f32_loop(src, dst);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn bf16_from_f32_slice_avx2(src: &[f32], dst: &mut [half::bf16]) {
    bf16_from_f32_loop(src, dst);
}

#[inline(always)]
fn bf16_from_f32_loop(src: &[f32], dst: &mut [half::bf16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = half::bf16::from_bits(bf16_bits(s));
    }
}

macro_rules! impl_element_bits {
    ($t:ty, $dtype:expr, $bits:ty, $sign:expr, $from32:expr, $from32_slice:expr, $from64:expr, $to64:expr, $tobits:expr, $frombits:expr, $as32:expr, $as64:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dtype;
            #[inline]
            fn from_f32(v: f32) -> Self {
                $from32(v)
            }
            fn from_f32_slice(src: &[f32], dst: &mut [Self]) {
                assert_eq!(src.len(), dst.len(), "from_f32_slice: lengths differ");
                $from32_slice(src, dst)
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                $from64(v)
            }
            #[inline]
            fn to_f64(self) -> f64 {
                $to64(self)
            }
            fn next_down(self) -> Self {
                $frombits(step_bits($tobits(self) as u64, $sign, false) as $bits)
            }
            fn next_up(self) -> Self {
                $frombits(step_bits($tobits(self) as u64, $sign, true) as $bits)
            }
            fn extend_le_bytes(values: &[Self], out: &mut Vec<u8>) {
                out.reserve(values.len() * std::mem::size_of::<$t>());
                for v in values {
                    out.extend_from_slice(&$tobits(*v).to_le_bytes());
                }
            }
            fn write_le_bytes(values: &[Self], out: &mut [u8]) {
                const SIZE: usize = std::mem::size_of::<$t>();
                assert_eq!(out.len(), values.len() * SIZE, "byte buffer does not match the values");
                for (o, v) in out.chunks_exact_mut(SIZE).zip(values) {
                    o.copy_from_slice(&$tobits(*v).to_le_bytes());
                }
            }
            fn as_le_elements(bytes: &mut [u8]) -> Option<&mut [Self]> {
                if cfg!(target_endian = "little") { bytemuck::try_cast_slice_mut(bytes).ok() } else { None }
            }
            fn as_f32_slice(values: &mut [Self]) -> Option<&mut [f32]> {
                $as32(values)
            }
            fn as_f64_slice(values: &mut [Self]) -> Option<&mut [f64]> {
                $as64(values)
            }
        }
    };
}

impl_element_bits!(
    f32,
    DType::F32,
    u32,
    1 << 31,
    |v| v,
    |src: &[f32], dst: &mut [f32]| dst.copy_from_slice(src),
    |v| v as f32,
    f64::from,
    f32::to_bits,
    f32::from_bits,
    Some,
    |_| None
);
impl_element_bits!(
    f64,
    DType::F64,
    u64,
    1 << 63,
    f64::from,
    |src: &[f32], dst: &mut [f64]| dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f64::from(s)),
    |v| v,
    |v| v,
    f64::to_bits,
    f64::from_bits,
    |_| None,
    Some
);
impl_element_bits!(
    half::bf16,
    DType::BF16,
    u16,
    1 << 15,
    half::bf16::from_f32,
    bf16_from_f32_slice,
    |v| half::bf16::from_f32(f64_to_f32_round_odd(v)),
    half::bf16::to_f64,
    half::bf16::to_bits,
    half::bf16::from_bits,
    |_| None,
    |_| None
);
impl_element_bits!(
    half::f16,
    DType::F16,
    u16,
    1 << 15,
    half::f16::from_f32,
    |src: &[f32], dst: &mut [half::f16]| half::slice::HalfFloatSliceExt::convert_from_f32_slice(dst, src),
    |v| half::f16::from_f32(f64_to_f32_round_odd(v)),
    half::f16::to_f64,
    half::f16::to_bits,
    half::f16::from_bits,
    |_| None,
    |_| None
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_validates() {
        assert_eq!(Shape::new(vec![2, 3]).unwrap().numel(), 6);
        assert_eq!(Shape::new(vec![]).unwrap().numel(), 1);
        assert!(matches!(Shape::new(vec![2, 0]), Err(Error::ZeroDimension { .. })));
        assert!(matches!(Shape::new(vec![1 << 40, 1 << 40]), Err(Error::ShapeOverflow { .. })));
    }

    #[test]
    fn shape_parses() {
        assert_eq!(Shape::parse("64,32").unwrap().dims(), &[64, 32]);
        assert_eq!(Shape::parse("64x3x3").unwrap().dims(), &[64, 3, 3]);
        assert_eq!(Shape::parse("[8, 4]").unwrap().dims(), &[8, 4]);
        assert!(Shape::parse("8,-4").is_err());
        assert!(Shape::parse("8,a").is_err());
        assert!(Shape::parse("0,4").is_err());
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(Shape::new(vec![2, 3, 4]).unwrap().strides(), vec![12, 4, 1]);
    }

    /// Every kept half of an `f32` (all 2¹⁶: signs, exponents, NaN payloads, infinities) with
    /// the dropped halves that decide the rounding (zero, just above zero, just below, at and
    /// around one half, the top): the slice conversions give `half`'s own per-value bits.
    #[test]
    fn slice_rounding_is_half_per_value() {
        let dropped = [0x0000u32, 0x0001, 0x4000, 0x7fff, 0x8000, 0x8001, 0xc000, 0xffff];
        let src: Vec<f32> =
            (0..1u32 << 16).flat_map(|hi| dropped.iter().map(move |&lo| f32::from_bits(hi << 16 | lo))).collect();
        let mut bf = vec![half::bf16::ZERO; src.len()];
        half::bf16::from_f32_slice(&src, &mut bf);
        let mut h = vec![half::f16::ZERO; src.len()];
        half::f16::from_f32_slice(&src, &mut h);
        for (k, &v) in src.iter().enumerate() {
            assert_eq!(bf[k].to_bits(), half::bf16::from_f32(v).to_bits(), "bf16 of {:#010x}", v.to_bits());
            assert_eq!(h[k].to_bits(), half::f16::from_f32(v).to_bits(), "f16 of {:#010x}", v.to_bits());
        }
    }

    #[test]
    fn round_within_never_leaves_bounds() {
        // 0.04 is not representable in bf16: the nearest bf16 above it must be stepped down.
        let high = 0.04;
        let x = half::bf16::round_within(0.039_99, -high, high);
        assert!(x.to_f64() <= high);
        let y = half::f16::round_within(-0.039_999_9, -high, high);
        assert!(y.to_f64() >= -high);
        let z = f32::round_within(0.1, -0.1, 0.1);
        assert!(f64::from(z) <= 0.1);
    }

    #[test]
    fn steps_cross_zero() {
        assert_eq!(0.0f32.next_up(), f32::from_bits(1));
        assert_eq!(0.0f32.next_down(), -f32::from_bits(1));
        assert_eq!((-1.0f64).next_up(), -1.0 + f64::EPSILON / 2.0);
        assert_eq!(1.0f64.next_down(), 1.0 - f64::EPSILON / 2.0);
    }

    #[test]
    fn half_types_round_f64_to_nearest_even_without_double_rounding() {
        // f32 0xbc948002 lies just above the midpoint of two bf16 values: nearest is 0xbc95.
        let v = f64::from(f32::from_bits(0xbc94_8002));
        assert_eq!(half::bf16::from_f64_const(v).to_bits(), 0xbc94, "half's own conversion misrounds this one");
        assert_eq!(<half::bf16 as Element>::from_f64(v).to_bits(), 0xbc95);
        // An f64 just above a bf16 midpoint that rounds to the midpoint in f32.
        let mid = f64::from(f32::from_bits(0x3f80_8000)); // halfway between bf16 0x3f80 and 0x3f81
        let above = mid + 1e-12;
        assert_eq!(<half::bf16 as Element>::from_f64(above).to_bits(), 0x3f81);
        assert_eq!(<half::bf16 as Element>::from_f64(mid).to_bits(), 0x3f80, "ties to even");
        assert_eq!(<half::f16 as Element>::from_f64(1.0 + 1e-12).to_bits(), half::f16::ONE.to_bits());
    }

    #[test]
    fn dtype_parses() {
        assert_eq!(DType::parse("bfloat16").unwrap(), DType::BF16);
        assert!(DType::parse("int8").is_err());
    }
}
