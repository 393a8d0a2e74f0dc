//! Value stability: the first values of every random rule for a fixed seed and
//! name, as bit patterns. A change here is a value-breaking change: record it
//! in CHANGELOG.md with the new vectors.

use nninit::activation::Activation;
use nninit::init::{Correction, Normal, Orthogonal, Sparse, TruncatedNormal, Truncation, Uniform, VarianceScaling};
use nninit::stream::Philox;
use nninit::{FanMode, Init, Shape, TensorSpec};

fn rules() -> Vec<(&'static str, Init)> {
    vec![
        ("uniform", Init::Uniform(Uniform::new(-0.5, 0.5).unwrap())),
        ("normal", Init::Normal(Normal::new(0.0, 0.02).unwrap())),
        (
            "truncated_normal_abs",
            Init::TruncatedNormal(
                TruncatedNormal::new(0.0, 1.0, Truncation::Absolute { low: -1.0, high: 2.0 }).unwrap(),
            ),
        ),
        (
            "truncated_normal_std",
            Init::TruncatedNormal(
                TruncatedNormal::new(
                    0.0,
                    0.1,
                    Truncation::Std { lower: -2.0, upper: 2.0, correction: Correction::PreserveStd },
                )
                .unwrap(),
            ),
        ),
        (
            "truncated_normal_wide",
            Init::TruncatedNormal(
                TruncatedNormal::new(0.0, 0.02, Truncation::Absolute { low: -2.0, high: 2.0 }).unwrap(),
            ),
        ),
        ("kaiming_uniform", VarianceScaling::kaiming_uniform(FanMode::FanIn, Activation::Relu).unwrap().into()),
        ("kaiming_normal", VarianceScaling::kaiming_normal(FanMode::FanOut, Activation::Relu).unwrap().into()),
        ("lecun_normal", VarianceScaling::lecun_normal().into()),
        ("orthogonal", Init::Orthogonal(Orthogonal::new(1.0).unwrap())),
        ("sparse", Init::Sparse(Sparse::new(0.5, 0.1).unwrap())),
    ]
}

fn first_bits(init: &Init) -> (Vec<u32>, Vec<u64>) {
    let spec = TensorSpec::new(Shape::new(vec![8, 6]).unwrap());
    let stream = Philox::new(20_261_129, "layers.3.mlp.down_proj.weight");
    let mut f = vec![0.0f32; 48];
    init.fill(&spec, &stream, &mut f).unwrap();
    let mut d = vec![0.0f64; 48];
    init.fill(&spec, &stream, &mut d).unwrap();
    (f[..6].iter().map(|v| v.to_bits()).collect(), d[..3].iter().map(|v| v.to_bits()).collect())
}

/// Orthogonal values depend on faer's QR, whose rounding may differ between
/// CPUs (its kernels are chosen at run time): compare them to 1e-6, not bits.
const ROUNDING_DEPENDENT: &[&str] = &["orthogonal"];

#[rustfmt::skip]
const EXPECTED: &[(&str, [u32; 6], [u64; 3])] = &[
    ("uniform", [0x3e389768,0x3ec1ec8a,0xbe992480,0x3d44cc70,0xbe19a15c,0x3ed0cde2], [0x3fd83d91416b8976,0x3fa8998f2e66db80,0x3fda19bc50d665ea]),
    ("normal", [0x3cb308f8,0xbcaac636,0xbc518767,0xbb827ef4,0x3c7e8980,0xbc26775b], [0xbfa4158ee465986a,0xbf890464c5660d80,0x3f89f00bb179ad78]),
    ("truncated_normal_abs", [0x3f11cf98,0x3f952085,0xbeeb0640,0x3e8b63b2,0xbe0d4350,0x3fa55ac4], [0x3ff2a410b8a38361,0x3fd16c76be9fce00,0x3ff4ab58bebaf791]),
    ("truncated_normal_std", [0x3d4f80af,0x3dfd208a,0xbdb82414,0x3c569712,0xbd2ae90f,0x3e0e5476], [0x3fbfa4112a6ea4f3,0x3f8ad2e384591d8a,0x3fc1ca8eef8e6756]),
    ("truncated_normal_wide", [0x3cb308f8,0xbcaac636,0xbc518767,0xbb827ef4,0x3c7e8980,0xbc26775b], [0x3f97efe00c3e2fc7,0x3f63c7adbc05669e,0x3f9b2faf01f7a188]),
    ("kaiming_uniform", [0x3eb89768,0x3f41ec8a,0xbf192480,0x3dc4cc70,0xbe99a15c,0x3f50cde2], [0x3fe83d91416b8976,0x3fb8998f2e66db80,0x3fea19bc50d665ea]),
    ("kaiming_normal", [0x3f0bdf02,0xbf056ada,0xbea3b1c9,0xbdcbe65d,0x3ec6db6c,0xbe820d3f], [0xbfef61af44debe25,0xbfd38b6eba37ba8c,0x3fd4438922a70f86]),
    ("lecun_normal", [0x3e53c813,0x3f012c63,0xbebbf024,0x3d5b03df,0xbe2e6f47,0x3f1143cf], [0x3fe0258c54287de5,0x3fab607d2d2b0d19,0x3fe2287a0549fe98]),
    ("orthogonal", [0x3e908e98,0xbe982359,0xbea4029f,0xbdc2c8a9,0x3ea2153c,0xbeb675d2], [0xbfe2b369fad949e4,0xbfd2a7e66dbee5ac,0x3fb02d4c73290411]),
    ("sparse", [0x00000000,0x00000000,0xbd82f4a1,0x00000000,0x00000000,0x00000000], [0x0000000000000000,0x0000000000000000,0x3fb036074eec0c6b]),
];

#[test]
fn values_are_stable() {
    let rules = rules();
    // Print every line first, so that a deliberate change shows all its new vectors.
    let got: Vec<_> = rules.iter().map(|(name, init)| (*name, first_bits(init))).collect();
    for (name, (f, d)) in &got {
        let hex32: Vec<String> = f.iter().map(|b| format!("{b:#010x}")).collect();
        let hex64: Vec<String> = d.iter().map(|b| format!("{b:#018x}")).collect();
        eprintln!("    (\"{name}\", [{}], [{}]),", hex32.join(","), hex64.join(","));
    }
    assert_eq!(EXPECTED.len(), rules.len(), "a rule without its expected vector");
    for ((name, (f, d)), (expected_name, f32_bits, f64_bits)) in got.iter().zip(EXPECTED) {
        assert_eq!(name, expected_name);
        if ROUNDING_DEPENDENT.contains(name) {
            for (got, want) in f.iter().zip(f32_bits) {
                assert!((f32::from_bits(*got) - f32::from_bits(*want)).abs() < 1e-6, "{name} f32");
            }
            for (got, want) in d.iter().zip(f64_bits) {
                assert!((f64::from_bits(*got) - f64::from_bits(*want)).abs() < 1e-12, "{name} f64");
            }
        } else {
            assert_eq!(f, f32_bits, "{name} f32: a value-breaking change, see CHANGELOG.md");
            assert_eq!(d, f64_bits, "{name} f64: a value-breaking change, see CHANGELOG.md");
        }
    }
}
