//! How many 256-bit vector operations per cycle this machine sustains, beside how many
//! cycles nninit's normal f32 kernel spends per value: the measurements behind the
//! throughput analysis in BENCHMARKS.md.
//!
//! Usage: `ceiling` (one thread; x86-64 with AVX2 only). It prints:
//!
//! - the clock, from a chain of dependent scalar additions (one per cycle on any
//!   x86-64 core);
//! - for a few AVX2 instructions, how many independent ones retire per cycle: twelve
//!   independent chains per loop iteration, so latency never limits;
//! - the normal and uniform f32 fills on a 64 KiB buffer (cache-resident, so memory
//!   bandwidth never limits), in cycles per value.

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;
    use std::hint::black_box;
    use std::time::Instant;

    use nninit::stream::Philox;

    /// Loop iterations per measurement.
    const ITERS: u64 = 50_000_000;

    /// Best of five timings of `f`, in seconds.
    fn best(mut f: impl FnMut()) -> f64 {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// Cycles per second, from four dependent one-cycle additions per iteration.
    fn clock_hz() -> f64 {
        let secs = best(|| {
            // SAFETY: register-only arithmetic on two scratch registers.
            unsafe {
                asm!(
                    "2:",
                    "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                    "dec {n}", "jnz 2b",
                    n = inout(reg) ITERS => _, x = inout(reg) 0u64 => _,
                    options(nomem, nostack),
                );
            }
        });
        (4 * ITERS) as f64 / secs
    }

    /// Twelve independent operations per iteration, `a ymmK, ymmK, ymm15` for even `K` and
    /// `b ymmK, ymmK, ymm15` for odd `K`, timed: seconds per operation.
    macro_rules! independent {
        ($op:literal) => {
            independent!($op, $op)
        };
        ($a:literal, $b:literal) => {{
            let secs = best(|| {
                // SAFETY: register-only AVX2 arithmetic on declared scratch registers; the
                // caller checked that the CPU has AVX2.
                unsafe {
                    asm!(
                        "vpxor ymm15, ymm15, ymm15",
                        "2:",
                        concat!($a, " ymm0, ymm0, ymm15"), concat!($b, " ymm1, ymm1, ymm15"),
                        concat!($a, " ymm2, ymm2, ymm15"), concat!($b, " ymm3, ymm3, ymm15"),
                        concat!($a, " ymm4, ymm4, ymm15"), concat!($b, " ymm5, ymm5, ymm15"),
                        concat!($a, " ymm6, ymm6, ymm15"), concat!($b, " ymm7, ymm7, ymm15"),
                        concat!($a, " ymm8, ymm8, ymm15"), concat!($b, " ymm9, ymm9, ymm15"),
                        concat!($a, " ymm10, ymm10, ymm15"), concat!($b, " ymm11, ymm11, ymm15"),
                        "dec {n}", "jnz 2b",
                        n = inout(reg) ITERS => _,
                        out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                        out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                        out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                        out("ymm15") _,
                        options(nomem, nostack),
                    );
                }
            });
            secs / (12 * ITERS) as f64
        }};
    }

    /// Seconds per value of `fill` on a cache-resident buffer.
    fn per_value(mut fill: impl FnMut(&mut [f32])) -> f64 {
        const LEN: usize = 1 << 14;
        const REPEATS: usize = 2000;
        let mut buf = vec![0.0f32; LEN];
        let secs = best(|| {
            for _ in 0..REPEATS {
                fill(&mut buf);
                black_box(&buf);
            }
        });
        secs / (LEN * REPEATS) as f64
    }

    pub fn run() {
        if !std::is_x86_feature_detected!("avx2") {
            println!("ceiling: this CPU has no AVX2; nothing to measure");
            return;
        }
        let hz = clock_hz();
        println!("clock: {:.2} GHz (dependent scalar additions)", hz / 1e9);
        println!("independent 256-bit operations retired per cycle (12 chains):");
        let ops = [
            ("vpxor", independent!("vpxor")),
            ("vpaddd", independent!("vpaddd")),
            ("vaddps", independent!("vaddps")),
            ("vmulps", independent!("vmulps")),
            ("vpmuludq", independent!("vpmuludq")),
            ("vpmulld", independent!("vpmulld")),
            ("vmulps and vaddps alternating", independent!("vmulps", "vaddps")),
            ("vpmuludq and vaddps alternating", independent!("vpmuludq", "vaddps")),
            ("vmulps and vpxor alternating", independent!("vmulps", "vpxor")),
        ];
        for (name, secs) in ops {
            println!("  {name:<32} {:.2}", 1.0 / (secs * hz));
        }
        let stream = Philox::new(0, "ceiling");
        let normal = per_value(|b| stream.normal_f32(0, b, 0.0, 1.0));
        let uniform = per_value(|b| stream.uniform_f32(0, b, 0.0, 1.0));
        println!("fills of a 64 KiB buffer, one thread:");
        println!("  normal f32   {:.2} cycles/value ({:.0} M/s)", normal * hz, 1e-6 / normal);
        println!("  uniform f32  {:.2} cycles/value ({:.0} M/s)", uniform * hz, 1e-6 / uniform);
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    x86::run();
    #[cfg(not(target_arch = "x86_64"))]
    println!("ceiling: x86-64 only");
}
