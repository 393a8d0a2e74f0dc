//! Prints the time of nninit's orthogonal initializer and of faer's own QR and thin Q of the
//! same Gaussians, as JSON, for scripts/bench-orthogonal.py.
//!
//! Usage: `orthogonal THREADS REPEATS N`. Each figure is the best of REPEATS calls (after one
//! untimed call) at `N × N` f32, in seconds, on a rayon pool of THREADS threads; faer runs with
//! `Par::rayon(THREADS)`, its parallelism as a faer user would set it for that many threads.

use std::hint::black_box;
use std::time::Instant;

/// Best seconds of `repeats` calls of `f`, after one untimed call.
fn best_secs(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let repeats: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let n: usize = args.next().map_or(Ok(4096), |a| a.parse())?;
    if threads == 0 || repeats == 0 || !(1..=16384).contains(&n) {
        return Err("THREADS and REPEATS must be at least 1, N within 1..=16384".into());
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let (nninit_s, faer_s) = pool.install(|| -> Result<(f64, f64), nninit::Error> {
        let (init, spec, stream) = nninit_benches::orthogonal(n);
        let mut buf = vec![0.0f32; n * n];
        let mut result = Ok(());
        let nninit_s = best_secs(repeats, || {
            result = init.fill(&spec, &stream, &mut buf);
            black_box(&buf);
        });
        result?;
        let a = nninit_benches::faer_gaussians(n);
        faer::set_global_parallelism(faer::Par::rayon(threads));
        let faer_s = best_secs(repeats, || {
            black_box(a.qr().compute_thin_Q());
        });
        Ok((nninit_s, faer_s))
    })?;
    let report =
        serde_json::json!({ "threads": threads, "n": n, "seconds": { "nninit": nninit_s, "faer_qr_thin_q": faer_s } });
    println!("{report}");
    Ok(())
}
