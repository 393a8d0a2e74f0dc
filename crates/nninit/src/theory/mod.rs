//! Mean-field signal propagation: how a signal and its gradient travel through a deep,
//! randomly initialized network, from first principles.
//!
//! A fully connected network with activation φ, weights W ~ N(0, σ_w²/N) (fan-in N) and
//! biases b ~ N(0, σ_b²) has, in the limit of infinite width, pre-activations that are
//! Gaussian in every layer. Their statistics follow deterministic maps (Poole et al. 2016;
//! Schoenholz et al. 2017). With Dz the standard normal measure:
//!
//! - **Length map.** q^l = V(q^(l−1)) = σ_w² ∫Dz φ(√q z)² + σ_b², with fixed point q*
//!   ([`MeanField::length_map`], [`MeanField::fixed_point`]).
//! - **Gradient growth.** χ₁ = σ_w² ∫Dz φ′(√q* z)². Back-propagated gradients grow by χ₁
//!   per layer: E‖∂ℓ/∂x^l‖² ∝ χ₁^(L−l), and the mean squared singular value of the
//!   input–output Jacobian is χ₁^L (Pennington et al. 2017).
//! - **Correlation map.** For two inputs, c^l = C(c^(l−1)) = [σ_w² ∫Dz₁Dz₂ φ(u₁)φ(u₂) +
//!   σ_b²]/q* with u₁ = √q* z₁, u₂ = √q* (c z₁ + √(1 − c²) z₂)
//!   ([`MeanField::correlation_map`]). C(1) = 1 and C′(1) = χ₁: c* = 1 is stable when
//!   χ₁ < 1 (**ordered** phase: inputs collapse onto one another), unstable when χ₁ > 1
//!   (**chaotic** phase: a stable c* < 1 appears and nearby inputs decorrelate). χ₁ = 1 is
//!   the **edge of chaos** ([`MeanField::edge_of_chaos`]).
//! - **Depth scales.** Near the fixed points the deviations decay like e^(−l/ξ):
//!   - ξ_q⁻¹ = −log V′(q*), V′(q*) = χ₁ + σ_w² ∫Dz φ″(√q* z) φ(√q* z);
//!   - ξ_c⁻¹ = −log[σ_w² ∫Dz₁Dz₂ φ′(u₁)φ′(u₂)] at c = c*, which is −log χ₁ in the ordered
//!     phase (c* = 1).
//!
//!   Schoenholz et al. found networks trainable up to depth L ≈ 6 ξ_c
//!   ([`TRAINABLE_DEPTH_PER_XI`]); at the edge of chaos ξ_c diverges.
//!
//! # Kinks
//!
//! For φ with a kink at k (ReLU family at 0, hardtanh at its ends), φ″ holds a delta
//! function of weight J = φ′(k⁺) − φ′(k⁻), and ∫Dz φ″φ gains the term
//! φ(k)·J·ϕ(k/√q)/√q (ϕ the standard normal density). V′(q) = dV/dq is computed with it,
//! by Gaussian integration by parts (d/dq E\[g(√q z)\] = ½ E\[g″(√q z)\] with g = φ²). For
//! the ReLU family φ(k) = 0 and the term vanishes (V′ = χ₁ = σ_w²(1 + a²)/2); for hardtanh
//! on \[−1, 1\] it is −2ϕ(1/√q)/√q · σ_w². The tests check V′ against a finite difference
//! of V. The jump J is found from φ′ on both sides of k with a Richardson step, accurate to
//! about 10⁻¹⁰.
//!
//! # Degenerate cases
//!
//! - **q\* = 0.** With σ_b² = 0 and φ(0) = 0 the length can decay to 0 (tanh with
//!   σ_w² ≤ 1, ReLU with σ_w² < 2). Then q* = 0 is reported and χ₁, ξ_q, ξ_c are their
//!   limits as q → 0⁺ (for tanh χ₁ = σ_w², for ReLU χ₁ = σ_w²/2).
//! - **No fixed point.** Unbounded activations with a large σ_w² (ReLU with σ_w² > 2,
//!   or σ_w² = 2 with σ_b² > 0: q^l = q⁰ + l σ_b²) have none: the length grows without
//!   bound. This is the typed outcome [`FixedPoint::Diverges`]; χ₁ is then its limit as
//!   q → ∞ (the gradient growth per layer), there is no c*, ξ_q or ξ_c, and the trainable
//!   depth is 6/|log χ₁|, the gradients' depth scale.
//! - **Where the iteration starts.** q* is the fixed point the iteration reaches from
//!   q⁰ = 1 (inputs of unit second moment per coordinate), or from the q⁰ given to
//!   [`MeanField::fixed_point_from`]. V is increasing for every activation nninit knows, so
//!   the iteration is monotone and never jumps over a fixed point; it is accelerated by
//!   safeguarded Newton steps (at most a factor 4 in q per step).
//!
//! # Fixed points
//!
//! The length map can have several fixed points: an activation that acts like x/2 near 0
//! and like ReLU for large inputs (GELU, SiLU, Mish) has V′ < 1 at some and V′ > 1 at
//! others. [`MeanField::fixed_points`] lists all of them with the slope V′ there and their
//! [`Stability`] (stable where V′ < 1). A network settles only at a stable one: the one its
//! iteration reaches from the input's length q⁰ ([`MeanField::analyze_from`]; q⁰ = 1 for
//! unit-variance inputs by default). χ₁, ξ_c, the phase and the trainable depth are
//! evaluated there, so `nninit theory A --sigma-w2 X --sigma-b2 Y` and `--recommend`
//! report the same point; the JSON names it and lists the others.
//!
//! # Smooth ReLU-like activations
//!
//! The edge of chaos is the critical line χ₁ = 1, parametrized by the fixed point q it sits
//! at (Hayou, Doucet & Rousseau 2019): σ_w² = 1/E\[φ′(√q z)²\], σ_b² = q − σ_w² E\[φ(√q z)²\]
//! ([`MeanField::critical_points`]). A point of that line is useful only where q is a
//! *stable* fixed point reached from q⁰; [`MeanField::edge_of_chaos`] returns only such
//! points, and `None` where the line has none. For GELU, SiLU and Mish the stable part of
//! the line needs a bias variance of about σ_b² ≥ 0.2, 0.6 and 0.1 (below it, the critical
//! points are unstable: a real network moves away from them and its length grows, which is
//! what the earlier recommendations at σ_b² = 10⁻⁴ did); ELU, tanh and sigmoid are stable
//! all along the line; softplus has no critical point at any σ_b² ≥ 0 (it is positive, and its
//! mean acts as a bias already too large: χ₁ < 1 wherever the length has a fixed point), so
//! its recommendation is the ordered point with the largest ξ_c and carries a caveat that no
//! point keeps inputs apart. Critical points with
//! q → 0 are degenerate: there the network is close to linear (φ(x) ≈ φ′(0)·x), which
//! preserves signals but gives up the nonlinearity's expressivity; the reports say so.
//! [`Recommendation::for_depth`] searches the stable part of the line for a point that
//! holds over the requested depth, and flags as impractical a σ_w² above 16 (sigmoid's is
//! about 103), naming tanh instead. The simulation tests in `tests/theory_simulation.rs`
//! check these points with random width-1000 networks at depths 20, 100 and 300.
//!
//! # Phase
//!
//! [`Phase`] is decided by χ₁ with the tolerance [`CRITICAL_TOLERANCE`] = 10⁻⁶ on |log χ₁|:
//! critical when ξ_c ≥ 10⁶ layers, more than any network anyone trains.
//!
//! # Accuracy
//!
//! - Integrals come from [`gaussian::expect`](crate::gaussian::expect) and [`gaussian::expect2`](crate::gaussian::expect2) (adaptive
//!   Gauss–Kronrod, about 10⁻¹³ and 10⁻¹² relative), with the kinks of φ passed as
//!   breakpoints, so kinked activations integrate as accurately as smooth ones. The tests
//!   hold the length map, χ₁, the ReLU arc-cosine kernel and its derivative to 10⁻¹⁰
//!   relative against closed forms, for smooth and kinked φ alike.
//! - q* is found to 10⁻¹¹ relative, c* to 10⁻¹⁰ absolute, the edge of chaos to 10⁻¹⁰
//!   relative, except where the problem is ill-conditioned: c* within 10⁻⁴ of 1 (just
//!   chaotic) is known to about 10⁻⁶ only, because C(c) − c is then of order 10⁻⁸.
//! - Near a kink of φ the smooth-integrand error bounds hold because panels start at the
//!   kinks; the one place a kink costs accuracy is the jump J above (10⁻¹⁰). The tests
//!   hold ReLU and leaky ReLU to 10⁻¹² against closed forms, hardtanh's V′ (with its delta
//!   terms) to 10⁻¹⁰, and V′ of every kinked activation (ELU, SELU too) to 10⁻⁷ against a
//!   finite difference of V (the finite difference's own error).
//! - sin at a huge q (σ_w² ~ 10⁶) oscillates ~10³ times over the Gaussian: the results stay
//!   finite and correct, but the two-dimensional integrals then take minutes.
//! - [`phase_diagram`] trades accuracy for speed: a fixed composite Gauss–Legendre rule
//!   (split at the kinks) and the Mehler (Hermite) expansion of the correlation map,
//!   C(c) ∝ Σ_k b_k² c^k with b_k = E\[φ(√q z) h_k(z)\] (h_k the normalized Hermite
//!   polynomials), truncated at k = 80 with the known remainder E\[φ²\] − Σ b_k² added at
//!   c^80. Its ξ_c agrees with [`MeanField::analyze`] to 10⁻⁶ relative for smooth φ
//!   (tanh, GELU, sigmoid) and 10⁻⁴ for kinked φ (hardtanh, SELU) in the tests; enough for
//!   a plot, not for a table.
//!
//! # Worked answers
//!
//! - **tanh with PyTorch's gain 5/3 and no bias** (σ_w² = 25/9 ≈ 2.78, σ_b² = 0):
//!   q* = 1.17848, χ₁ = 1.20983 > 1 — **chaotic**, with c* = 0 and ξ_c = 12.118 layers
//!   (trainable to about 6 ξ_c ≈ 73 layers). Gradients grow about 1.21× per layer, 1.9 · 10⁸
//!   over 100 layers. (The test `tanh_gain_five_thirds_is_chaotic` pins these values.)
//! - **tanh edge of chaos**: σ_w² = 1 at σ_b² = 0 (q* = 0); at σ_b² = 0.05,
//!   σ_w² = 1.760955 (q* = 0.5700); Schoenholz et al. 2017 (Figure 1) and Poole et al.
//!   2016 (Figure 2) show the critical line passing through σ_w² ≈ 1.76 there.
//! - **ReLU**: χ₁ = σ_w²/2 for every σ_b²; the edge is σ_w² = 2 (He et al. 2015), where
//!   q is preserved exactly with σ_b² = 0. ReLU networks are never chaotic: for σ_w² < 2
//!   they are ordered, for σ_w² > 2 the length diverges.
//!
//! # Example
//!
//! ```
//! use nninit::activation::Activation;
//! use nninit::theory::{MeanField, Phase};
//!
//! let tanh = MeanField::new(Activation::Tanh, 25.0 / 9.0, 0.0)?;
//! let a = tanh.analyze();
//! assert_eq!(a.phase, Phase::Chaotic);
//! assert!((a.chi1 - 1.2098).abs() < 1e-4);
//!
//! let he = MeanField::new(Activation::Relu, 2.0, 0.0)?.analyze();
//! assert_eq!(he.phase, Phase::Critical);
//! # Ok::<(), nninit::Error>(())
//! ```
//!
//! # References
//!
//! - B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein, S. Ganguli (2016), *Exponential
//!   expressivity in deep neural networks through transient chaos*, NeurIPS,
//!   <https://arxiv.org/abs/1606.05340>, eqs. 3, 5, 7 and 8.
//! - S. S. Schoenholz, J. Gilmer, S. Ganguli, J. Sohl-Dickstein (2017), *Deep Information
//!   Propagation*, ICLR, <https://arxiv.org/abs/1611.01232>, eqs. 4, 9, 15 and Figure 5
//!   (L ≈ 6 ξ_c).
//! - J. Pennington, S. S. Schoenholz, S. Ganguli (2017), *Resurrecting the sigmoid in deep
//!   learning through dynamical isometry: theory and practice*, NeurIPS,
//!   <https://arxiv.org/abs/1711.04735> (mean squared Jacobian singular value χ₁^L).
//! - K. He, X. Zhang, S. Ren, J. Sun (2015), *Delving Deep into Rectifiers*, ICCV,
//!   <https://arxiv.org/abs/1502.01852> (σ_w² = 2 for ReLU).

mod analysis;
mod diagram;
mod edge;
mod fast;
mod fixed_point;
mod mean_field;
mod phase;
mod recommend;
mod roots;
#[cfg(test)]
mod tests;

pub use analysis::Analysis;
pub use diagram::{PhaseDiagram, phase_diagram};
pub use edge::CriticalPoint;
pub use fixed_point::{FixedPoint, LengthFixedPoint, Stability};
pub use mean_field::MeanField;
pub use phase::{CRITICAL_TOLERANCE, Phase, TRAINABLE_DEPTH_PER_XI};
pub use recommend::Recommendation;
