//! Tests of the stream as a whole: known answers, random access, chunking and thread
//! invariance, identical kernel variants, and sanity of moments.

use super::kernels::{self, Path};
use super::*;

/// A small deterministic generator for test positions (SplitMix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Element `i` computed the slow way, one block per element, from the specification.
fn reference_f32(p: &Philox, kind: &str, i: u64) -> f32 {
    let w = p.block(i / 4);
    let k = (i % 4) as usize;
    match kind {
        "uniform" => {
            let u = (w[k] >> 8) as f32 * (1.0 / 16_777_216.0);
            let v = -0.5 + (2.0 - -0.5) * u;
            v.min(2.0)
        }
        "normal" => {
            let (c, s) = kernels::box_muller_f32(w[k & 2], w[(k & 2) + 1]);
            let z = if k.is_multiple_of(2) { c } else { s };
            3.0f32.mul_add(z, 0.25)
        }
        _ => unreachable!(),
    }
}

fn fill_f32(p: &Philox, kind: &str, start: u64, out: &mut [f32]) {
    match kind {
        "uniform" => p.uniform_f32(start, out, -0.5, 2.0),
        "normal" => p.normal_f32(start, out, 0.25, 3.0),
        _ => unreachable!(),
    }
}

fn fill_f64(p: &Philox, kind: &str, start: u64, out: &mut [f64]) {
    match kind {
        "uniform" => p.uniform_f64(start, out, -0.5, 2.0),
        "normal" => p.normal_f64(start, out, 0.25, 3.0),
        "unit_open" => p.unit_open_f64(start, out),
        _ => unreachable!(),
    }
}

const KINDS_F32: [&str; 2] = ["uniform", "normal"];
const KINDS_F64: [&str; 3] = ["uniform", "normal", "unit_open"];

#[test]
fn name_hash_known_answers() {
    assert_eq!(fnv1a_64(""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64("a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64("weight"), 0x6911_f8de_1f27_bf19);
    assert_eq!(fnv1a_64("layers.0.mlp.fc1.weight"), 0xd753_8eea_be50_2e92);
    assert_eq!(fnv1a_64("a\0b"), 0xe5d2_9919_0426_66b2);
    let p = Philox::new(5, "a");
    assert_eq!(p.derive("b"), Philox::new(5, "a\0b"));
    assert_eq!(p.derive("b").derive("c"), Philox::new(5, "a\0b\0c"));
    assert_eq!(p.derive("b").seed(), 5);
    assert_eq!(Philox::from_name_hash(5, p.name_hash()), p);
}

#[test]
fn block_is_philox_of_the_documented_counter() {
    let p = Philox::new(0x0123_4567_89ab_cdef, "x");
    let h = p.name_hash();
    let j = 0x0000_0007_ffff_fffe_u64;
    assert_eq!(
        p.block(j),
        philox4x32_10([j as u32, (j >> 32) as u32, h as u32, (h >> 32) as u32], [0x89ab_cdef, 0x0123_4567])
    );
}

/// The known answers printed in the module docs (first 8 elements, `mean = 0`,
/// `std = 1`, `low = 0`, `high = 1`). An independent implementation of the
/// specification (Python with numpy float32 arithmetic) gives the same bits.
#[test]
fn stream_known_answers() {
    struct Kat {
        seed: u64,
        name: &'static str,
        hash: u64,
        block0: [u32; 4],
        normal_f32: [u32; 8],
        uniform_f32: [u32; 8],
        normal_f64: [u64; 8],
        uniform_f64: [u64; 8],
        unit_open_f64: [u64; 8],
        below_1000: [u64; 8],
    }
    let kats = [
        Kat {
            seed: 0,
            name: "weight",
            hash: 0x6911_f8de_1f27_bf19,
            block0: [0xd5ec_2650, 0x4bcc_8589, 0x3a9a_2fd6, 0x0042_789e],
            normal_f32: [
                0xbf0a_ebc4,
                0x3fe9_1dc7,
                0x3f38_95cd,
                0x3b96_912e,
                0x3f2b_8e9f,
                0xbdc3_4972,
                0xbfae_1f12,
                0xbf7d_83ac,
            ],
            uniform_f32: [
                0x3f55_ec26,
                0x3e97_990a,
                0x3e6a_68bc,
                0x3a84_f000,
                0x3e51_a8e0,
                0x3f7a_3dc2,
                0x3f41_d8d0,
                0x3f19_a36b,
            ],
            normal_f64: [
                0x3fea_d094_ce5f_a982,
                0x3f75_dfad_cca9_6f6d,
                0xc001_d135_ec7c_91a3,
                0xbff9_f0f4_e73a_e17a,
                0xbfaf_9cf2_bbdf_617a,
                0x3fe6_4e5c_6827_0e57,
                0xbfd8_8ef6_ad22_4465,
                0x3fc7_86b5_6282_0057,
            ],
            uniform_f64: [
                0x3fd2_f321_6275_7b08,
                0x3f50_9e27_8ea6_8a00,
                0x3fef_47b8_5b26_8d47,
                0x3fe3_346d_6738_3b1a,
                0x3fcb_cca7_51ce_06c0,
                0x3fd0_e65f_7397_3d6c,
                0x3fb6_275d_8bb7_7ed0,
                0x3fdb_7334_21a3_8f7e,
            ],
            unit_open_f64: [
                0x3fd2_f321_6275_7b0a,
                0x3f50_9e27_8ea6_8a00,
                0x3fef_47b8_5b26_8d47,
                0x3fe3_346d_6738_3b1b,
                0x3fcb_cca7_51ce_06c4,
                0x3fd0_e65f_7397_3d6e,
                0x3fb6_275d_8bb7_7ed8,
                0x3fdb_7334_21a3_8f7e,
            ],
            below_1000: [296, 977, 217, 86, 317, 913, 73, 463],
        },
        Kat {
            seed: 2024,
            name: "layers.0.mlp.fc1.weight",
            hash: 0xd753_8eea_be50_2e92,
            block0: [0xdc78_46d3, 0x2acf_cb40, 0x3191_e3d7, 0x074e_655b],
            normal_f32: [
                0x3f7c_cfd6,
                0x3fdc_c09d,
                0x3f25_42e7,
                0x3def_a770,
                0x3fa7_2400,
                0xbf65_8d03,
                0x3d87_570c,
                0xbdaf_0477,
            ],
            uniform_f32: [
                0x3f5c_7846,
                0x3e2b_3f2c,
                0x3e46_478c,
                0x3ce9_cca0,
                0x3f36_fd06,
                0x3f67_7b96,
                0x3bbe_a580,
                0x3f5a_d1bb,
            ],
            normal_f64: [
                0x3fe3_0c8a_ca57_48af,
                0x3fbb_9fbb_77e0_6b28,
                0x3ff5_333e_17a6_94fd,
                0xbffb_6a56_4d30_51ad,
                0xbfd9_26eb_51cf_ccc7,
                0xbfe1_4b0e_fa70_12a4,
                0x3fb8_d2ea_5361_96db,
                0x3fed_20c8_3c1f_a1e9,
            ],
            uniform_f64: [
                0x3fc5_67e5_a06e_3c20,
                0x3f9d_3995_6cc6_4780,
                0x3fec_ef72_c636_dfa0,
                0x3feb_5a37_6840_2fa9,
                0x3fc9_9c52_e68e_9ae0,
                0x3fe4_cc38_2730_fb6d,
                0x3fd5_e7f6_f565_68fc,
                0x3fcd_d684_96e2_4aec,
            ],
            unit_open_f64: [
                0x3fc5_67e5_a06e_3c24,
                0x3f9d_3995_6cc6_47a0,
                0x3fec_ef72_c636_dfa1,
                0x3feb_5a37_6840_2fa9,
                0x3fc9_9c52_e68e_9ae4,
                0x3fe4_cc38_2730_fb6d,
                0x3fd5_e7f6_f565_68fe,
                0x3fcd_d684_96e2_4aec,
            ],
            below_1000: [167, 904, 200, 342, 80, 479, 823, 853],
        },
    ];
    for k in kats {
        let p = Philox::new(k.seed, k.name);
        assert_eq!(p.name_hash(), k.hash, "{}", k.name);
        assert_eq!(p.block(0), k.block0, "{}", k.name);
        let mut a = [0f32; 8];
        p.normal_f32(0, &mut a, 0.0, 1.0);
        assert_eq!(a.map(f32::to_bits), k.normal_f32, "{}", k.name);
        p.uniform_f32(0, &mut a, 0.0, 1.0);
        assert_eq!(a.map(f32::to_bits), k.uniform_f32, "{}", k.name);
        let mut b = [0f64; 8];
        p.normal_f64(0, &mut b, 0.0, 1.0);
        assert_eq!(b.map(f64::to_bits), k.normal_f64, "{}", k.name);
        p.uniform_f64(0, &mut b, 0.0, 1.0);
        assert_eq!(b.map(f64::to_bits), k.uniform_f64, "{}", k.name);
        p.unit_open_f64(0, &mut b);
        assert_eq!(b.map(f64::to_bits), k.unit_open_f64, "{}", k.name);
        assert_eq!(core::array::from_fn(|j| p.uniform_below(j as u64, 1000)), k.below_1000);
    }
}

/// The vectorized body, the unaligned head and the tail all equal the one-block-per-
/// element reference, at every alignment.
#[test]
fn fills_equal_the_per_element_reference() {
    let p = Philox::new(99, "ref");
    for kind in KINDS_F32 {
        for start in [0u64, 1, 2, 3, 4, 5, 63, 64, 65, 1_000_001] {
            let mut out = vec![0f32; 300];
            fill_f32(&p, kind, start, &mut out);
            for (k, &v) in out.iter().enumerate() {
                let r = reference_f32(&p, kind, start + k as u64);
                assert_eq!(v.to_bits(), r.to_bits(), "{kind} start {start} k {k}");
            }
        }
    }
}

#[test]
fn f64_fills_follow_the_documented_word_layout() {
    let p = Philox::new(3, "f64");
    let mut u = vec![0f64; 101];
    let mut open = vec![0f64; 101];
    let mut n = vec![0f64; 101];
    p.uniform_f64(7, &mut u, 0.0, 1.0);
    p.unit_open_f64(7, &mut open);
    p.normal_f64(7, &mut n, 0.0, 1.0);
    for k in 0..101 {
        let i = 7 + k as u64;
        let w = p.block(i / 2);
        let x = if i.is_multiple_of(2) {
            u64::from(w[1]) << 32 | u64::from(w[0])
        } else {
            u64::from(w[3]) << 32 | u64::from(w[2])
        };
        assert_eq!(u[k], (x >> 11) as f64 / 2f64.powi(53));
        assert_eq!(open[k], ((x >> 12) as f64 + 0.5) / 2f64.powi(52));
        let (c, s) =
            kernels::box_muller_f64(u64::from(w[1]) << 32 | u64::from(w[0]), u64::from(w[3]) << 32 | u64::from(w[2]));
        assert_eq!(n[k], if i.is_multiple_of(2) { c } else { s });
    }
}

/// A slice made alone equals the same elements of the whole tensor.
#[test]
fn slices_equal_the_full_fill() {
    const N: usize = 5000;
    let p = Philox::new(2024, "layers.0.mlp.fc1.weight");
    let mut rng = SplitMix(1);
    let mut cases: Vec<(usize, usize)> = Vec::new();
    for len in [0usize, 1, 2, 3, 5, 17, 64, 65, 129] {
        for start in [0usize, 1, 2, 3, 4, 5, 6, 7] {
            cases.push((start, len));
        }
    }
    for _ in 0..200 {
        let start = rng.below(N as u64 - 1) as usize;
        let len = rng.below((N - start) as u64) as usize;
        cases.push((start, len));
    }
    for kind in KINDS_F32 {
        let mut full = vec![0f32; N + 200];
        fill_f32(&p, kind, 0, &mut full);
        let mut full_bf = vec![bf16::ZERO; N + 200];
        let mut full_h = vec![f16::ZERO; N + 200];
        match kind {
            "uniform" => {
                p.uniform_bf16(0, &mut full_bf, -0.5, 2.0);
                p.uniform_f16(0, &mut full_h, -0.5, 2.0);
            }
            _ => {
                p.normal_bf16(0, &mut full_bf, 0.25, 3.0);
                p.normal_f16(0, &mut full_h, 0.25, 3.0);
            }
        }
        for (k, &v) in full.iter().enumerate() {
            assert_eq!(full_bf[k], bf16::from_f32(v));
            assert_eq!(full_h[k], f16::from_f32(v));
        }
        for &(start, len) in &cases {
            let mut part = vec![0f32; len];
            fill_f32(&p, kind, start as u64, &mut part);
            assert_eq!(part, full[start..start + len], "{kind} {start}+{len}");
            let mut bf = vec![bf16::ZERO; len];
            match kind {
                "uniform" => p.uniform_bf16(start as u64, &mut bf, -0.5, 2.0),
                _ => p.normal_bf16(start as u64, &mut bf, 0.25, 3.0),
            }
            assert_eq!(bf, full_bf[start..start + len]);
        }
    }
    for kind in KINDS_F64 {
        let mut full = vec![0f64; N + 200];
        fill_f64(&p, kind, 0, &mut full);
        for &(start, len) in &cases {
            let mut part = vec![0f64; len];
            fill_f64(&p, kind, start as u64, &mut part);
            assert_eq!(part, full[start..start + len], "{kind} {start}+{len}");
        }
    }
    let mut mapped = vec![0f32; N];
    p.fill_mapped(0, &mut mapped, |u| u as f32);
    let mut open = vec![0f64; N];
    p.unit_open_f64(0, &mut open);
    assert!(mapped.iter().zip(&open).all(|(&m, &u)| m == u as f32));
    let mut part = vec![0f32; 1234];
    p.fill_mapped(777, &mut part, |u| u as f32);
    assert_eq!(part, mapped[777..777 + 1234]);
}

/// Element indices wrap at 2⁶⁴: a fill across the end equals its two halves.
#[test]
fn indices_wrap_at_the_end_of_u64() {
    let p = Philox::new(1, "wrap");
    let start = u64::MAX - 6;
    let mut across = [0f32; 20];
    p.normal_f32(start, &mut across, 0.0, 1.0);
    let mut end = [0f32; 7];
    let mut begin = [0f32; 13];
    p.normal_f32(start, &mut end, 0.0, 1.0);
    p.normal_f32(0, &mut begin, 0.0, 1.0);
    assert_eq!(across[..7], end);
    assert_eq!(across[7..], begin);
    let mut d = [0f64; 20];
    p.unit_open_f64(start, &mut d);
    let mut d0 = [0f64; 13];
    p.unit_open_f64(0, &mut d0);
    assert_eq!(d[7..], d0);
}

/// Sequential fills in arbitrary chunk sizes equal one fill, and `par_fill` gives the
/// same bytes on a 1-thread and a 2-thread pool.
#[test]
fn chunking_and_thread_count_do_not_matter() {
    const N: usize = 3 * PAR_CHUNK + 12_345;
    let p = Philox::new(42, "big");
    let mut whole = vec![0f32; N];
    p.normal_f32(3, &mut whole, 0.0, 1.0);

    let mut rng = SplitMix(7);
    let mut pieces = vec![0f32; N];
    let mut at = 0;
    while at < N {
        let len = (1 + rng.below(5000) as usize).min(N - at);
        p.normal_f32(3 + at as u64, &mut pieces[at..at + len], 0.0, 1.0);
        at += len;
    }
    assert_eq!(pieces, whole);

    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut par = vec![0f32; N];
        pool.install(|| par_fill(3, &mut par, |s, c| p.normal_f32(s, c, 0.0, 1.0)));
        assert_eq!(par, whole, "{threads} threads");
        let mut par64 = vec![0f64; N];
        pool.install(|| par_fill(3, &mut par64, |s, c| p.unit_open_f64(s, c)));
        let mut seq64 = vec![0f64; N];
        p.unit_open_f64(3, &mut seq64);
        assert_eq!(par64, seq64, "{threads} threads");
    }
}

/// Reports a test that could not check what it is for, on the test's standard error
/// itself, which the test harness does not capture: a skip is never silent.
pub(super) fn skipped(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED stream::{test}: {reason}");
}

/// The baseline build and the AVX2 build of the kernels give the same bits.
#[test]
fn kernel_variants_are_identical() {
    let variants = [Path::Baseline, Path::best()];
    #[cfg(target_arch = "x86_64")]
    if super::simd::avx2_fma_available() {
        assert_eq!(Path::best(), Path::Avx2, "AVX2 and FMA present but not chosen");
    } else {
        skipped(
            "kernel_variants_are_identical",
            "no AVX2 and FMA on this CPU: the baseline build is compared with itself",
        );
    }
    let p = Philox::new(11, "variants");
    let keys = p.keys();
    let mut rng = SplitMix(3);
    for _ in 0..20 {
        let start = rng.next() >> rng.below(64);
        let len = rng.below(3000) as usize;
        let mut f32s = variants.map(|_| vec![0f32; len]);
        let mut f64s = variants.map(|_| vec![0f64; len]);
        for (v, path) in variants.into_iter().enumerate() {
            kernels::fill_with(path, kernels::NormalF32 { mean: 0.5, std: 2.0 }, keys, start, &mut f32s[v]);
            kernels::fill_with(path, kernels::NormalF64 { mean: 0.5, std: 2.0 }, keys, start, &mut f64s[v]);
        }
        assert_eq!(bits32(&f32s[0]), bits32(&f32s[1]), "normal_f32 start {start} len {len}");
        assert_eq!(bits64(&f64s[0]), bits64(&f64s[1]), "normal_f64 start {start} len {len}");
        for (v, path) in variants.into_iter().enumerate() {
            kernels::fill_with(path, kernels::UniformF32 { low: -1.0, high: 3.0 }, keys, start, &mut f32s[v]);
            kernels::fill_with(path, kernels::UniformF64 { low: -1.0, high: 3.0 }, keys, start, &mut f64s[v]);
        }
        assert_eq!(bits32(&f32s[0]), bits32(&f32s[1]), "uniform_f32 start {start} len {len}");
        assert_eq!(bits64(&f64s[0]), bits64(&f64s[1]), "uniform_f64 start {start} len {len}");
        for (v, path) in variants.into_iter().enumerate() {
            kernels::fill_with(path, kernels::UnitOpenF64, keys, start, &mut f64s[v]);
        }
        assert_eq!(bits64(&f64s[0]), bits64(&f64s[1]), "unit_open_f64 start {start} len {len}");
        // The truncated normal's vector body and its per-word form agree: σ 0.02 at ±2σ
        // (a few tail values per 64, patched over the centre's), ±3σ, [1σ, 3σ] (about
        // half the values in the tail), [2σ, 3σ] (every value in the tail: the kernel
        // skips the centre) and a one-sided interval out to 8σ (every value in the tail,
        // some in the far tail).
        let cdf = crate::gaussian::cdf;
        for trunc in [
            kernels::TruncatedF32::new(0.0, 0.02, -0.04, 0.04, cdf(-2.0), cdf(2.0), false),
            kernels::TruncatedF32::new(0.0, 1.0, -3.0, 3.0, cdf(-3.0), cdf(3.0), false),
            kernels::TruncatedF32::new(0.0, 1.0, 1.0, 3.0, cdf(1.0), cdf(3.0), false),
            kernels::TruncatedF32::new(0.0, 1.0, 2.0, 3.0, crate::gaussian::sf(2.0), crate::gaussian::sf(3.0), true),
            kernels::TruncatedF32::new(1.0, 1.0, 3.0, 9.0, crate::gaussian::sf(2.0), crate::gaussian::sf(8.0), true),
        ] {
            let trunc = trunc.expect("an f32 interval");
            for (v, path) in variants.into_iter().enumerate() {
                kernels::fill_with(path, trunc, keys, start, &mut f32s[v]);
            }
            assert_eq!(bits32(&f32s[0]), bits32(&f32s[1]), "truncated_f32 start {start} len {len}");
            for (k, x) in f32s[1].iter().enumerate() {
                let i = start.wrapping_add(k as u64);
                let w = p.block(i / 4)[(i % 4) as usize];
                assert_eq!(x.to_bits(), trunc.value(w).to_bits(), "truncated_f32 element {i}");
            }
        }
    }
}

/// The hand-written AVX2 normal kernel equals the portable build bit for bit: over
/// 2²⁰ + 3 elements in one fill, and over many random starts (unaligned ones, starts
/// whose blocks cross a 2³² boundary so that the high counter word carries inside a
/// vector, and starts near the end of u64) and lengths.
#[test]
fn avx2_normal_kernel_equals_the_portable_build() {
    let best = Path::best();
    if best == Path::Baseline {
        skipped("avx2_normal_kernel_equals_the_portable_build", "no AVX2 and FMA on this CPU: nothing to compare");
        return;
    }
    let p = Philox::new(0x5eed, "avx2.vs.portable");
    let keys = p.keys();
    let map = kernels::NormalF32 { mean: -0.75, std: 0.02 };
    let compare = |start: u64, len: usize| {
        let mut fast = vec![0f32; len];
        let mut portable = vec![0f32; len];
        kernels::fill_with(best, map, keys, start, &mut fast);
        kernels::fill_with(Path::Baseline, map, keys, start, &mut portable);
        assert_eq!(bits32(&fast), bits32(&portable), "start {start} len {len}");
    };
    compare(5, (1 << 20) + 3);
    let mut rng = SplitMix(17);
    for case in 0..400u64 {
        let start = match case % 4 {
            0 => rng.below(1 << 20),
            // Block index just below a multiple of 2^32: the carry lands mid-vector.
            1 => (((1 + rng.below(1 << 20)) << 32) - 1 - rng.below(40)) * 4 + rng.below(4),
            2 => u64::MAX - rng.below(300),
            _ => rng.next(),
        };
        compare(start, rng.below(700) as usize);
    }
    // Parameters that make every bit of the result matter: zero std gives `mean` (or
    // NaN for infinite std), and a huge std the raw products.
    for (mean, std) in [(0.0, 1.0), (3.0, 0.0), (-1e30, 1e30), (0.5, f32::INFINITY), (f32::NAN, 1.0)] {
        let map = kernels::NormalF32 { mean, std };
        let mut fast = vec![0f32; 300];
        let mut portable = vec![0f32; 300];
        kernels::fill_with(best, map, keys, 1, &mut fast);
        kernels::fill_with(Path::Baseline, map, keys, 1, &mut portable);
        assert_eq!(bits32(&fast), bits32(&portable), "mean {mean} std {std}");
    }
}

fn bits32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn bits64(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Mean and variance of `n` samples against `(mean, var)` with thresholds from the
/// sampling distribution: |m − μ| ≤ 5σ/√n, |s²/σ² − 1| ≤ 5·√((κ − 1)/n), κ the kurtosis.
fn check_moments(x: impl Iterator<Item = f64>, mean: f64, var: f64, kurtosis: f64, what: &str) {
    let (mut n, mut s, mut s2) = (0f64, 0f64, 0f64);
    for v in x {
        n += 1.0;
        s += v;
        s2 += v * v;
    }
    let m = s / n;
    let v = (s2 - n * m * m) / (n - 1.0);
    let mean_tol = 5.0 * (var / n).sqrt();
    let var_tol = 5.0 * ((kurtosis - 1.0) / n).sqrt();
    eprintln!("{what}: mean {m:.5} (tol {mean_tol:.5}), var/σ² {:.5} (tol {var_tol:.5})", v / var);
    assert!((m - mean).abs() <= mean_tol, "{what}: mean {m}");
    assert!((v / var - 1.0).abs() <= var_tol, "{what}: variance {v}");
}

#[test]
fn moments_are_sane() {
    const N: usize = 1_000_000;
    let p = Philox::new(2024, "moments");
    let mut x = vec![0f32; N];
    p.normal_f32(0, &mut x, 0.0, 1.0);
    check_moments(x.iter().map(|&v| f64::from(v)), 0.0, 1.0, 3.0, "normal_f32");
    p.uniform_f32(0, &mut x, -1.0, 1.0);
    check_moments(x.iter().map(|&v| f64::from(v)), 0.0, 1.0 / 3.0, 1.8, "uniform_f32");
    let mut d = vec![0f64; N];
    p.normal_f64(0, &mut d, 0.0, 1.0);
    check_moments(d.iter().copied(), 0.0, 1.0, 3.0, "normal_f64");
    p.uniform_f64(0, &mut d, -1.0, 1.0);
    check_moments(d.iter().copied(), 0.0, 1.0 / 3.0, 1.8, "uniform_f64");
    p.unit_open_f64(0, &mut d);
    check_moments(d.iter().copied(), 0.5, 1.0 / 12.0, 1.8, "unit_open_f64");
    assert!(d.iter().all(|&u| u > 0.0 && u < 1.0));
    // The Box–Muller pair partners are uncorrelated.
    p.normal_f32(0, &mut x, 0.0, 1.0);
    let r: f64 = x.chunks_exact(2).map(|c| f64::from(c[0]) * f64::from(c[1])).sum::<f64>();
    let r = r / (N / 2) as f64;
    assert!(r.abs() <= 5.0 / ((N / 2) as f64).sqrt(), "pair correlation {r}");
}

#[test]
fn extreme_words_give_finite_values_in_range() {
    use kernels::box_muller_f32;
    // u1 = 2^-24 (the smallest) gives the largest radius, sqrt(48 ln 2) ≈ 5.768.
    let (c, s) = box_muller_f32(0xffff_ffff, 0);
    assert_eq!(s, 0.0);
    assert!((f64::from(c) - (48.0 * core::f64::consts::LN_2).sqrt()).abs() < 1e-6);
    // u1 = 1 gives r = 0.
    assert_eq!(box_muller_f32(0, 0x1234_5678), (0.0, 0.0));
    let (c, s) = kernels::box_muller_f64(u64::MAX, 0);
    assert!(c.is_finite() && s == 0.0);
    // Uniforms: the top of the range is clamped to `high`; the bottom is `low`.
    let p = Philox::new(0, "u");
    let mut out = [0f32; 4000];
    p.uniform_f32(0, &mut out, 1.0, 1.0 + f32::EPSILON);
    assert!(out.iter().all(|&v| (1.0..=1.0 + f32::EPSILON).contains(&v)));
}

#[test]
fn uniform_below_is_in_range() {
    let p = Philox::new(9, "perm");
    for n in [1u64, 2, 3, 10, 1 << 40, u64::MAX] {
        for j in 0..1000 {
            assert!(p.uniform_below(j, n) < n);
        }
    }
    assert_eq!(p.uniform_below(5, 0), 0);
    assert_eq!(p.uniform_below(5, 1), 0);
    // Equal to the documented formula.
    let w = p.block(17);
    let x = u64::from(w[1]) << 32 | u64::from(w[0]);
    assert_eq!(p.uniform_below(17, 1000), ((u128::from(x) * 1000) >> 64) as u64);
    // Roughly uniform over a small range.
    let mut counts = [0u32; 10];
    for j in 0..100_000 {
        counts[p.uniform_below(j, 10) as usize] += 1;
    }
    // Binomial(1e5, 0.1): sd ≈ 94.9; 5 sd.
    assert!(counts.iter().all(|&c| (c as i64 - 10_000).abs() < 475), "{counts:?}");
}

/// Known answers of the documented shuffle, from an independent Python implementation of
/// the specification (Philox, FNV-1a, `uniform_below` and the loop of the module docs).
#[test]
fn shuffle_known_answers() {
    let weight = Philox::new(0, "weight");
    let fc1 = Philox::new(2024, "layers.0.mlp.fc1.weight");
    assert_eq!(weight.permutation(0, 10), [2, 9, 3, 0, 5, 1, 6, 8, 7, 4]);
    assert_eq!(weight.permutation(1, 10), [2, 8, 9, 3, 7, 0, 4, 6, 1, 5]);
    assert_eq!(fc1.permutation(0, 10), [1, 9, 3, 5, 4, 7, 0, 6, 2, 8]);
    assert_eq!(fc1.permutation(1, 10), [2, 7, 8, 1, 6, 5, 9, 3, 4, 0]);
    // Round u64::MAX starts at block u64::MAX · 10 (mod 2⁶⁴) and wraps inside the round.
    assert_eq!(weight.permutation(u64::MAX, 10), [6, 9, 3, 7, 1, 0, 2, 5, 8, 4]);
}

/// A partial shuffle is the first steps of the full one: the chosen items are the head of
/// the permutation of the same round, and `k` is clamped to the length.
#[test]
fn partial_shuffle_is_the_head_of_the_permutation() {
    let p = Philox::new(5, "w\0sparse_mask");
    for n in [0usize, 1, 2, 7, 64] {
        for round in [0u64, 1, 9, u64::MAX] {
            let full = p.permutation(round, n);
            for k in [0, 1, n / 2, n, n + 3] {
                let mut items: Vec<usize> = (0..n).collect();
                let head = p.partial_shuffle(round, &mut items, k).to_vec();
                assert_eq!(head, full[..k.min(n)], "n {n} round {round} k {k}");
                let mut sorted = items.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "n {n} round {round} k {k}");
            }
        }
    }
    // Any item type.
    let mut words = ["a", "b", "c", "d"];
    let head = p.partial_shuffle(2, &mut words, 2).to_vec();
    let perm = p.permutation(2, 4);
    assert_eq!(head, [["a", "b", "c", "d"][perm[0]], ["a", "b", "c", "d"][perm[1]]]);
}

/// The six orders of three items come out equally often: Pearson's χ² over 60,000 rounds
/// (5 degrees of freedom) stays below 35.9, which a uniform shuffle exceeds with
/// probability 10⁻⁶; and in partial shuffles of 3 of 10 items, each item is chosen
/// Binomial(20,000, 0.3) times, within 5 sd (about 6·10⁻⁶ for any of the ten to fail).
#[test]
fn shuffles_are_uniform() {
    let p = Philox::new(3, "uniformity");
    let rounds = 60_000u64;
    let mut counts = std::collections::HashMap::new();
    for r in 0..rounds {
        *counts.entry(p.permutation(r, 3)).or_insert(0u64) += 1;
    }
    assert_eq!(counts.len(), 6);
    let expected = rounds as f64 / 6.0;
    let chi2: f64 = counts.values().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    assert!(chi2 < 35.9, "chi2 {chi2}: {counts:?}");

    let q = p.derive("partial");
    let (rounds, n, k) = (20_000u64, 10usize, 3usize);
    let mut chosen = [0u64; 10];
    let mut items: Vec<usize> = Vec::with_capacity(n);
    for r in 0..rounds {
        items.clear();
        items.extend(0..n);
        for &i in q.partial_shuffle(r, &mut items, k).iter() {
            chosen[i] += 1;
        }
    }
    let (mean, sd) = (rounds as f64 * 0.3, (rounds as f64 * 0.3 * 0.7).sqrt());
    assert!(chosen.iter().all(|&c| (c as f64 - mean).abs() < 5.0 * sd), "{chosen:?}");
}
