//! Dense linear algebra the initializers need: the orthonormalization behind
//! `orthogonal_`.
//!
//! [`orthonormalize_f32`] and [`orthonormalize_f64`] turn a row-major
//! `rows × cols` matrix of Gaussians into the (semi-)orthogonal matrix that
//! PyTorch's `torch.nn.init.orthogonal_` makes from the same Gaussians:
//!
//! 1. if `rows < cols`, work on the transpose (so the matrix is tall, `m ≥ n`);
//! 2. thin QR decomposition, `A = Q·R` with `Q` of shape `m × n`;
//! 3. `Q[:, j] *= sign(R[j, j])`, with `sign(0) = 0` as `torch.sign` has it,
//!    which makes the result unique (independent of the QR's sign convention);
//! 4. transpose back if step 1 transposed.
//!
//! The QR is faer's blocked Householder QR in the matrix's own precision (as
//! LAPACK's `sgeqrf`/`dgeqrf` run in PyTorch), so results agree with PyTorch's to
//! rounding (about 1e-6 for `f32`), not bit for bit. The explicit `Q` is formed
//! like LAPACK's `orgqr`: the block reflectors are applied, last first, to
//! `[I; 0]`, skipping the columns that are still zero.
//!
//! Parallelism and reproducibility: matrices of [`PAR_MIN_ELEMENTS`] elements
//! and up are factored on the caller's rayon pool, always split into
//! [`PAR_PIECES`] pieces whatever the pool's size; smaller ones run sequentially.
//! faer's rounding depends on how the work is split, not on which thread runs a
//! piece, so the result depends only on the input and the CPU's SIMD level
//! (faer dispatches AVX2/AVX-512 kernels at run time), never on the thread count.
//! Results are therefore bit-reproducible on one machine, but not across CPUs.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder;
use faer::linalg::qr::no_pivoting::factor as qr;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::traits::RealField;
use faer::{Conj, Mat, MatMut, Par};

/// Matrices with at least this many elements are factored on the rayon pool.
pub(crate) const PAR_MIN_ELEMENTS: usize = 128 * 128;

/// How many pieces faer splits parallel work into, fixed so that results do not
/// depend on the rayon pool's size (measured: splits of 1, 2 and 3 round
/// differently; 4 and more agreed with each other on every shape tried).
pub(crate) const PAR_PIECES: usize = 8;

/// Makes the row-major `rows × cols` matrix in `data` (semi-)orthogonal, as
/// PyTorch's `orthogonal_` does with its Gaussian draws (see the module docs).
///
/// Afterwards the rows are orthonormal if `rows ≤ cols`, the columns if
/// `rows ≥ cols`. Does nothing when `rows` or `cols` is 0.
///
/// # Panics
///
/// If `data.len() != rows * cols` (an internal invariant: callers check the
/// buffer length against the shape first).
pub(crate) fn orthonormalize_f32(rows: usize, cols: usize, data: &mut [f32]) {
    orthonormalize(rows, cols, data);
}

/// The `f64` version of [`orthonormalize_f32`].
///
/// # Panics
///
/// If `data.len() != rows * cols`.
pub(crate) fn orthonormalize_f64(rows: usize, cols: usize, data: &mut [f64]) {
    orthonormalize(rows, cols, data);
}

/// `torch.sign`: -1, 0 or 1 (NaN stays NaN).
fn torch_sign<T: RealField + Copy>(x: T) -> T {
    let zero = T::zero_impl();
    let one = T::one_impl();
    if x > zero {
        one
    } else if x < zero {
        -one
    } else {
        // 0, -0 or NaN: torch.sign returns 0 for ±0 and NaN for NaN; x * 0 gives both
        // (up to the sign of zero, which the multiplication below cannot observe in
        // the result's magnitude).
        x * zero
    }
}

fn orthonormalize<T: RealField + Copy>(rows: usize, cols: usize, data: &mut [T]) {
    assert_eq!(data.len(), rows * cols, "orthonormalize: buffer length does not match the shape");
    if rows == 0 || cols == 0 {
        return;
    }
    let par = if data.len() >= PAR_MIN_ELEMENTS { Par::rayon(PAR_PIECES) } else { Par::Seq };
    // The factorization always runs on a faer `Mat`, whose columns are aligned for SIMD: on the
    // caller's buffer (a `Vec`, 16 bytes past a 64-byte boundary) the QR measured 50 % slower.
    if rows < cols {
        // Row-major rows × cols memory is the column-major cols × rows matrix Aᵀ, which is
        // tall: factor Aᵀ, and its column-major thin Q (cols × rows) is the row-major result Qᵀ.
        let mut a = Mat::<T>::zeros(cols, rows);
        for (j, column) in data.chunks_exact(cols).enumerate() {
            for (i, &v) in column.iter().enumerate() {
                a[(i, j)] = v;
            }
        }
        let (q, signs) = tall_q(a.as_mut(), par);
        for ((j, column), &s) in data.chunks_exact_mut(cols).enumerate().zip(&signs) {
            for (i, v) in column.iter_mut().enumerate() {
                *v = q[(i, j)] * s;
            }
        }
    } else {
        // Row-major rows × cols memory is Aᵀ in column-major order: transpose A out
        // column-major, factor it, and transpose Q back row-major.
        let mut a = Mat::<T>::zeros(rows, cols);
        transpose_tiled(rows, cols, |i, j| data[i * cols + j], |i, j, v| a[(i, j)] = v);
        let (q, signs) = tall_q(a.as_mut(), par);
        transpose_tiled(rows, cols, |i, j| q[(i, j)] * signs[j], |i, j, v| data[i * cols + j] = v);
    }
}

/// Visits every `(i, j)` of a `rows × cols` matrix in 32 × 32 tiles, moving `get(i, j)` to
/// `set(i, j, ·)`. Between a row-major and a column-major matrix one side is read across its
/// stride, and tiling keeps those lines in cache while the other side streams.
#[inline]
fn transpose_tiled<T>(rows: usize, cols: usize, get: impl Fn(usize, usize) -> T, mut set: impl FnMut(usize, usize, T)) {
    const TILE: usize = 32;
    for j0 in (0..cols).step_by(TILE) {
        for i0 in (0..rows).step_by(TILE) {
            for i in i0..(i0 + TILE).min(rows) {
                for j in j0..(j0 + TILE).min(cols) {
                    set(i, j, get(i, j));
                }
            }
        }
    }
}

/// `Q` and `sign(diag R)` from the thin QR of the tall (`m ≥ n`) matrix `a`, which the
/// factorization overwrites; the caller scales column `j` of `Q` by sign `j` as it copies `Q` out.
fn tall_q<T: RealField + Copy>(mut a: MatMut<'_, T>, par: Par) -> (Mat<T>, Vec<T>) {
    let (m, n) = a.shape();
    debug_assert!(m >= n);
    let block_size = qr::recommended_block_size::<T>(m, n);
    let mut coeff = Mat::<T>::zeros(block_size, n);
    {
        let req = qr::qr_in_place_scratch::<T>(m, n, block_size, par, Default::default());
        let mut buf = MemBuffer::new(req);
        qr::qr_in_place(a.rb_mut(), coeff.as_mut(), par, MemStack::new(&mut buf), Default::default());
    }
    let signs: Vec<T> = (0..n).map(|j| torch_sign(a[(j, j)])).collect();

    // Q = H_1 · H_2 ⋯ H_k applied to [I; 0], block by block from the last one. The
    // block starting at column j0 touches rows j0.. only, and in those rows every
    // column before j0 is still zero, so it is applied to the trailing columns only
    // (LAPACK's orgqr does the same).
    let mut q = Mat::<T>::zeros(m, n);
    for j in 0..n {
        q[(j, j)] = T::one_impl();
    }
    {
        let req = householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, block_size, n);
        let mut buf = MemBuffer::new(req);
        let stack = MemStack::new(&mut buf);
        let basis = a.rb();
        let mut end = n;
        let mut this_block = n % block_size;
        if this_block == 0 {
            this_block = block_size;
        }
        while end > 0 {
            let start = end - this_block;
            let essentials = basis.get(start.., start..end);
            let factor = coeff.as_ref().get(..this_block, start..end);
            householder::apply_block_householder_on_the_left_in_place_with_conj(
                essentials,
                factor,
                Conj::No,
                q.as_mut().get_mut(start.., start..),
                par,
                stack,
            );
            end = start;
            this_block = block_size;
        }
    }
    (q, signs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-Gaussian-ish fill (sums of uniforms); QR needs no
    /// particular distribution, only full rank.
    fn fill(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                let mut acc = 0.0;
                for _ in 0..4 {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    acc += (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                }
                acc
            })
            .collect()
    }

    /// max |G - I| where G = M Mᵀ (rows ≤ cols) or Mᵀ M (rows ≥ cols).
    fn gram_error(rows: usize, cols: usize, d: &[f64]) -> f64 {
        let mut worst: f64 = 0.0;
        if rows <= cols {
            for a in 0..rows {
                for b in 0..rows {
                    let dot: f64 = (0..cols).map(|k| d[a * cols + k] * d[b * cols + k]).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    worst = worst.max((dot - want).abs());
                }
            }
        } else {
            for a in 0..cols {
                for b in 0..cols {
                    let dot: f64 = (0..rows).map(|k| d[k * cols + a] * d[k * cols + b]).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    worst = worst.max((dot - want).abs());
                }
            }
        }
        worst
    }

    /// Classical Gram–Schmidt on the tall orientation, twice, in f64: an
    /// independent reference for Q·sign(diag R).
    fn reference(rows: usize, cols: usize, d: &[f64]) -> Vec<f64> {
        let (m, n, tall): (usize, usize, Vec<f64>) = if rows < cols {
            (cols, rows, d.to_vec())
        } else {
            (rows, cols, (0..rows * cols).map(|idx| d[(idx % rows) * cols + idx / rows]).collect())
        };
        // tall is column-major m × n
        let mut q = tall.clone();
        for j in 0..n {
            let mut rjj_sign = 1.0;
            for _ in 0..2 {
                for k in 0..j {
                    let dot: f64 = (0..m).map(|i| q[k * m + i] * q[j * m + i]).sum();
                    for i in 0..m {
                        q[j * m + i] -= dot * q[k * m + i];
                    }
                }
            }
            let norm: f64 = (0..m).map(|i| q[j * m + i] * q[j * m + i]).sum::<f64>().sqrt();
            // R[j,j] = <q_j, a_j> > 0 in Gram–Schmidt, so Q·sign(diag R) = Q here.
            if norm == 0.0 {
                rjj_sign = 0.0;
            }
            for i in 0..m {
                q[j * m + i] = q[j * m + i] / norm * rjj_sign;
            }
        }
        let mut out = vec![0.0; rows * cols];
        for (idx, &v) in q.iter().enumerate() {
            let (i, j) = (idx % m, idx / m);
            if rows < cols {
                out[j * cols + i] = v;
            } else {
                out[i * cols + j] = v;
            }
        }
        out
    }

    #[test]
    fn matches_gram_schmidt_all_shapes() {
        for &(r, c) in &[(1, 1), (1, 5), (5, 1), (3, 3), (4, 7), (7, 4), (50, 50), (40, 130), (130, 40), (200, 200)] {
            let g = fill(r * c, (r * 1000 + c) as u64);
            let mut d = g.clone();
            orthonormalize_f64(r, c, &mut d);
            let want = reference(r, c, &g);
            let diff = d.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(diff < 1e-12, "{r}x{c}: max diff {diff}");
            assert!(gram_error(r, c, &d) < 1e-12, "{r}x{c}");

            let mut f: Vec<f32> = g.iter().map(|&x| x as f32).collect();
            orthonormalize_f32(r, c, &mut f);
            let diff = f.iter().zip(&want).map(|(&a, b)| (f64::from(a) - b).abs()).fold(0.0, f64::max);
            assert!(diff < 1e-4, "{r}x{c} f32: max diff {diff}");
        }
    }

    #[test]
    fn large_parallel_is_orthogonal() {
        let (r, c) = (300, 257);
        let g = fill(r * c, 7);
        let mut d = g.clone();
        orthonormalize_f64(r, c, &mut d);
        assert!(gram_error(r, c, &d) < 1e-12);
        let mut d2 = g;
        orthonormalize_f64(c, r, &mut d2);
        assert!(gram_error(c, r, &d2) < 1e-12);
    }

    #[test]
    fn same_bits_for_any_pool_size() {
        let (r, c) = (200, 300);
        let g: Vec<f32> = fill(r * c, 11).iter().map(|&x| x as f32).collect();
        let run = |threads: usize| {
            let mut d = g.clone();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
            match pool {
                Ok(pool) => pool.install(|| orthonormalize_f32(r, c, &mut d)),
                Err(_) => orthonormalize_f32(r, c, &mut d),
            }
            d
        };
        let one = run(1);
        assert!(one.iter().zip(run(2)).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(one.iter().zip(run(3)).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn empty_and_zero() {
        let mut e: Vec<f32> = vec![];
        orthonormalize_f32(0, 5, &mut e);
        let mut z = vec![0.0f64; 6];
        orthonormalize_f64(2, 3, &mut z);
        assert!(z.iter().all(|v| v.is_finite() || v.is_nan()));
    }
}
