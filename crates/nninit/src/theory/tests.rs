//! Tests of the theory module against closed forms and each other.

use super::*;
use crate::activation::Activation;
use crate::gaussian;
use crate::init::Init;
use std::f64::consts::PI;

fn act(name: &str) -> Activation {
    Activation::parse(name, None).unwrap()
}

fn mf(name: &str, w: f64, b: f64) -> MeanField {
    MeanField::new(act(name), w, b).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

/// The normalized arc-cosine kernel E[relu(u)relu(v)]/E[relu²] at correlation c.
fn arccos(c: f64) -> f64 {
    ((1.0 - c * c).sqrt() + (PI - c.acos()) * c) / PI
}

#[test]
fn invalid_parameters() {
    for (w, b, name) in [
        (0.0, 0.0, "sigma_w2"),
        (-1.0, 0.0, "sigma_w2"),
        (f64::NAN, 0.0, "sigma_w2"),
        (1.0, -0.1, "sigma_b2"),
        (1.0, f64::INFINITY, "sigma_b2"),
    ] {
        match MeanField::new(Activation::Tanh, w, b) {
            Err(crate::Error::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!("({w}, {b}): {other:?}"),
        }
    }
    assert!(MeanField::edge_of_chaos(Activation::Tanh, -1.0).is_err());
    assert!(phase_diagram(Activation::Tanh, &[f64::NAN], &[0.0]).is_err());
    assert!(Recommendation::for_depth(Activation::Tanh, 0).is_err());
}

#[test]
fn relu_closed_forms() {
    // V(q) = σ_w² q/2 + σ_b², χ₁ = σ_w²/2 for every q; V′ = χ₁ (the kink term vanishes).
    let m = mf("relu", 1.3, 0.2);
    for q in [1e-3, 0.5, 1.0, 7.0] {
        assert!(close(m.length_map(q), 0.65 * q + 0.2, 1e-12));
        assert!(close(m.chi1(q), 0.65, 1e-12));
        assert!(close(m.length_map_slope(q), 0.65, 1e-12));
    }
    // q* = σ_b²/(1 − σ_w²/2).
    let FixedPoint::Converged { q_star, .. } = m.fixed_point() else { panic!() };
    assert!(close(q_star, 0.2 / 0.35, 1e-11));
    // σ_b = 0: q* = 0 below the He point, q preserved at it, divergence above.
    assert_eq!(
        mf("relu", 1.5, 0.0).fixed_point().clone(),
        match mf("relu", 1.5, 0.0).fixed_point() {
            FixedPoint::Converged { q_star: 0.0, steps } => FixedPoint::Converged { q_star: 0.0, steps },
            other => panic!("{other:?}"),
        }
    );
    let FixedPoint::Converged { q_star, .. } = mf("relu", 2.0, 0.0).fixed_point_from(3.0) else { panic!() };
    assert!(close(q_star, 3.0, 1e-12));
    let FixedPoint::Diverges { growth, .. } = mf("relu", 2.5, 0.0).fixed_point() else { panic!() };
    assert!(close(growth, 1.25, 1e-9));
    assert!(matches!(
        mf("relu", 2.0, 0.1).fixed_point(),
        FixedPoint::Diverges { .. } | FixedPoint::NotConverged { .. }
    ));
    // Softplus at σ_w² = 2: q grows like l^(2/3), V(q) − q → 0: marginal.
    assert!(matches!(mf("softplus", 2.0, 0.0).fixed_point(), FixedPoint::NotConverged { .. }));
}

#[test]
fn relu_correlation_map_is_the_arccos_kernel() {
    let m = mf("relu", 2.0, 0.0);
    for c in [-0.9, -0.3, 0.0, 0.4, 0.9, 0.999, 1.0] {
        assert!((m.correlation_map(1.0, c) - arccos(c)).abs() < 1e-11, "{c}");
        // C′(c) = σ_w² E[relu′ relu′] = (π − arccos c)/π at σ_w² = 2.
        assert!((m.correlation_slope(1.0, c) - (PI - c.acos()) / PI).abs() < 1e-11, "{c}");
        assert!((m.correlation_map_fast(1.0, c) - arccos(c)).abs() < 2e-3, "{c}");
    }
    // With a bias: (σ_w² q κ(c)/2 + σ_b²)/q*, q* = 1 at σ_w² = 1, σ_b² = 0.5.
    let m = mf("relu", 1.0, 0.5);
    let c = 0.3;
    assert!((m.correlation_map(1.0, c) - (0.5 * arccos(c) + 0.5)).abs() < 1e-11);
}

#[test]
fn leaky_relu_closed_forms() {
    let a = 0.2;
    let m = MeanField::new(Activation::leaky_relu(a).unwrap(), 1.0, 0.0).unwrap();
    assert!(close(m.chi1(0.7), (1.0 + a * a) / 2.0, 1e-12));
    assert!(close(m.length_map(0.7), 0.7 * (1.0 + a * a) / 2.0, 1e-12));
    let rec = Recommendation::for_depth(Activation::leaky_relu(a).unwrap(), 10).unwrap();
    assert!(close(rec.sigma_w2, 2.0 / (1.0 + a * a), 1e-15));
    assert_eq!(rec.analysis.phase, Phase::Critical);
}

#[test]
fn slope_of_the_length_map_matches_finite_differences() {
    // Kinked (delta terms) and smooth activations alike.
    for name in ["tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "hardtanh", "sin", "sigmoid", "softplus"]
    {
        let m = mf(name, 1.7, 0.1);
        for q in [0.3, 1.0, 2.5] {
            let h = 1e-4 * q;
            let fd = (m.length_map(q + h) - m.length_map(q - h)) / (2.0 * h);
            let slope = m.length_map_slope(q);
            assert!((slope - fd).abs() < 1e-7 * (1.0 + slope.abs()), "{name} q = {q}: {slope} vs {fd}");
        }
    }
    // Hardtanh: the delta terms are −2ϕ(1/√q)/√q · σ_w²; without them V′ would be χ₁.
    let m = mf("hardtanh", 1.0, 0.0);
    let q: f64 = 2.0;
    let want = m.chi1(q) - 2.0 * gaussian::pdf(1.0 / q.sqrt()) / q.sqrt();
    assert!(close(m.length_map_slope(q), want, 1e-10));
}

#[test]
fn smooth_integrals_against_closed_forms() {
    // sin: E[sin²(√q z)] = (1 − e^(−2q))/2, E[cos²] = (1 + e^(−2q))/2.
    let m = mf("sin", 1.5, 0.1);
    for q in [0.2, 1.0, 3.0] {
        assert!(close(m.length_map(q), 1.5 * (1.0 - (-2.0 * q).exp()) / 2.0 + 0.1, 1e-12));
        assert!(close(m.chi1(q), 1.5 * (1.0 + (-2.0 * q).exp()) / 2.0, 1e-12));
    }
    // Linear: C(c) = (σ_w² q c + σ_b²)/(σ_w² q + σ_b²).
    let m = mf("linear", 0.8, 0.3);
    for c in [-0.5, 0.2, 0.95] {
        assert!(close(m.correlation_map(1.2, c), (0.96 * c + 0.3) / 1.26, 1e-11));
    }
}

#[test]
fn tanh_gain_five_thirds_is_chaotic() {
    let a = mf("tanh", 25.0 / 9.0, 0.0).analyze();
    assert_eq!(a.phase, Phase::Chaotic);
    assert!(close(a.q_star.unwrap(), 1.178_480_490_385_9, 1e-9), "{a:?}");
    assert!(close(a.chi1, 1.209_831_320_382_8, 1e-9));
    assert_eq!(a.c_star, Some(0.0));
    assert!(close(a.xi_c.unwrap(), 12.117_896_554_588, 1e-7));
}

#[test]
fn tanh_edge_of_chaos() {
    // σ_b² = 0: σ_w² = 1 with q* = 0 (the linear regime of tanh).
    let edge = MeanField::edge_of_chaos(Activation::Tanh, 0.0).unwrap().unwrap();
    assert!(close(edge, 1.0, 1e-9), "{edge}");
    // σ_b² = 0.05: ≈ 1.76 (Schoenholz et al. 2017, Figure 1); χ₁ = 1 there to 10⁻¹⁰.
    let edge = MeanField::edge_of_chaos(Activation::Tanh, 0.05).unwrap().unwrap();
    assert!(close(edge, 1.760_954_639_612, 1e-9), "{edge}");
    let a = mf("tanh", edge, 0.05).analyze();
    assert!((a.chi1 - 1.0).abs() < 1e-10);
    assert_eq!(a.phase, Phase::Critical);
    assert_eq!(a.trainable_depth, f64::INFINITY);
    // Either side of the edge.
    assert_eq!(mf("tanh", 1.7, 0.05).analyze().phase, Phase::Ordered);
    assert_eq!(mf("tanh", 1.8, 0.05).analyze().phase, Phase::Chaotic);
    // ReLU: 2 for every σ_b².
    for b in [0.0, 0.1] {
        assert!(close(MeanField::edge_of_chaos(Activation::Relu, b).unwrap().unwrap(), 2.0, 1e-9));
    }
}

#[test]
fn ordered_phase_depth_scales() {
    // tanh, σ_w² < 1, σ_b² = 0: q* = 0, χ₁ = σ_w², ξ_c = ξ_q = −1/log σ_w².
    let a = mf("tanh", 0.5, 0.0).analyze();
    assert_eq!(a.q_star, Some(0.0));
    assert!(close(a.chi1, 0.5, 1e-12));
    assert!(close(a.xi_c.unwrap(), 1.0 / 2f64.ln(), 1e-12));
    assert!(close(a.xi_q.unwrap(), 1.0 / 2f64.ln(), 1e-9));
    assert!(close(a.trainable_depth, 6.0 / 2f64.ln(), 1e-12));
    // With a bias, c* = 1 and ξ_c = −1/log χ₁.
    let a = mf("tanh", 1.2, 0.1).analyze();
    assert_eq!((a.phase, a.c_star), (Phase::Ordered, Some(1.0)));
    assert!(close(a.xi_c.unwrap(), -1.0 / a.chi1.ln(), 1e-12));
}

#[test]
fn chaotic_c_star_is_a_stable_fixed_point() {
    for (name, w, b) in [("tanh", 4.0, 0.05), ("hardtanh", 3.0, 0.05), ("selu", 1.0, 0.0), ("tanh", 2.0, 0.02)] {
        let m = mf(name, w, b);
        let a = m.analyze();
        assert_eq!(a.phase, Phase::Chaotic, "{name}");
        let (q, c) = (a.q_star.unwrap(), a.c_star.unwrap());
        assert!((m.correlation_map(q, c) - c).abs() < 1e-10, "{name}: C(c*) ≠ c*");
        let slope = m.correlation_slope(q, c);
        assert!(slope < 1.0, "{name}: unstable c*");
        assert!(close(a.xi_c.unwrap(), -1.0 / slope.ln(), 1e-9));
    }
}

#[test]
fn selu_is_slightly_chaotic() {
    // Self-normalizing: q* = 1 at σ_w² = 1, σ_b² = 0; χ₁ = E[selu′²] = 1/0.966² ≈ 1.0716.
    let a = mf("selu", 1.0, 0.0).analyze();
    assert!(close(a.q_star.unwrap(), 1.0, 1e-10));
    assert!(close(a.chi1, 1.0 / 0.966_025_776_973_901_2f64.powi(2), 1e-10));
    assert_eq!(a.phase, Phase::Chaotic);
}

#[test]
fn fast_path_accuracy() {
    // Smooth: 1e-6 relative on ξ_c and χ₁; kinked: 1e-4.
    let cases = [
        ("tanh", 25.0 / 9.0, 0.0, 1e-6),
        ("tanh", 4.0, 0.05, 1e-6),
        ("tanh", 1.5, 0.05, 1e-6),
        ("tanh", 9.0, 0.3, 1e-6),
        ("gelu", 2.1, 0.05, 1e-6),
        ("sigmoid", 4.0, 0.0, 1e-6),
        ("hardtanh", 3.0, 0.05, 1e-4),
        ("selu", 1.0, 0.0, 1e-4),
        ("relu", 1.5, 0.2, 1e-6),
    ];
    for (name, w, b, tol) in cases {
        let exact = mf(name, w, b).analyze();
        let d = phase_diagram(act(name), &[w], &[b]).unwrap();
        assert!(close(d.chi1[0], exact.chi1, tol), "{name} ({w}, {b}): χ₁ {} vs {}", d.chi1[0], exact.chi1);
        let (fast, want) = (d.xi_c[0].unwrap(), exact.xi_c.unwrap());
        assert!(close(fast, want, tol), "{name} ({w}, {b}): ξ_c {fast} vs {want}");
    }
    // The Mehler correlation map against expect2, smooth φ.
    let m = mf("tanh", 2.5, 0.1);
    for c in [-0.7, 0.0, 0.5, 0.9, 0.999] {
        assert!((m.correlation_map_fast(1.3, c) - m.correlation_map(1.3, c)).abs() < 1e-9, "{c}");
    }
}

#[test]
fn phase_diagram_layout_and_divergence() {
    let w = [0.5, 1.5, 3.0];
    let b = [0.0, 0.1];
    let d = phase_diagram(Activation::Relu, &w, &b).unwrap();
    assert_eq!((d.xi_c.len(), d.chi1.len()), (6, 6));
    // ReLU: σ_w² = 3 diverges (None); σ_w² = 0.5 is ordered with ξ_c = −1/log(1/4).
    assert_eq!(d.xi_c_at(0, 2), None);
    assert!(close(d.xi_c_at(1, 0).unwrap(), 1.0 / 4f64.ln(), 1e-9));
    assert!(close(d.chi1[4], 0.75, 1e-9));
}

#[test]
fn never_nan_or_panic_on_a_wide_grid() {
    let names = [
        "linear",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "gelu_tanh",
        "silu",
        "mish",
        "softplus",
        "hardtanh",
        "sin",
    ];
    for name in names {
        for (w, b) in [(1e-6, 0.0), (0.3, 1e-8), (1.0, 0.0), (2.0, 0.0), (5.0, 2.0), (50.0, 0.0), (1e6, 1e6)] {
            if name == "sin" && w > 100.0 {
                // sin(√q z) with q ~ 10⁶ oscillates ~10³ times over the Gaussian: correct
                // but slow (minutes) in the two-dimensional integrals.
                continue;
            }
            let a = mf(name, w, b).analyze();
            let values = [Some(a.chi1), a.q_star, a.c_star, a.xi_q, a.xi_c, Some(a.trainable_depth)];
            assert!(values.iter().flatten().all(|v| !v.is_nan()), "{name} ({w}, {b}): {a:?}");
        }
    }
}

#[test]
fn recommendations() {
    let he = Recommendation::for_depth(Activation::Relu, 30).unwrap();
    assert_eq!((he.sigma_w2, he.sigma_b2), (2.0, 0.0));
    assert_eq!(he.bias_init, Init::Zeros);
    let json = serde_json::to_value(he.weight_init).unwrap();
    assert_eq!(json["init"], "variance_scaling");
    assert!(close(json["scale"].as_f64().unwrap(), 2.0, 1e-12));
    assert_eq!(json["mode"], "fan_in");
    // tanh: on the edge, σ_b² shrinks as depth grows.
    let shallow = Recommendation::for_depth(Activation::Tanh, 20).unwrap();
    let deep = Recommendation::for_depth(Activation::Tanh, 2000).unwrap();
    assert!(shallow.sigma_b2 >= deep.sigma_b2);
    for r in [&shallow, &deep] {
        assert!((r.analysis.chi1 - 1.0).abs() < 1e-9);
        assert_eq!(r.analysis.phase, Phase::Critical);
    }
    assert!(shallow.robust_xi_c >= 20.0);
    let Init::Normal(normal) = shallow.bias_init else { panic!("{:?}", shallow.bias_init) };
    assert!(close(normal.std(), shallow.sigma_b2.sqrt(), 1e-15));
}

#[test]
fn caveats_name_what_the_theory_cannot_fix() {
    // Softplus has no critical point: the recommendation says so and names what to use.
    let softplus = Activation::softplus(1.0).unwrap();
    for depth in [20, 100, 300] {
        let r = Recommendation::for_depth(softplus, depth).unwrap();
        assert_eq!(r.analysis.phase, Phase::Ordered);
        let caveat = r.caveat.expect("softplus has no edge of chaos");
        assert!(caveat.contains("no point keeps inputs apart") && caveat.contains("SiLU"), "{caveat}");
    }
    // Sigmoid's edge needs σ_w² ≈ 103: impractical. GELU, tanh, ReLU need no caveat.
    assert!(Recommendation::for_depth(Activation::Sigmoid, 100).unwrap().caveat.unwrap().starts_with("impractical"));
    for a in [Activation::Gelu, Activation::Tanh, Activation::Relu] {
        assert_eq!(Recommendation::for_depth(a, 100).unwrap().caveat, None, "{a}");
    }
}
