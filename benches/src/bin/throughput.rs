//! Prints nninit's fill throughput as JSON, for scripts/bench-peers.py.
//!
//! Usage: `throughput THREADS REPEATS`. Each figure is the best of REPEATS
//! fills of 2²⁶ f32 into a preallocated buffer, in millions of elements per
//! second, beside a plain memory write of the same buffer.

use std::hint::black_box;
use std::time::Instant;

use nninit::stream::Philox;
use nninit_benches::{FILL_LEN, fills, flat_spec};

fn best_rate(repeats: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm pages and caches
    let best = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    FILL_LEN as f64 / best / 1e6
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
        let rate = best_rate(repeats, || {
            use rayon::prelude::*;
            buf.par_chunks_mut(1 << 16).for_each(|c| c.fill(black_box(1.0)));
            black_box(&buf);
        });
        rates.insert("memory_write".into(), rate.into());
        // PyTorch's generator replayed (sequential by nature: one thread).
        let mut generator = nninit::torch::TorchGenerator::new(0);
        let mut result = Ok(());
        let rate = best_rate(repeats, || {
            result = nninit::torch::normal_(&mut generator, &mut buf, 0.0, 1.0);
            black_box(&buf);
        });
        result?;
        rates.insert("torch_mode_normal".into(), rate.into());
        for (name, init) in fills() {
            let stream = Philox::new(0, name);
            let mut result = Ok(());
            let rate = best_rate(repeats, || {
                result = init.fill(&spec, &stream, &mut buf);
                black_box(&buf);
            });
            result?;
            rates.insert(name.into(), rate.into());
        }
        Ok(())
    })?;
    let report = serde_json::json!({ "threads": threads, "elements": FILL_LEN, "msamples_per_s": rates });
    println!("{report}");
    Ok(())
}
