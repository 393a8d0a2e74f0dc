//! Prints nninit's fill throughput as JSON, for scripts/bench-peers.py.
//!
//! Usage: `throughput THREADS REPEATS`. Each figure is the best of REPEATS
//! fills of 2²⁶ f32 into a preallocated buffer, in millions of elements per
//! second, beside a plain memory write of the same buffer.
//!
//! The memory write is timed once before every timed fill, all through the run,
//! and its best over all those samples is reported: this host's speed moves by
//! tens of percent from one minute to the next, and a baseline timed only at the
//! start would be compared with fills timed in another state. More samples can
//! only raise the best write, so this errs against the fills' share of it.

use std::hint::black_box;
use std::time::Instant;

use nninit::stream::Philox;
use nninit_benches::{FILL_LEN, fills, flat_spec};

/// Seconds taken by one call of `f`.
fn timed(f: &mut impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Millions of elements per second at `secs` per fill.
fn msamples_per_s(secs: f64) -> f64 {
    FILL_LEN as f64 / secs / 1e6
}

/// The plain memory write of the buffer, and the fastest of its samples so far.
struct Baseline {
    best: f64,
}

impl Baseline {
    fn sample(&mut self, buf: &mut [f32]) {
        let secs = timed(&mut || {
            use rayon::prelude::*;
            buf.par_chunks_mut(1 << 16).for_each(|c| c.fill(black_box(1.0)));
            black_box(&*buf);
        });
        self.best = self.best.min(secs);
    }
}

/// The best rate of `repeats` timed calls of `fill` (after one untimed call that warms
/// pages and caches), each after a memory-write sample.
fn best_rate(repeats: usize, buf: &mut [f32], baseline: &mut Baseline, mut fill: impl FnMut(&mut [f32])) -> f64 {
    fill(buf);
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        baseline.sample(buf);
        best = best.min(timed(&mut || {
            fill(buf);
            black_box(&*buf);
        }));
    }
    msamples_per_s(best)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let repeats: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let mut buf = vec![0.0f32; FILL_LEN];
    let spec = flat_spec(FILL_LEN);
    let mut rates = serde_json::Map::new();
    pool.install(|| -> Result<(), nninit::Error> {
        let mut baseline = Baseline { best: f64::INFINITY };
        baseline.sample(&mut buf); // warm pages
        // PyTorch's generator replayed (sequential by nature: one thread).
        let mut generator = nninit::torch::TorchGenerator::new(0);
        let mut result = Ok(());
        let rate = best_rate(repeats, &mut buf, &mut baseline, |buf| {
            result = nninit::torch::normal_(&mut generator, buf, 0.0, 1.0);
        });
        result?;
        rates.insert("torch_mode_normal".into(), rate.into());
        for (name, init) in fills() {
            let stream = Philox::new(0, name);
            let mut result = Ok(());
            let rate = best_rate(repeats, &mut buf, &mut baseline, |buf| {
                result = init.fill(&spec, &stream, buf);
            });
            result?;
            rates.insert(name.into(), rate.into());
        }
        rates.insert("memory_write".into(), msamples_per_s(baseline.best).into());
        Ok(())
    })?;
    let report = serde_json::json!({ "threads": threads, "elements": FILL_LEN, "msamples_per_s": rates });
    println!("{report}");
    Ok(())
}
