//! PyTorch's CPU generator: MT19937 seeded like `torch.manual_seed`, and the
//! kernel flavour that decides how its numbers become floats.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Words of MT19937 state.
const N: usize = 624;
/// The MT19937 middle word offset.
const M: usize = 397;

/// Which of PyTorch's compiled CPU kernels to reproduce.
///
/// PyTorch compiles its random kernels several times and picks one at start-up
/// from the CPU's capability (`torch.backends.cpu.get_cpu_capability()`). The
/// flavours give different floats for `normal_` (and, through the fused
/// multiply-add, for `uniform_`), so the flavour is part of what must match.
///
/// # Example
///
/// ```
/// use nninit::torch::TorchKernel;
///
/// assert_eq!(TorchKernel::default(), TorchKernel::Avx2);
/// assert_eq!(TorchKernel::parse("default")?, TorchKernel::Default);
/// # Ok::<(), nninit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TorchKernel {
    /// The `avx2` kernels, which x86-64 wheels run on every CPU with AVX2
    /// (AVX-512 CPUs included: the random kernels have no AVX-512 build). The
    /// default.
    #[default]
    Avx2,
    /// The portable `default` kernels: x86-64 CPUs without AVX2, or
    /// `ATEN_CPU_CAPABILITY=default`. ARM and macOS wheels probably run
    /// something close to it, but that is untested.
    Default,
}

impl TorchKernel {
    /// The names [`TorchKernel::parse`] accepts.
    pub const NAMES: &'static str = "avx2, default";

    /// Parses `avx2` or `default` (PyTorch's `ATEN_CPU_CAPABILITY` values;
    /// `avx512` is accepted as `avx2`, which is what such CPUs run).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for any other name.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "avx2" | "avx512" => Ok(Self::Avx2),
            "default" => Ok(Self::Default),
            _ => {
                Err(Error::InvalidConfig { reason: format!("unknown torch kernel `{name}` (known: {})", Self::NAMES) })
            }
        }
    }

    /// The name, as PyTorch's `ATEN_CPU_CAPABILITY` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avx2 => "avx2",
            Self::Default => "default",
        }
    }
}

impl fmt::Display for TorchKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// PyTorch's CPU generator (`torch.Generator()` / the global default
/// generator), in the state `torch.manual_seed(seed)` leaves it.
///
/// The engine is MT19937. `manual_seed` keeps all 64 bits of the seed (they are
/// what `torch.initial_seed()` reports) but only the low 32 bits reach the
/// state, so seeds `3` and `2**40 + 3` give the same numbers. A negative Python
/// seed is taken modulo 2⁶⁴: pass `seed as u64` for an `i64` seed.
///
/// The generator also carries the double-precision normal that PyTorch's
/// scalar `normal_` path caches between calls ([`TorchGenerator::cached_normal`]),
/// and the [`TorchKernel`] flavour to reproduce.
///
/// # Example
///
/// ```
/// use nninit::torch::TorchGenerator;
///
/// // torch.manual_seed(0); torch.randint(0, 2**32, ...) draws these words.
/// let mut g = TorchGenerator::new(0);
/// assert_eq!(g.random(), 2357136044);
/// assert_eq!(g.random(), 2546248239);
/// assert_eq!(TorchGenerator::new((1 << 40) + 3).random(), TorchGenerator::new(3).random());
/// ```
#[derive(Clone)]
pub struct TorchGenerator {
    state: Box<[u32; N]>,
    /// Index of the next state word to temper; `N` forces a twist first.
    next: usize,
    seed: u64,
    next_double_normal: Option<f64>,
    kernel: TorchKernel,
}

impl fmt::Debug for TorchGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TorchGenerator")
            .field("initial_seed", &self.seed)
            .field("position", &self.next)
            .field("cached_normal", &self.next_double_normal)
            .field("kernel", &self.kernel)
            .finish_non_exhaustive()
    }
}

/// MT19937's output tempering of one state word.
#[inline(always)]
fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C_5680;
    y ^= (y << 15) & 0xEFC6_0000;
    y ^ (y >> 18)
}

impl TorchGenerator {
    /// A generator in the state `torch.manual_seed(seed)` leaves, reproducing
    /// the [`TorchKernel::Avx2`] kernels.
    pub fn new(seed: u64) -> Self {
        let mut g =
            Self { state: Box::new([0; N]), next: N, seed, next_double_normal: None, kernel: TorchKernel::Avx2 };
        g.manual_seed(seed);
        g
    }

    /// The same generator reproducing the kernel flavour `kernel`.
    #[must_use]
    pub fn with_kernel(mut self, kernel: TorchKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The kernel flavour this generator reproduces.
    pub fn kernel(&self) -> TorchKernel {
        self.kernel
    }

    /// `torch.manual_seed(seed)`: reseeds the engine from the low 32 bits of
    /// `seed`, remembers all 64, and clears the cached normal.
    pub fn manual_seed(&mut self, seed: u64) {
        self.seed = seed;
        let state = &mut *self.state;
        state[0] = seed as u32;
        for j in 1..N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(j as u32);
        }
        self.next = N;
        self.next_double_normal = None;
    }

    /// `torch.initial_seed()`: the 64-bit seed last given to
    /// [`TorchGenerator::manual_seed`].
    pub fn initial_seed(&self) -> u64 {
        self.seed
    }

    /// The double-precision normal that the next scalar-path `normal_` will use
    /// before drawing, if any (PyTorch's `next_double_normal_sample`).
    pub fn cached_normal(&self) -> Option<f64> {
        self.next_double_normal
    }

    /// Takes the cached normal, leaving none.
    pub(crate) fn take_cached_normal(&mut self) -> Option<f64> {
        self.next_double_normal.take()
    }

    /// Stores a normal for the next scalar-path draw.
    pub(crate) fn set_cached_normal(&mut self, value: f64) {
        self.next_double_normal = Some(value);
    }

    /// The next 32-bit word (PyTorch's `random()`, standard MT19937
    /// `genrand_int32`).
    #[inline]
    pub fn random(&mut self) -> u32 {
        if self.next >= N {
            self.twist();
        }
        let y = self.state[self.next];
        self.next += 1;
        temper(y)
    }

    /// The next sixteen words, exactly as sixteen calls to [`TorchGenerator::random`].
    ///
    /// PyTorch draws its words one call at a time; when the sixteen lie inside the current state
    /// block (always, once a fill is aligned to the block, since 624 = 39 · 16) this tempers them
    /// in one pass the compiler turns into vector code, which is what lets torch-mode `normal_`
    /// outrun PyTorch's own.
    #[inline(always)]
    pub(crate) fn random16(&mut self) -> [u32; 16] {
        if self.next == N {
            self.twist();
        }
        match self.state.get(self.next..self.next + 16) {
            Some(words) => {
                let mut w = [0u32; 16];
                w.copy_from_slice(words);
                self.next += 16;
                for y in &mut w {
                    *y = temper(*y);
                }
                w
            }
            None => std::array::from_fn(|_| self.random()),
        }
    }

    /// Two words, the first one high (PyTorch's `random64()`).
    #[inline]
    pub fn random64(&mut self) -> u64 {
        let hi = u64::from(self.random());
        let lo = u64::from(self.random());
        (hi << 32) | lo
    }

    /// Regenerates all 624 state words.
    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7FFF_FFFF;
        const MATRIX_A: u32 = 0x9908_B0DF;
        let s = &mut *self.state;
        let mix = |a: u32, b: u32, c: u32| {
            let y = (a & UPPER) | (b & LOWER);
            c ^ (y >> 1) ^ (if y & 1 == 1 { MATRIX_A } else { 0 })
        };
        for k in 0..N - M {
            s[k] = mix(s[k], s[k + 1], s[k + M]);
        }
        for k in N - M..N - 1 {
            s[k] = mix(s[k], s[k + 1], s[k + M - N]);
        }
        s[N - 1] = mix(s[N - 1], s[0], s[M - 1]);
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_mt19937() {
        // The MT19937 reference output for init_genrand(5489).
        let mut g = TorchGenerator::new(5489);
        assert_eq!(g.random(), 3_499_211_612);
        assert_eq!(g.random(), 581_869_302);
        for _ in 2..9999 {
            g.random();
        }
        assert_eq!(g.random(), 4_123_659_995);
    }

    #[test]
    fn random16_is_sixteen_single_draws() {
        // From a fresh seed, aligned inside a block, straddling the end of a block, and
        // starting exactly at its end: the bulk path must give the words one call at a time gives.
        for skip in [0usize, 5, 16, 608, 610, 623, 624, 1247] {
            let mut bulk = TorchGenerator::new(7);
            let mut single = TorchGenerator::new(7);
            for _ in 0..skip {
                assert_eq!(bulk.random(), single.random());
            }
            for _ in 0..80 {
                let words = bulk.random16();
                let expected: [u32; 16] = std::array::from_fn(|_| single.random());
                assert_eq!(words, expected, "after {skip} single draws");
            }
            assert_eq!(bulk.random(), single.random());
        }
    }

    #[test]
    fn seed_high_bits_kept_but_unused() {
        let mut a = TorchGenerator::new((1 << 40) + 3);
        let mut b = TorchGenerator::new(3);
        assert_eq!(a.initial_seed(), (1 << 40) + 3);
        for _ in 0..1000 {
            assert_eq!(a.random64(), b.random64());
        }
        let mut neg = TorchGenerator::new(-1i64 as u64);
        let mut max32 = TorchGenerator::new(u64::from(u32::MAX));
        assert_eq!(neg.random(), max32.random());
    }

    #[test]
    fn reseed_clears_cache() {
        let mut g = TorchGenerator::new(1);
        g.set_cached_normal(0.5);
        g.manual_seed(1);
        assert_eq!(g.cached_normal(), None);
        assert_eq!(TorchKernel::parse("AVX2").ok(), Some(TorchKernel::Avx2));
        assert!(TorchKernel::parse("neon").is_err());
        assert!(format!("{g:?}").contains("initial_seed: 1"));
    }
}
