//! Dense linear algebra the initializers and the doctor need: the orthonormalization
//! behind `orthogonal_`, the truncated SVDs of the adapters, and the largest eigenvalue
//! of a tridiagonal matrix (the doctor's Lanczos spectral norm).
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
//! `[I; 0]`, skipping the columns that are still zero, in the factored matrix's
//! own storage (so the peak memory is one `m × n` matrix besides the caller's).
//!
//! Parallelism and reproducibility: matrices of [`PAR_MIN_ELEMENTS`] elements
//! and up are factored on the caller's rayon pool, always split into
//! [`PAR_PIECES`] pieces whatever the pool's size; smaller ones run sequentially.
//! faer's rounding depends on how the work is split, not on which thread runs a
//! piece, so the result depends only on the input and the CPU's SIMD level
//! (faer dispatches AVX2/AVX-512 kernels at run time), never on the thread count.
//! Results are therefore bit-reproducible on one machine, but not across CPUs.
//! Moving the matrix in and out (transposes, the sign fix) runs on the pool at
//! every size: it does no arithmetic but one exact multiplication by ±1 or 0.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder;
use faer::linalg::qr::no_pivoting::factor as qr;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::traits::RealField;
use faer::{ColMut, Conj, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

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
    // Row-major rows × cols memory is, read column-major, the cols × rows matrix Aᵀ. QR needs
    // the tall orientation: Aᵀ itself when A is wide (a plain copy), else A (a transpose).
    let orientation = if rows < cols { Orientation::Wide } else { Orientation::Tall };
    let (m, n) = orientation.tall_shape(rows, cols);
    let mut work = Workspace::<T>::new(m, n);
    let mut a = work.as_mut();
    orientation.load(a.rb_mut(), data);
    let signs = tall_q(a.rb_mut(), par);
    orientation.store(a.rb(), &signs, data);
}

/// Bytes in a cache line.
const LINE_BYTES: usize = 64;

/// The column-major `m × n` matrix that is factored: every column starts on a cache line,
/// and consecutive columns are an odd number of lines apart.
///
/// - Aligned columns: faer's QR is much slower on columns that do not start on a cache
///   line, as in the caller's buffer (a `Vec`, 16 bytes past a 64-byte boundary).
/// - The odd stride: stored densely, a 4096-row `f32` matrix has columns exactly 16 KiB
///   apart, so element `i` of every column falls in the same L1 set and a panel of
///   reflectors competes for 8 ways. An odd number of lines makes consecutive columns
///   cycle through every set. It costs one line per column and was never slower
///   (BENCHMARKS.md). It changes no value: faer splits its work by shape, not by address (checked bit for bit at 300²,
///   1024² and 4096² for several strides).
/// - Zeroed by `calloc`, so the pages are first touched by the parallel load rather than
///   by a sequential zeroing pass (which faer's `Mat::zeros` would add).
struct Workspace<T> {
    buf: Vec<T>,
    /// Index of the first element of column 0 (the first one on a line boundary).
    start: usize,
    stride: usize,
    m: usize,
    n: usize,
}

impl<T: RealField + Copy> Workspace<T> {
    /// An `m × n` matrix of zeros.
    fn new(m: usize, n: usize) -> Self {
        let per_line = (LINE_BYTES / std::mem::size_of::<T>()).max(1);
        let lines = m.div_ceil(per_line);
        let stride = (lines | 1) * per_line;
        let buf = vec![T::zero_impl(); stride * n + per_line];
        // `align_offset` may give up (`usize::MAX`); an unaligned start only costs speed.
        let start = match buf.as_ptr().align_offset(LINE_BYTES) {
            offset if offset < per_line => offset,
            _ => 0,
        };
        Self { buf, start, stride, m, n }
    }

    fn as_mut(&mut self) -> MatMut<'_, T> {
        let (m, n, stride) = (self.m, self.n, self.stride);
        MatMut::from_column_major_slice_with_stride_mut(&mut self.buf[self.start..][..stride * n], m, n, stride)
    }
}

/// How the caller's row-major `rows × cols` buffer relates to the tall `m × n` (`m ≥ n`)
/// column-major matrix that is factored.
#[derive(Clone, Copy)]
enum Orientation {
    /// `rows ≥ cols`: the matrix is `A` itself, so moving it in and out is a transpose.
    Tall,
    /// `rows < cols`: the matrix is `Aᵀ`, whose column `j` is row `j` of the buffer.
    Wide,
}

/// Rows or columns moved per parallel task, and the side of a transpose tile.
const TILE: usize = 32;

impl Orientation {
    fn tall_shape(self, rows: usize, cols: usize) -> (usize, usize) {
        match self {
            Self::Tall => (rows, cols),
            Self::Wide => (cols, rows),
        }
    }

    /// Fills the `m × n` matrix `a` from the row-major buffer, in parallel over columns.
    fn load<T: RealField + Copy>(self, a: MatMut<'_, T>, data: &[T]) {
        let (m, n) = a.shape();
        a.par_col_chunks_mut(TILE).enumerate().for_each(|(c, chunk)| {
            let j0 = c * TILE;
            let mut columns: Vec<&mut [T]> = chunk.col_iter_mut().map(column_slice_mut).collect();
            match self {
                // Column j of A is column j of the buffer: each task reads its TILE columns
                // row by row, while the TILE lines it writes stay in cache.
                Self::Tall => {
                    for (i, row) in data.chunks_exact(n).enumerate() {
                        for (column, &v) in columns.iter_mut().zip(&row[j0..]) {
                            column[i] = v;
                        }
                    }
                }
                Self::Wide => {
                    for (column, row) in columns.iter_mut().zip(data[j0 * m..].chunks_exact(m)) {
                        column.copy_from_slice(row);
                    }
                }
            }
        });
    }

    /// Writes `Q · diag(signs)` back into the row-major buffer, in parallel over its rows.
    fn store<T: RealField + Copy>(self, q: MatRef<'_, T>, signs: &[T], data: &mut [T]) {
        let (m, n) = q.shape();
        match self {
            // Row i of the buffer is row i of Q: TILE rows per task, written a TILE-wide strip
            // of columns at a time, so that each column's lines are read from memory once.
            Self::Tall => data.par_chunks_mut(TILE * n).enumerate().for_each(|(c, out)| {
                let i0 = c * TILE;
                let i1 = i0 + out.len() / n;
                let mut strip: Vec<&[T]> = Vec::with_capacity(TILE);
                for j0 in (0..n).step_by(TILE) {
                    let j1 = (j0 + TILE).min(n);
                    strip.clear();
                    strip.extend((j0..j1).map(|j| &column_slice(q, j)[i0..i1]));
                    for (ii, row) in out.chunks_exact_mut(n).enumerate() {
                        for ((o, column), &s) in row[j0..j1].iter_mut().zip(&strip).zip(&signs[j0..j1]) {
                            *o = column[ii] * s;
                        }
                    }
                }
            }),
            // Row j of the buffer is column j of Q.
            Self::Wide => data.par_chunks_mut(m).zip(signs.par_iter()).enumerate().for_each(|(j, (out, &s))| {
                for (o, &v) in out.iter_mut().zip(column_slice(q, j)) {
                    *o = v * s;
                }
            }),
        }
    }
}

/// Column `j` of a faer matrix as a slice.
///
/// # Panics
///
/// If the column is not contiguous (never: every matrix here is a `Mat` or a block of one,
/// and a `Mat`'s columns are contiguous).
fn column_slice<T>(q: MatRef<'_, T>, j: usize) -> &[T] {
    q.col(j).try_as_col_major().expect("a faer Mat's columns are contiguous").as_slice()
}

/// A column of a faer matrix as a mutable slice (see [`column_slice`]).
fn column_slice_mut<T>(column: ColMut<'_, T>) -> &mut [T] {
    column.try_as_col_major_mut().expect("a faer Mat's columns are contiguous").as_slice_mut()
}

/// Overwrites the tall (`m ≥ n`) matrix `a` with the `Q` of its thin QR and returns
/// `sign(diag R)`; the caller scales column `j` of `Q` by sign `j` as it copies `Q` out.
fn tall_q<T: RealField + Copy>(mut a: MatMut<'_, T>, par: Par) -> Vec<T> {
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
    form_q_in_place(a, coeff.as_ref(), par);
    signs
}

/// Replaces a QR factorization stored as faer leaves it in `a` (reflectors below the
/// diagonal, `R` on and above it; `coeff` holds the blocks' triangular factors) by the
/// explicit thin `Q`, in place, as LAPACK's `orgqr` does.
///
/// `Q = H_1 · H_2 ⋯ H_k · [I; 0]` is built block by block from the last reflector block.
/// The block of columns `start..end` touches rows `start..` only, and in those rows every
/// column before `start` of the partial product is still zero, so it is applied to the
/// trailing columns only. Before that, its reflectors are moved out to a panel, and its
/// own columns (and the rows `start..end` of the columns after it, which still hold `R`)
/// are reset to those of `[I; 0]`. Nothing else of `R` is read again: the rows above
/// `start` are reset when their own block comes. This does what applying the blocks to a
/// separate identity matrix does, with the same arithmetic, and needs no second `m × n`
/// matrix (for 4096² `f32`, 64 MiB fewer to allocate and fault in).
fn form_q_in_place<T: RealField + Copy>(mut a: MatMut<'_, T>, coeff: MatRef<'_, T>, par: Par) {
    let (m, n) = a.shape();
    let block_size = coeff.nrows();
    let req = householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<T>(m, block_size, n);
    let mut buf = MemBuffer::new(req);
    let stack = MemStack::new(&mut buf);
    let mut panel = Mat::<T>::zeros(m, block_size);
    let mut end = n;
    let mut this_block = match n % block_size {
        0 => block_size,
        rest => rest,
    };
    while end > 0 {
        let start = end - this_block;
        let mut essentials = panel.as_mut().get_mut(..m - start, ..this_block);
        essentials.copy_from(a.rb().get(start.., start..end));
        a.rb_mut().get_mut(start..end, end..).fill(T::zero_impl());
        let mut own = a.rb_mut().get_mut(.., start..end);
        own.fill(T::zero_impl());
        for k in 0..this_block {
            own[(start + k, k)] = T::one_impl();
        }
        householder::apply_block_householder_on_the_left_in_place_with_conj(
            essentials.rb(),
            coeff.get(..this_block, start..end),
            Conj::No,
            a.rb_mut().get_mut(start.., start..),
            par,
            stack,
        );
        end = start;
        this_block = block_size;
    }
}

// ---------------------------------------------------------------------------------------------
// Low-rank factorizations for adapter init (PiSSA's SVD, OLoRA's QR).
// ---------------------------------------------------------------------------------------------

/// The leading singular triplets of an `m × n` matrix `A`: `A ≈ U · diag(S) · Vᵀ`, with `U`
/// `m × r` and `V` `n × r` orthonormal columns and `S` non-increasing and non-negative.
#[derive(Debug)]
pub(crate) struct TopSvd {
    /// Left singular vectors, `m × r`.
    pub u: Mat<f32>,
    /// Singular values, largest first.
    pub s: Vec<f32>,
    /// Right singular vectors, `n × r`.
    pub v: Mat<f32>,
}

/// How a randomized SVD sketches its matrix (Halko, Martinsson and Tropp 2011, Algorithm 4.4,
/// randomized subspace iteration): `rank + oversample` Gaussian test vectors, and
/// `power_iterations` passes of `A·Aᵀ` with re-orthonormalization between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sketch {
    /// Extra test vectors beyond the rank (`p` in HMT).
    pub oversample: usize,
    /// Power (subspace) iterations (`q` in HMT).
    pub power_iterations: usize,
}

/// faer's parallelism for work on a matrix of `elements` elements (see [`PAR_MIN_ELEMENTS`]).
fn par_for(elements: usize) -> Par {
    if elements >= PAR_MIN_ELEMENTS { Par::rayon(PAR_PIECES) } else { Par::Seq }
}

/// `Q` of the thin QR of the tall `m × k` matrix `y` (`m ≥ k`), in place.
fn orthonormalize_columns(y: &mut Mat<f32>) {
    let par = par_for(y.nrows() * y.ncols());
    tall_q(y.as_mut(), par);
}

/// `(U, S, V)` of a thin SVD.
type Triplets<T> = (Mat<T>, Vec<T>, Mat<T>);

/// The thin SVD `A = U · diag(S) · Vᵀ` of a small or large matrix, on a fixed split of the
/// rayon pool (so the result does not depend on the pool's size).
///
/// # Errors
/// `Err(())` if faer's bidiagonal SVD does not converge.
fn thin_svd<T: RealField + Copy>(a: MatRef<'_, T>) -> std::result::Result<Triplets<T>, ()> {
    use faer::linalg::svd::{self, ComputeSvdVectors};
    let (m, n) = a.shape();
    let size = m.min(n);
    let par = par_for(m * n);
    let mut u = Mat::<T>::zeros(m, size);
    let mut v = Mat::<T>::zeros(n, size);
    let mut s = faer::diag::Diag::<T>::zeros(size);
    let req = svd::svd_scratch::<T>(m, n, ComputeSvdVectors::Thin, ComputeSvdVectors::Thin, par, Default::default());
    let mut buf = MemBuffer::new(req);
    svd::svd(a, s.as_mut(), Some(u.as_mut()), Some(v.as_mut()), par, MemStack::new(&mut buf), Default::default())
        .map_err(|_| ())?;
    let s = (0..size).map(|i| s.column_vector()[i]).collect();
    Ok((u, s, v))
}

/// The `rank` leading singular triplets of `a` from its exact thin SVD (as
/// `torch.linalg.svd(A, full_matrices=False)` truncated), computed in `f64` and rounded to
/// `f32`: closer to the exact triplets than an `f32` SVD (such as PyTorch's, which PEFT's
/// `"pissa"` runs) where singular values lie close together.
///
/// # Errors
/// `Err(())` if the SVD does not converge.
pub(crate) fn exact_top_svd(a: MatRef<'_, f32>, rank: usize) -> std::result::Result<TopSvd, ()> {
    let wide = Mat::<f64>::from_fn(a.nrows(), a.ncols(), |i, j| f64::from(a[(i, j)]));
    let (u, s, v) = thin_svd(wide.as_ref())?;
    let r = rank.min(s.len());
    let narrow = |m: MatRef<'_, f64>| Mat::<f32>::from_fn(m.nrows(), r, |i, j| m[(i, j)] as f32);
    Ok(TopSvd { u: narrow(u.as_ref()), s: s[..r].iter().map(|&x| x as f32).collect(), v: narrow(v.as_ref()) })
}

/// The `rank` leading singular triplets of `a` by randomized subspace iteration (Halko,
/// Martinsson and Tropp 2011, Algorithms 4.4 and 5.1):
///
/// 1. `Ω` is `n × k` standard Gaussian with `k = min(rank + oversample, m, n)`, drawn from
///    `stream` (element `i + n·j` is `Ω[i, j]`);
/// 2. `Q = orth(A·Ω)`; then `power_iterations` times `Q = orth(A · orth(Aᵀ·Q))`;
/// 3. `B = Qᵀ·A` (`k × n`), its thin SVD `B = Ũ·Σ·Vᵀ`, and `U = Q·Ũ`; the first `rank` columns.
///
/// With `q` power iterations the expected spectral error obeys HMT's Corollary 10.10; with
/// none, the Frobenius error obeys Theorem 10.5, `E‖A − QQᵀA‖_F ≤ (1 + r/(p−1))^½ ·
/// (Σ_{j>r} σ_j²)^½` (tested below).
///
/// # Errors
/// `Err(())` if the small SVD does not converge.
pub(crate) fn randomized_top_svd(
    a: MatRef<'_, f32>,
    rank: usize,
    sketch: Sketch,
    stream: &crate::stream::Philox,
) -> std::result::Result<TopSvd, ()> {
    let basis = randomized_range(a, rank + sketch.oversample, sketch.power_iterations, stream);
    let (m, n) = a.shape();
    let k = basis.ncols();
    let par = par_for(m * n);
    let mut b = Mat::<f32>::zeros(k, n);
    faer::linalg::matmul::matmul(b.as_mut(), faer::Accum::Replace, basis.as_ref().transpose(), a, 1.0, par);
    let (ub, s, vb) = thin_svd(b.as_ref())?;
    let r = rank.min(s.len());
    let mut u = Mat::<f32>::zeros(m, r);
    faer::linalg::matmul::matmul(u.as_mut(), faer::Accum::Replace, basis.as_ref(), ub.get(.., ..r), 1.0, par);
    Ok(TopSvd { u, s: s[..r].to_vec(), v: vb.get(.., ..r).to_owned() })
}

/// An orthonormal `m × k` basis `Q` (`k = min(columns, m, n)`) of the range of `A·Ω` after
/// `power_iterations` rounds of subspace iteration (steps 1–2 of [`randomized_top_svd`]).
fn randomized_range(
    a: MatRef<'_, f32>,
    columns: usize,
    power_iterations: usize,
    stream: &crate::stream::Philox,
) -> Mat<f32> {
    let (m, n) = a.shape();
    let k = columns.min(m).min(n);
    let par = par_for(m * n);
    let mut omega = vec![0.0f32; n * k];
    crate::stream::par_fill(0, &mut omega, |start, chunk| stream.normal_f32(start, chunk, 0.0, 1.0));
    let omega = MatRef::from_column_major_slice(&omega, n, k);
    let mut y = Mat::<f32>::zeros(m, k);
    faer::linalg::matmul::matmul(y.as_mut(), faer::Accum::Replace, a, omega, 1.0, par);
    orthonormalize_columns(&mut y);
    let mut z = Mat::<f32>::zeros(n, k);
    for _ in 0..power_iterations {
        faer::linalg::matmul::matmul(z.as_mut(), faer::Accum::Replace, a.transpose(), y.as_ref(), 1.0, par);
        orthonormalize_columns(&mut z);
        faer::linalg::matmul::matmul(y.as_mut(), faer::Accum::Replace, a, z.as_ref(), 1.0, par);
        orthonormalize_columns(&mut y);
    }
    y
}

/// The first `rank` columns of `Q` and rows of `R` of the thin QR `A = Q·R` (as
/// `torch.linalg.qr(A)` then `Q[:, :r]`, `R[:r]`), with `R`'s diagonal made non-negative
/// (LAPACK's and faer's Householder conventions differ by the sign of each pair
/// `(Q[:, j], R[j])`; the product `Q_r·R_r` does not).
///
/// Only the first `rank` columns of `A` determine `Q_r`, and `R_r = Q_rᵀ·A`, so this costs
/// a QR of `m × r` and one `r × m × n` product rather than a QR of the whole matrix.
///
/// Returns `(Q_r` (`m × r`), `R_r` (`r × n`)).
pub(crate) fn leading_qr(a: MatRef<'_, f32>, rank: usize) -> (Mat<f32>, Mat<f32>) {
    let (m, n) = a.shape();
    let r = rank.min(m).min(n);
    let mut q = a.get(.., ..r).to_owned();
    let par = par_for(m * r);
    let signs = tall_q(q.as_mut(), par);
    for (j, &s) in signs.iter().enumerate() {
        // sign(0) = 0 would zero a column; a zero pivot's column is any unit vector's sign.
        let s = if s == 0.0 { 1.0 } else { s };
        q.col_mut(j).iter_mut().for_each(|x| *x *= s);
    }
    let mut rr = Mat::<f32>::zeros(r, n);
    faer::linalg::matmul::matmul(rr.as_mut(), faer::Accum::Replace, q.as_ref().transpose(), a, 1.0, par_for(m * n));
    (q, rr)
}

/// `out ← out − alpha · L·R` for a row-major `m × n` buffer `out`, `L` `m × r`, `R` `r × n`.
pub(crate) fn subtract_product(
    out: &mut [f32],
    m: usize,
    n: usize,
    l: MatRef<'_, f32>,
    r: MatRef<'_, f32>,
    alpha: f32,
) {
    let par = par_for(m * n);
    let out = MatMut::from_row_major_slice_mut(out, m, n);
    faer::linalg::matmul::matmul(out, faer::Accum::Add, l, r, -alpha, par);
}

/// The largest eigenvalue of the symmetric tridiagonal matrix with diagonal `alpha` and
/// off-diagonal `beta` (`beta.len() + 1 == alpha.len()`), by bisection on Sturm counts:
/// each step counts the eigenvalues below a point from the signs of the pivots of
/// `T − x·I = L·D·Lᵀ`, so the result is correct to a few ulps of `‖T‖` whatever the
/// spectrum (the Lanczos matrices of the doctor's spectral norms are a few to a thousand
/// rows). 0 for an empty matrix.
///
/// # Panics
/// If the lengths do not fit (an internal invariant).
pub(crate) fn largest_eigenvalue_tridiagonal(alpha: &[f64], beta: &[f64]) -> f64 {
    if alpha.is_empty() {
        return 0.0;
    }
    assert_eq!(beta.len() + 1, alpha.len(), "a tridiagonal matrix's off-diagonal");
    // Gershgorin: every eigenvalue lies in [lo, hi].
    let radius = |i: usize| {
        let left = if i > 0 { beta[i - 1].abs() } else { 0.0 };
        left + beta.get(i).map_or(0.0, |b| b.abs())
    };
    let lo = (0..alpha.len()).map(|i| alpha[i] - radius(i)).fold(f64::INFINITY, f64::min);
    let hi = (0..alpha.len()).map(|i| alpha[i] + radius(i)).fold(f64::NEG_INFINITY, f64::max);
    let scale = lo.abs().max(hi.abs()).max(f64::MIN_POSITIVE);
    // The number of eigenvalues below x.
    let below = |x: f64| {
        let mut count = 0;
        let mut d = 1.0;
        for (i, &a) in alpha.iter().enumerate() {
            let b2 = if i > 0 { beta[i - 1] * beta[i - 1] } else { 0.0 };
            d = a - x - if i > 0 { b2 / d } else { 0.0 };
            if d == 0.0 {
                // A zero pivot: perturb it by rounding's size (LAPACK's dstebz does too).
                d = -f64::EPSILON * scale;
            }
            count += usize::from(d < 0.0);
        }
        count
    };
    let (mut lo, mut hi) = (lo, hi);
    let n = alpha.len();
    // The largest eigenvalue is the point below which all n lie.
    while hi - lo > 2.0 * f64::EPSILON * scale {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if below(mid) == n { hi = mid } else { lo = mid }
    }
    hi
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
    fn workspace_columns_start_on_lines_an_odd_number_of_lines_apart() {
        for m in [1, 15, 16, 17, 100, 4096] {
            let mut w32 = Workspace::<f32>::new(m, 3);
            let a = w32.as_mut();
            assert_eq!(a.as_ptr() as usize % LINE_BYTES, 0, "f32 m={m}");
            assert_eq!(a.col_stride() as usize * 4 / LINE_BYTES % 2, 1, "f32 m={m}");
            assert!(a.col_stride() as usize >= m);
            let mut w64 = Workspace::<f64>::new(m, 3);
            let a = w64.as_mut();
            assert_eq!(a.as_ptr() as usize % LINE_BYTES, 0, "f64 m={m}");
            assert_eq!(a.col_stride() as usize * 8 / LINE_BYTES % 2, 1, "f64 m={m}");
        }
        // A 4096-row f32 matrix (256 lines) is padded by one line; 4080 rows are 255 lines already.
        assert_eq!(Workspace::<f32>::new(4096, 1).stride, 4096 + 16);
        assert_eq!(Workspace::<f32>::new(4080, 1).stride, 4080);
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

#[cfg(test)]
mod low_rank_tests {
    use super::*;
    use crate::stream::Philox;

    /// A row-major `m × n` matrix `U diag(s) Vᵀ` with Haar-like orthonormal `U`, `V`.
    fn with_spectrum(m: usize, n: usize, s: &[f64], seed: u64) -> Vec<f32> {
        let k = s.len();
        let mut u = vec![0.0f64; m * k];
        Philox::new(seed, "u").normal_f64(0, &mut u, 0.0, 1.0);
        orthonormalize_f64(m, k, &mut u);
        let mut v = vec![0.0f64; n * k];
        Philox::new(seed, "v").normal_f64(0, &mut v, 0.0, 1.0);
        orthonormalize_f64(n, k, &mut v);
        let mut w = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                w[i * n + j] = (0..k).map(|l| u[i * k + l] * s[l] * v[j * k + l]).sum::<f64>() as f32;
            }
        }
        w
    }

    /// `‖A − Q·Qᵀ·A‖_F` in f64.
    fn projection_error(a: &[f32], m: usize, n: usize, q: &Mat<f32>) -> f64 {
        let k = q.ncols();
        let mut err = 0.0;
        // Qᵀ A, k × n.
        let mut qa = vec![0.0f64; k * n];
        for l in 0..k {
            for j in 0..n {
                qa[l * n + j] = (0..m).map(|i| f64::from(q[(i, l)]) * f64::from(a[i * n + j])).sum();
            }
        }
        for i in 0..m {
            for j in 0..n {
                let p: f64 = (0..k).map(|l| f64::from(q[(i, l)]) * qa[l * n + j]).sum();
                err += (f64::from(a[i * n + j]) - p).powi(2);
            }
        }
        err.sqrt()
    }

    /// HMT 2011, Theorem 10.7 with `t = 4`, `u = 6`: with probability at least
    /// `1 − 5·t^(−p) − e^(−u²/2)` (> 1 − 5·10⁻⁶ for `p = 10`), a Gaussian sketch of `k + p`
    /// columns has `‖A − QQᵀA‖_F ≤ (1 + t√(12k/p))·τ + u·t·(e√(k+p)/(p+1))·σ_{k+1}`, with
    /// `τ = (Σ_{j>k} σ_j²)^½`.
    fn deviation_bound(s: &[f64], k: usize, p: usize) -> f64 {
        let (t, u) = (4.0f64, 6.0f64);
        let tail: f64 = s[k..].iter().map(|x| x * x).sum::<f64>().sqrt();
        let (kf, pf) = (k as f64, p as f64);
        (1.0 + t * (12.0 * kf / pf).sqrt()) * tail
            + u * t * (std::f64::consts::E * (kf + pf).sqrt() / (pf + 1.0)) * s[k]
    }

    /// A slowly decaying spectrum (σ_j = 1/(1 + j)^½), where the sketch's error is far from 0.
    fn slow_spectrum(n: usize) -> Vec<f64> {
        (0..n).map(|j| 1.0 / (1.0 + j as f64).sqrt()).collect()
    }

    #[test]
    fn randomized_range_meets_hmt_bounds() {
        let (m, n, k, p) = (150, 100, 10, 10);
        let s = slow_spectrum(n);
        let a = with_spectrum(m, n, &s, 1);
        let view = MatRef::from_row_major_slice(&a, m, n);
        let tail: f64 = s[k..].iter().map(|x| x * x).sum::<f64>().sqrt();
        let bound = deviation_bound(&s, k, p);
        let trials = 20;
        let mut total = 0.0;
        for seed in 0..trials {
            let q = randomized_range(view, k + p, 0, &Philox::new(seed, "omega"));
            assert_eq!(q.shape(), (m, k + p));
            let err = projection_error(&a, m, n, &q);
            // Eckart–Young: no rank-(k+p) projection does better than the optimal tail.
            let optimum: f64 = s[k + p..].iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!(err >= optimum * (1.0 - 1e-4), "seed {seed}: {err} below the optimum {optimum}");
            assert!(err <= bound, "seed {seed}: {err} > {bound}");
            total += err;
        }
        // Theorem 10.5: E‖A − QQᵀA‖_F ≤ (1 + k/(p − 1))^½ · τ, for the mean of the draws.
        let mean = total / trials as f64;
        let expected = (1.0 + k as f64 / (p as f64 - 1.0)).sqrt() * tail;
        assert!(mean <= expected, "mean {mean} > {expected}");
    }

    #[test]
    fn twin_a_sketch_one_column_short_of_the_rank_breaks_the_bound() {
        // σ_1..σ_k = 1 and a tail of 1e-3: a rank-k bound is tiny, but a sketch of k − 1
        // columns cannot reach σ_k (Eckart–Young: its error is at least σ_k = 1).
        let (m, n, k, p) = (150, 100, 10, 10);
        let s: Vec<f64> = (0..n).map(|j| if j < k { 1.0 } else { 1e-3 }).collect();
        let a = with_spectrum(m, n, &s, 2);
        let view = MatRef::from_row_major_slice(&a, m, n);
        let bound = deviation_bound(&s, k, p);
        let good = projection_error(&a, m, n, &randomized_range(view, k + p, 0, &Philox::new(0, "omega")));
        assert!(good <= bound, "{good} > {bound}");
        let short = projection_error(&a, m, n, &randomized_range(view, k - 1, 0, &Philox::new(0, "omega")));
        assert!(short > bound, "a sketch of k − 1 columns met the bound: {short} <= {bound}");
        assert!(short >= 1.0 - 1e-4, "{short}");
    }

    #[test]
    #[allow(clippy::needless_range_loop)] // i indexes four parallel arrays
    fn randomized_svd_finds_the_leading_triplets_of_a_gapped_spectrum() {
        let (m, n, r) = (120, 90, 6);
        let s: Vec<f64> = (0..n).map(|j| if j < r { 10.0 - j as f64 } else { 0.5 * 0.9f64.powi(j as i32) }).collect();
        let a = with_spectrum(m, n, &s, 3);
        let view = MatRef::from_row_major_slice(&a, m, n);
        let exact = exact_top_svd(view, r).unwrap();
        let fast =
            randomized_top_svd(view, r, Sketch { oversample: 8, power_iterations: 4 }, &Philox::new(0, "o")).unwrap();
        for i in 0..r {
            assert!((f64::from(exact.s[i]) - s[i]).abs() < 1e-4, "exact σ_{i} = {}", exact.s[i]);
            assert!((fast.s[i] - exact.s[i]).abs() < 1e-4 * exact.s[0], "σ_{i}: {} vs {}", fast.s[i], exact.s[i]);
            // Singular vectors agree up to sign.
            let dot: f64 = (0..m).map(|k| f64::from(fast.u[(k, i)]) * f64::from(exact.u[(k, i)])).sum();
            assert!((dot.abs() - 1.0).abs() < 1e-4, "u_{i}: |⟨fast, exact⟩| = {dot}");
        }
    }

    #[test]
    fn leading_qr_is_the_first_columns_of_the_full_qr() {
        let (m, n, r) = (30, 20, 5);
        let mut a = vec![0.0f32; m * n];
        Philox::new(4, "a").normal_f32(0, &mut a, 0.0, 1.0);
        let view = MatRef::from_row_major_slice(&a, m, n);
        let (q, rr) = leading_qr(view, r);
        // Q_r has orthonormal columns spanning A's first r columns; R_r = Q_rᵀA is upper
        // triangular in its first r columns with a positive diagonal.
        for i in 0..r {
            for j in 0..r {
                let dot: f64 = (0..m).map(|k| f64::from(q[(k, i)]) * f64::from(q[(k, j)])).sum();
                assert!((dot - f64::from(u8::from(i == j))).abs() < 1e-5);
            }
            assert!(rr[(i, i)] > 0.0);
            for j in 0..i {
                assert!(rr[(i, j)].abs() < 1e-5, "R[{i}, {j}] = {}", rr[(i, j)]);
            }
        }
        for i in 0..m {
            for j in 0..r {
                let back: f32 = (0..r).map(|l| q[(i, l)] * rr[(l, j)]).sum();
                assert!((back - a[i * n + j]).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn largest_tridiagonal_eigenvalue_against_a_dense_solver() {
        let n = 40;
        let mut a = vec![0.0f32; 2 * n];
        Philox::new(5, "t").normal_f32(0, &mut a, 0.0, 1.0);
        let (alpha, beta): (Vec<f64>, Vec<f64>) =
            ((0..n).map(|i| f64::from(a[i])).collect(), (0..n - 1).map(|i| f64::from(a[n + i])).collect());
        let t = Mat::<f64>::from_fn(n, n, |i, j| match i.abs_diff(j) {
            0 => alpha[i],
            1 => beta[i.min(j)],
            _ => 0.0,
        });
        let exact = t.self_adjoint_eigenvalues(faer::Side::Lower).unwrap().into_iter().fold(f64::MIN, f64::max);
        let got = largest_eigenvalue_tridiagonal(&alpha, &beta);
        assert!((got - exact).abs() < 1e-12 * exact.abs().max(1.0), "{got} vs {exact}");
        assert_eq!(largest_eigenvalue_tridiagonal(&[3.0], &[]), 3.0);
        // A zero off-diagonal splits the matrix; the largest of both parts wins.
        assert!((largest_eigenvalue_tridiagonal(&[1.0, 5.0, 2.0], &[0.0, 0.0]) - 5.0).abs() < 1e-14);
        assert_eq!(largest_eigenvalue_tridiagonal(&[], &[]), 0.0);
    }
}
