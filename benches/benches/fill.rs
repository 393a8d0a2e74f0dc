//! Fill throughput of nninit's initializers beside a plain memory write, and
//! orthogonal initialization at 1024² and 4096² beside faer's own QR and thin Q of a
//! matrix of the same Gaussians (`Mat::qr` then `Qr::compute_thin_Q`, faer's global
//! parallelism: what a user of faer would write).
//!
//! `cargo bench -p nninit-benches`; `RAYON_NUM_THREADS=1` for one thread (the memory-write
//! baseline runs on the same rayon pool as the fills).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nninit::stream::Philox;
use nninit_benches::{FILL_LEN, fills, flat_spec};

fn fill(c: &mut Criterion) {
    let mut group = c.benchmark_group("fill_2^26_f32");
    group.throughput(Throughput::Elements(FILL_LEN as u64));
    group.sample_size(10);
    let mut buf = vec![0.0f32; FILL_LEN];
    group.bench_function("memory_write_baseline", |b| b.iter(|| nninit_benches::memory_write(&mut buf)));
    let spec = flat_spec(FILL_LEN);
    for (name, init) in fills() {
        let stream = Philox::new(0, name);
        group.bench_function(name, |b| {
            b.iter(|| {
                init.fill(&spec, &stream, &mut buf).expect("fill");
                black_box(&buf);
            })
        });
    }
    group.finish();
}

fn orthogonal(c: &mut Criterion) {
    let mut group = c.benchmark_group("orthogonal_f32");
    group.sample_size(10);
    for n in [1024usize, 4096] {
        let (init, spec, stream) = nninit_benches::orthogonal(n);
        let mut buf = vec![0.0f32; n * n];
        group.bench_function(format!("{n}x{n}"), |b| {
            b.iter(|| {
                init.fill(&spec, &stream, &mut buf).expect("fill");
                black_box(&buf);
            })
        });
        let a = nninit_benches::faer_gaussians(n);
        group.bench_function(format!("faer_qr_thin_q_{n}x{n}"), |b| b.iter(|| black_box(a.qr().compute_thin_Q())));
    }
    group.finish();
}

criterion_group!(benches, fill, orthogonal);
criterion_main!(benches);
