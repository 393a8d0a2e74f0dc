//! Prints nninit's fill throughput as JSON, for scripts/bench-peers.py.
//!
//! Usage: `throughput THREADS REPEATS`. Each figure is the best of REPEATS
//! fills of 2²⁶ f32 into a preallocated buffer, in millions of elements per
//! second, beside a plain memory write of the same buffer.
//!
//! Each timed fill follows a timed memory write, so every fill has its own
//! baseline: the best of the REPEATS writes timed beside it, the same number of
//! samples over the same minute (`memory_write_beside` in the JSON). This host's
//! speed moves by tens of percent from one minute to the next, and a baseline
//! timed only once, at the start, was compared with fills timed in another state.
//! `memory_write` is the best write of the whole run. The truncated normals in their other
//! conventions follow, and then the normal and the truncated normals in f64
//! (`NAME_f64`, the same element count, no write baseline), and the normal fill into bf16 and
//! f16 buffers (`normal_bf16`, `normal_f16`: the f32 kernel and the rounding).

use std::hint::black_box;
use std::time::Instant;

use nninit::Init;
use nninit::init::Normal;
use nninit::stream::Philox;
use nninit_benches::{FILL_LEN, fills, flat_spec, truncated_normals};

/// Seconds taken by one call of `f`.
fn timed(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Millions of elements per second at `secs` per fill.
fn msamples_per_s(secs: f64) -> f64 {
    FILL_LEN as f64 / secs / 1e6
}

/// One timed plain memory write of `buf`, in seconds.
fn memory_write(buf: &mut [f32]) -> f64 {
    timed(|| nninit_benches::memory_write(buf))
}

/// Best rates of `repeats` timed calls of `fill` and of the memory writes timed just
/// before each (after one untimed call of each, which warms pages and caches).
fn best_rates(repeats: usize, buf: &mut [f32], mut fill: impl FnMut(&mut [f32])) -> (f64, f64) {
    memory_write(buf);
    fill(buf);
    let (mut write, mut best) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..repeats {
        write = write.min(memory_write(buf));
        best = best.min(timed(|| {
            fill(buf);
            black_box(&*buf);
        }));
    }
    (msamples_per_s(best), msamples_per_s(write))
}

/// Best seconds of `repeats` fills of `buf` by `init` (after one untimed fill).
fn best_fill_secs<E: nninit::Element>(
    repeats: usize,
    init: &Init,
    spec: &nninit::TensorSpec,
    mut buf: Vec<E>,
) -> Result<f64, nninit::Error> {
    let stream = Philox::new(0, "normal");
    init.fill(spec, &stream, &mut buf)?;
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let mut result = Ok(());
        best = best.min(timed(|| {
            result = init.fill(spec, &stream, &mut buf);
            black_box(&buf);
        }));
        result?;
    }
    Ok(best)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let repeats: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let mut buf = vec![0.0f32; FILL_LEN];
    let spec = flat_spec(FILL_LEN);
    let mut rates = serde_json::Map::new();
    let mut beside = serde_json::Map::new();
    pool.install(|| -> Result<(), nninit::Error> {
        // PyTorch's generator replayed (sequential by nature: one thread).
        let mut generator = nninit::torch::TorchGenerator::new(0);
        let mut result = Ok(());
        let (rate, write) = best_rates(repeats, &mut buf, |buf| {
            result = nninit::torch::normal_(&mut generator, buf, 0.0, 1.0);
        });
        result?;
        rates.insert("torch_mode_normal".into(), rate.into());
        beside.insert("torch_mode_normal".into(), write.into());
        for (name, init) in fills() {
            let stream = Philox::new(0, name);
            let mut result = Ok(());
            let (rate, write) = best_rates(repeats, &mut buf, |buf| {
                result = init.fill(&spec, &stream, buf);
            });
            result?;
            rates.insert(name.into(), rate.into());
            beside.insert(name.into(), write.into());
        }
        // The truncated normals beside the normal fill, in f32 and in f64 (same element
        // count; the f64 figures are elements per second, as the f32 ones).
        let normal = Init::Normal(Normal::new(0.0, 1.0)?);
        for (name, trunc) in truncated_normals().into_iter().skip(1) {
            let stream = Philox::new(0, name);
            let mut result = Ok(());
            let (rate, write) = best_rates(repeats, &mut buf, |buf| {
                result = Init::TruncatedNormal(trunc).fill(&spec, &stream, buf);
            });
            result?;
            rates.insert(name.into(), rate.into());
            beside.insert(name.into(), write.into());
        }
        // The normal fill into half-precision buffers: the f32 kernel and the rounding.
        let bf16_best = best_fill_secs(repeats, &normal, &spec, vec![half::bf16::ZERO; FILL_LEN])?;
        rates.insert("normal_bf16".into(), msamples_per_s(bf16_best).into());
        let f16_best = best_fill_secs(repeats, &normal, &spec, vec![half::f16::ZERO; FILL_LEN])?;
        rates.insert("normal_f16".into(), msamples_per_s(f16_best).into());
        let f64_fills = std::iter::once(("normal", normal))
            .chain(truncated_normals().into_iter().map(|(name, t)| (name, Init::TruncatedNormal(t))));
        for (name, init) in f64_fills {
            let best = best_fill_secs(repeats, &init, &spec, vec![1.0f64; FILL_LEN])?;
            rates.insert(format!("{name}_f64"), msamples_per_s(best).into());
        }
        Ok(())
    })?;
    let best_write = beside.values().filter_map(|v| v.as_f64()).fold(0.0, f64::max);
    rates.insert("memory_write".into(), best_write.into());
    let report = serde_json::json!({
        "threads": threads,
        "elements": FILL_LEN,
        "msamples_per_s": rates,
        "memory_write_beside": beside,
    });
    println!("{report}");
    Ok(())
}
