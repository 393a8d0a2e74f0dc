//! Sample statistics, in one place: a mergeable accumulator of a sample's
//! count, mean and second to fourth central moments.
//!
//! [`Moments`] is updated one value at a time with Welford's recurrence
//! (extended to the third and fourth moments by Terriberry) and merged with
//! the pairwise formulas of Chan, Golub and LeVeque (Pébay for the higher
//! moments). Neither ever forms Σx²/n − μ², which loses every digit when the
//! mean is large against the spread. Fast passes over large tensors compute
//! each block's central sums their own way ([`Moments::from_central_sums`])
//! and merge the blocks, in any order and in parallel.
//!
//! ```
//! use nninit::stats::Moments;
//! let a = Moments::from_values([1.0, 2.0, 3.0]);
//! let b = Moments::from_values([4.0, 5.0]);
//! let all = a.merge(b);
//! assert_eq!(all.count(), 5);
//! assert!((all.mean() - 3.0).abs() < 1e-15);
//! assert!((all.variance() - 2.0).abs() < 1e-15); // population variance
//! assert!((all.sample_variance() - 2.5).abs() < 1e-15);
//! ```

/// Count, mean and the central sums `Σ(x − x̄)^k`, k = 2, 3, 4, of a sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
    m3: f64,
    m4: f64,
}

impl Moments {
    /// The empty sample.
    pub const EMPTY: Self = Self { n: 0, mean: 0.0, m2: 0.0, m3: 0.0, m4: 0.0 };

    /// The moments of `values`.
    pub fn from_values(values: impl IntoIterator<Item = f64>) -> Self {
        let mut m = Self::EMPTY;
        for x in values {
            m.push(x);
        }
        m
    }

    /// A block's moments from its count, mean and central sums
    /// `Σ(x − mean)²`, `Σ(x − mean)³`, `Σ(x − mean)⁴`, computed by the caller
    /// (for example in vector lanes around the block's own mean).
    pub fn from_central_sums(count: u64, mean: f64, m2: f64, m3: f64, m4: f64) -> Self {
        if count == 0 { Self::EMPTY } else { Self { n: count, mean, m2, m3, m4 } }
    }

    /// Adds one value.
    pub fn push(&mut self, x: f64) {
        let n1 = self.n as f64;
        self.n += 1;
        let n = self.n as f64;
        let delta = x - self.mean;
        let dn = delta / n;
        let dn2 = dn * dn;
        let term = delta * dn * n1;
        self.mean += dn;
        self.m4 += term * dn2 * (n * n - 3.0 * n + 3.0) + 6.0 * dn2 * self.m2 - 4.0 * dn * self.m3;
        self.m3 += term * dn * (n - 2.0) - 3.0 * dn * self.m2;
        self.m2 += term;
    }

    /// The moments of both samples together.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        if self.n == 0 {
            return other;
        }
        if other.n == 0 {
            return self;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let d = other.mean - self.mean;
        let (d2, d3, d4) = (d * d, d * d * d, d * d * d * d);
        let mean = self.mean + d * nb / n;
        let m2 = self.m2 + other.m2 + d2 * na * nb / n;
        let m3 = self.m3 + other.m3 + d3 * na * nb * (na - nb) / (n * n) + 3.0 * d * (na * other.m2 - nb * self.m2) / n;
        let m4 = self.m4
            + other.m4
            + d4 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n)
            + 6.0 * d2 * (na * na * other.m2 + nb * nb * self.m2) / (n * n)
            + 4.0 * d * (na * other.m3 - nb * self.m3) / n;
        Self { n: self.n + other.n, mean, m2, m3, m4 }
    }

    /// The number of values.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.mean }
    }

    /// The population variance `Σ(x − x̄)²/n` (NaN when empty).
    pub fn variance(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { (self.m2 / self.n as f64).max(0.0) }
    }

    /// The unbiased sample variance `Σ(x − x̄)²/(n − 1)` (0 for one value, NaN when empty).
    pub fn sample_variance(&self) -> f64 {
        match self.n {
            0 => f64::NAN,
            1 => 0.0,
            n => (self.m2 / (n - 1) as f64).max(0.0),
        }
    }

    /// The population standard deviation `√variance`.
    pub fn std(&self) -> f64 {
        self.variance().sqrt()
    }

    /// The sample standard deviation `√sample_variance`.
    pub fn sample_std(&self) -> f64 {
        self.sample_variance().sqrt()
    }

    /// The skewness `m₃/m₂^{3/2}` (0 for a constant sample).
    pub fn skewness(&self) -> f64 {
        if self.m2 > 0.0 { (self.n as f64).sqrt() * self.m3 / self.m2.powf(1.5) } else { 0.0 }
    }

    /// The excess kurtosis `m₄/m₂² − 3` (0 for a normal, −1.2 for a uniform;
    /// 0 for a constant sample).
    pub fn excess_kurtosis(&self) -> f64 {
        if self.m2 > 0.0 { self.n as f64 * self.m4 / (self.m2 * self.m2) - 3.0 } else { 0.0 }
    }

    /// The root mean square `√(x̄² + variance)`.
    pub fn rms(&self) -> f64 {
        (self.mean() * self.mean() + self.variance()).sqrt()
    }
}

/// An upper bound on `P(K ≥ k)` for a count K of independent rare events
/// whose expected number is `mean` (a binomial count with n·p = `mean`, or a
/// Poisson count): the Chernoff bound `e^(−λ)·(eλ/k)^k` for k > λ, and 1 for
/// k ≤ λ. It is exact in the exponent and never below the true tail, so a
/// count called improbable by it is at least that improbable.
///
/// ```
/// use nninit::stats::rare_count_tail_bound;
/// assert_eq!(rare_count_tail_bound(0.0, 1), 0.0); // impossible events
/// assert_eq!(rare_count_tail_bound(2.0, 1), 1.0);
/// let p = rare_count_tail_bound(0.1, 6);
/// assert!(p > 1e-9 && p < 1e-7, "{p}");
/// ```
pub fn rare_count_tail_bound(mean: f64, k: u64) -> f64 {
    let k = k as f64;
    if k <= mean {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    (k - mean + k * (mean / k).ln()).exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(xs: &[f64]) -> (f64, f64, f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let c = |k: i32| xs.iter().map(|x| (x - mean).powi(k)).sum::<f64>() / n;
        (mean, c(2), c(3) / c(2).powf(1.5), c(4) / (c(2) * c(2)) - 3.0)
    }

    #[test]
    fn pushing_and_merging_agree_with_the_definitions() {
        let xs: Vec<f64> =
            (0..1000).map(|i| ((i * 7919) % 1000) as f64 / 100.0 + (i as f64 * 0.37).sin().powi(3)).collect();
        let (mean, var, skew, kurt) = direct(&xs);
        let whole = Moments::from_values(xs.iter().copied());
        // Any split, merged either way, gives the same moments.
        for cut in [1, 10, 333, 999] {
            let (a, b) = xs.split_at(cut);
            let (a, b) = (Moments::from_values(a.iter().copied()), Moments::from_values(b.iter().copied()));
            for m in [a.merge(b), b.merge(a), whole] {
                assert_eq!(m.count(), 1000);
                assert!((m.mean() - mean).abs() < 1e-12 * mean.abs(), "{m:?}");
                assert!((m.variance() - var).abs() < 1e-12 * var, "{m:?}");
                assert!((m.skewness() - skew).abs() < 1e-10, "{m:?}");
                assert!((m.excess_kurtosis() - kurt).abs() < 1e-10, "{m:?}");
            }
        }
        assert!((whole.sample_variance() - var * 1000.0 / 999.0).abs() < 1e-12 * var);
        assert!((whole.rms() - (xs.iter().map(|x| x * x).sum::<f64>() / 1000.0).sqrt()).abs() < 1e-12 * whole.rms());
    }

    #[test]
    fn a_large_mean_does_not_cancel_the_spread() {
        // Σx²/n − μ² gives 0 or a negative number here in f64; the central sums keep every digit.
        let xs = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0];
        let m = Moments::from_values(xs);
        assert_eq!(m.variance(), 22.5);
        let naive = xs.iter().map(|x| x * x).sum::<f64>() / 4.0 - m.mean() * m.mean();
        assert_ne!(naive, 22.5, "the naive formula loses digits here");
    }

    /// The bound is never below the exact Poisson tail, and within a small
    /// factor of it in the range the doctor uses.
    #[test]
    fn the_rare_count_bound_holds_the_poisson_tail() {
        for mean in [1e-3f64, 0.1, 1.0, 7.5] {
            // The exact tail as a suffix sum of the pmf (no cancellation in 1 − cdf).
            let mut pmf = vec![(-mean).exp()];
            for k in 1..200 {
                let last = pmf[k - 1];
                pmf.push(last * mean / k as f64);
            }
            for k in 0..60usize {
                let tail: f64 = pmf[k..].iter().sum();
                let bound = rare_count_tail_bound(mean, k as u64);
                assert!(bound >= tail * (1.0 - 1e-9), "λ {mean}, k {k}: {bound} < {tail}");
                if k as f64 > 2.0 * mean + 2.0 && tail > 1e-300 {
                    assert!(bound < tail * 50.0 * (k as f64 + 1.0), "λ {mean}, k {k}: {bound} vs {tail}");
                }
            }
        }
    }

    #[test]
    fn empty_and_constant_samples() {
        assert!(Moments::EMPTY.mean().is_nan() && Moments::EMPTY.variance().is_nan());
        assert_eq!(Moments::EMPTY.merge(Moments::from_values([2.0])), Moments::from_values([2.0]));
        let c = Moments::from_values([3.0; 10]);
        assert_eq!((c.mean(), c.variance(), c.skewness(), c.excess_kurtosis()), (3.0, 0.0, 0.0, 0.0));
        assert_eq!(Moments::from_values([5.0]).sample_variance(), 0.0);
        assert_eq!(Moments::from_central_sums(0, 1.0, 1.0, 1.0, 1.0), Moments::EMPTY);
    }
}
