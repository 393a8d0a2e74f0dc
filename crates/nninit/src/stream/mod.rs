//! Reproducible random streams: counter-based Philox4x32-10 keyed by (seed, tensor name).
//!
//! Element `i` of a tensor depends only on `(seed, name, i)`. So the same bytes come out
//! for any thread count, any chunking, any order in which tensors are made, and any slice
//! made alone (a shard on another machine): [`Philox::normal_f32`]`(start, out, ..)`
//! writes elements `start..start + out.len()` of the tensor, whatever `start` is.
//!
//! # Example
//!
//! ```
//! use nninit::stream::{par_fill, Philox};
//!
//! let stream = Philox::new(2024, "layers.0.mlp.fc1.weight");
//! let mut weight = vec![0.0f32; 1000];
//! par_fill(0, &mut weight, |start, chunk| stream.normal_f32(start, chunk, 0.0, 0.02));
//!
//! // Any slice made alone equals the same elements of the whole tensor.
//! let mut shard = vec![0.0f32; 7];
//! stream.normal_f32(501, &mut shard, 0.0, 0.02);
//! assert_eq!(shard, weight[501..508]);
//! ```
//!
//! # Specification
//!
//! This section defines every output bit, so that another implementation can reproduce
//! the streams exactly. All integers are unsigned and arithmetic on them wraps; `hi(x)`
//! and `lo(x)` are the upper and lower 32 bits of a 64-bit `x`; floating-point operations
//! are IEEE-754 binary32 (f32) or binary64 (f64) with round-to-nearest-even, evaluated
//! one operation at a time exactly in the order written (no reassociation, no extended
//! precision). `fma(a, b, c)` is the fused multiply-add `a·b + c` rounded once (IEEE
//! `fusedMultiplyAdd`, Rust's `f32::mul_add`); it appears only where written, and
//! every other product is rounded before it is added.
//!
//! ## The bijection
//!
//! Philox4x32-10 as in Random123 (Salmon et al. 2011)[^philox]: with multipliers
//! `M0 = 0xD2511F53`, `M1 = 0xCD9E8D57` and key increments `W0 = 0x9E3779B9`,
//! `W1 = 0xBB67AE85`, each of 10 rounds maps counter `(c0, c1, c2, c3)` and key
//! `(k0, k1)` to
//!
//! ```text
//! (hi(M1·c2) ^ c1 ^ k0,  lo(M1·c2),  hi(M0·c0) ^ c3 ^ k1,  lo(M0·c0))
//! ```
//!
//! (products of two 32-bit numbers as 64-bit numbers), and the key is increased by
//! `(W0, W1)` between rounds (the first round uses the key unchanged). The output
//! counter is the block `(w0, w1, w2, w3)`. Known answers, from Random123's
//! `tests/kat_vectors`:
//!
//! | counter | key | block |
//! |---|---|---|
//! | `0 0 0 0` | `0 0` | `6627e8d5 e169c58d bc57ac4c 9b00dbd8` |
//! | `ffffffff ffffffff ffffffff ffffffff` | `ffffffff ffffffff` | `408f276d 41c83b0e a20bc7c6 6d5451fd` |
//! | `243f6a88 85a308d3 13198a2e 03707344` | `a4093822 299f31d0` | `d16cfe09 94fdcceb 5001e420 24126ea1` |
//!
//! ## Keying
//!
//! A stream is `(seed: u64, name: &str)`.
//!
//! - `name_hash` = FNV-1a 64-bit over the UTF-8 bytes of the name: start from
//!   `h = 0xcbf29ce484222325`; for each byte `b`, `h = (h ^ b) · 0x100000001b3` (mod 2⁶⁴).
//! - key = `(lo(seed), hi(seed))`.
//! - Block `j` (a `u64`) is Philox of counter `(lo(j), hi(j), lo(name_hash), hi(name_hash))`
//!   under that key.
//! - A sub-stream [`Philox::derive`]`(suffix)` continues the hash over one `0x00` byte and
//!   then the bytes of `suffix`; it equals the stream of the name `name + "\0" + suffix`.
//!
//! ## Bits to numbers
//!
//! Let `u24(w) = (w >> 8)·2⁻²⁴` (an f32 in `[0, 1)`, exact) and, for two words of a block
//! taken in order (first `lo`, then `hi`), `x = hi << 32 | lo` and
//! `u53(lo, hi) = (x >> 11)·2⁻⁵³` (an f64 in `[0, 1)`, exact).
//!
//! - **32-bit uniform** ([`Philox::uniform_f32`]): element `i` uses word `i mod 4` of block
//!   `⌊i/4⌋`: `v = low + (high − low)·u24(w)` in f32 (`high − low` first, then the product,
//!   then the sum); the result is `high` if `v > high`, else `v`.
//! - **32-bit normal** ([`Philox::normal_f32`]): block `j` gives elements `4j .. 4j+3` as
//!   two Box–Muller pairs, `(w0, w1)` → elements `4j, 4j+1` and `(w2, w3)` → `4j+2, 4j+3`.
//!   For a pair `(a, b)`: `u1 = 1 − u24(a)` in `(0, 1]`, `s = u24(b)`,
//!   `r = sqrt(−2 · ln(u1))`, `(S, C) = sincos_turns(s)` ≈ `(sin 2πs, cos 2πs)`;
//!   the two elements are `fma(std, r·C, mean)` and `fma(std, r·S, mean)`. `ln` and
//!   `sincos_turns` are defined below.
//! - **64-bit uniform** ([`Philox::uniform_f64`]): element `i` uses block `⌊i/2⌋`, words
//!   `(w0, w1)` if `i` is even and `(w2, w3)` if odd: `v = low + (high − low)·u53` in f64,
//!   then `high` if `v > high`, else `v`.
//! - **64-bit normal** ([`Philox::normal_f64`]): block `j` gives elements `2j, 2j+1`:
//!   `u1 = 1 − u53(w0, w1)` in `(0, 1]`, `s = u53(w2, w3)`, `r = sqrt(−2 · log(u1))` in
//!   f64; the turn reduction of `sincos_turns` below, in f64 (`t = s − round(s)`,
//!   `q = round(4t)`, `f = t − 0.25·q`, all exact; `x = f · 2π` with 2π rounded to f64,
//!   `0x401921fb54442d18`); `sin x`, `cos x`, `log` are those of the `libm` crate (0.2, a
//!   port of musl's; they agree with glibc's on the known answers below), rotated by the
//!   quadrant `q mod 4` as in step 5 of `sincos_turns`. The elements are
//!   `mean + std·(r·C)` and `mean + std·(r·S)`.
//! - **Open unit uniform** ([`Philox::unit_open_f64`], for inverse-CDF samplers): element
//!   `i` uses the words of block `⌊i/2⌋` as for the 64-bit uniform:
//!   `u = ((x >> 12) + 0.5)·2⁻⁵²`, exact, in `[2⁻⁵³, 1 − 2⁻⁵³]`. The grid is symmetric
//!   (`1 − u` is exact and on it). It has 52 bits rather than 53 because
//!   `(x >> 11) + 0.5` is not representable once `x >> 11 ≥ 2⁵²`: it would round, and
//!   `x >> 11 = 2⁵³ − 1` would give exactly 1.
//! - **32-bit truncated normal** (the f32, bf16 and f16 fills of
//!   [`TruncatedNormal`](crate::init::TruncatedNormal)): a normal `N(μ, σ²)` cut to
//!   `[low, high]`, by the inverse CDF on one word per element. With `α, β` the bounds in
//!   σ, the probabilities are `p0 = Φ(α)`, `p1 = Φ(β)` and `s = 1` if `α < 0`, else the
//!   survival probabilities `p0 = Q(α)`, `p1 = Q(β)` and `s = −1` (all in f64 as
//!   [`gaussian::cdf`](crate::gaussian::cdf) and [`sf`](crate::gaussian::sf) compute
//!   them). If `α ≤ −6` and `β ≥ 6`, the interval holds every value the 32-bit normal
//!   above can give (its `|z| ≤ √(2·24·ln 2) < 5.77`), and the element is that normal's
//!   element `i` with `mean = f32(μ)`, `std = f32(σ)`, clamped to `[L, H]` (the bounds
//!   rounded inwards to f32), a clamp that acts only where rounding `μ` to f32 moved it
//!   by more than 0.2σ. If `|p1 − p0| < 2⁻⁷⁶` the interval is too far out for f32
//!   probabilities and the element is the f64 sampler's value below rounded to f32.
//!   Otherwise, in f64,
//!   `Q0 = p0 − ½`, `P0 = p0`, `C0 = 1 − p0`, `D = p1 − p0`, each split into f32 as
//!   `hi = f32(x)`, `lo = f32(x − hi)` (0 if `|lo|` is below 2⁻¹²⁶), `S = f32(s·σ)`,
//!   `M = f32(μ)`, and `L`, `H` the bounds rounded inwards to f32. Element `i` uses word
//!   `i mod 4` of block `⌊i/4⌋`; in f32, with `along(A, v) = fma(v, D.hi, A.hi) + fma(v, D.lo, A.lo)`:
//!   `u = fma(w >> 9, 2⁻²³, 2⁻²⁴)` (exact, in `(0, 1)`); `q = along(Q0, u)`;
//!   `t = along(P0, u)` if `q < 0`, else `along(C0, −u)`; `z = ppnd7(q, t)` (below);
//!   `v = fma(S, z, M)`, then `L` if `v < L`, `H` if `v > H`. bf16 and f16 round `v` to
//!   nearest even and step it back inside `[low, high]` if the rounding left it.
//! - **64-bit truncated normal** (the f64 fill, and the far intervals above): the open
//!   unit uniform `u` below, `p = p0 + u·(p1 − p0)`, `μ + σ·s·Φ⁻¹(p)` with
//!   [`gaussian::inverse_cdf`](crate::gaussian::inverse_cdf) (AS 241's `PPND16`), clamped
//!   to `[low, high]`, rounded to the element type inside the bounds.
//! - **Bounded integers** ([`Philox::uniform_below`]`(j, n)`): `⌊x·n / 2⁶⁴⌋` (128-bit
//!   product) with `x = w1 << 32 | w0` of block `j`, in `0..n`. There is no rejection,
//!   so each value's probability is off from `1/n` by less than `1/2⁶⁴`
//!   (the total bias is at most `n/2⁶⁴`); `n = 0` gives 0.
//! - **bf16 and f16**: the f32 value above, rounded to nearest, ties to even
//!   (`half::bf16::from_f32`, `half::f16::from_f32`).
//!
//! Element indices are taken modulo 2⁶⁴.
//!
//! ## Shuffles
//!
//! nninit's one random permutation, for every use on its own streams (the
//! [`Sparse`](crate::init::Sparse) mask, the lab's data order; the `Torch` stream keeps
//! PyTorch's `randperm`). [`Philox::partial_shuffle`]`(r, items, k)` is a forward
//! Fisher–Yates shuffle of the `n = items.len()` items stopped after `min(k, n)` steps,
//! drawn from the blocks of round `r`:
//!
//! ```text
//! for t in 0, 1, …, min(k, n) − 1:
//!     j = t + uniform_below(r·n + t, n − t)        (block index modulo 2⁶⁴)
//!     swap items t and j
//! ```
//!
//! The first `min(k, n)` items are then `k` of the `n` chosen uniformly at random (to
//! within the bias of `uniform_below`), in random order; the rest are the others.
//! [`Philox::permutation`]`(r, n)` is the partial shuffle of `0, 1, …, n − 1` with
//! `k = n`. Round `r` uses blocks `r·n .. r·n + k`, so the rounds of a family of shuffles
//! of one size never share a block: the mask of `Sparse` is round `c` for column `c` of
//! the sub-stream `name\0sparse_mask`, and the lab's data order round `e` for epoch `e`.
//!
//! ## `ln` (f32)
//!
//! Cephes `logf` without branches, for positive normal `x` (the stream only uses
//! `(0, 1]`). Every constant below is the f32 nearest to the decimal given (Cephes'
//! values); its bit pattern follows in brackets.
//!
//! 1. From the bits: `e = ((bits(x) >> 23) & 0xff) − 126` and
//!    `m = from_bits((bits(x) & 0x007fffff) | 0x3f000000)`, so `x = m·2^e`, `m` in `[½, 1)`.
//! 2. If `m < 0.70710677` \[`3f3504f3`\] (√½): `e = e − 1` and `y = (m + m) − 1`;
//!    otherwise `y = m − 1` (both exact).
//! 3. `z = y·y`; `p = P0`, then `p = fma(p, y, Pk)` for `k = 1, …, 8`, with
//!    `P0 … P8 =`
//!    `7.0376836292e-2` \[`3d9021bb`\], `−1.1514610310e-1` \[`bdebd1b8`\],
//!    `1.1676998740e-1` \[`3def251a`\], `−1.2420140846e-1` \[`bdfe5d4f`\],
//!    `1.4249322787e-1` \[`3e11e9bf`\], `−1.6668057665e-1` \[`be2aae50`\],
//!    `2.0000714765e-1` \[`3e4cceac`\], `−2.4999993993e-1` \[`be7ffffc`\],
//!    `3.3333331174e-1` \[`3eaaaaaa`\].
//! 4. With `E` = `e` converted to f32: `v = (p·y)·z`; `v = fma(−2.12194440e-4, E, v)`
//!    \[`b95e8083`\]; `v = fma(−0.5, z, v)`; `ln x = fma(0.693359375, E, y + v)`
//!    \[`3f318000`\] (this product is exact, so the last `fma` equals a separate multiply
//!    and add).
//!
//! Largest error over all 2²⁴ inputs the stream uses: 0.82 ulp (0.78 ulp over all
//! positive normal floats, sampled).
//!
//! ## `sincos_turns` (f32)
//!
//! For `s` in `[0, 1)` a multiple of 2⁻²⁴; every step before the product is exact.
//! `round` is round-half-to-even (computed as `(v + 1.5·2²³) − 1.5·2²³`).
//!
//! 1. `t = s − round(s)` in `[−½, ½]`; `q = round(4·t)`, an integer in `[−2, 2]`;
//!    quadrant `n = q mod 4` (two's complement `q & 3`); `f = t − 0.25·q` in `[−⅛, ⅛]`.
//! 2. `x = f · 6.2831855` \[`40c90fdb`\] (2π in f32); `z = x·x`.
//! 3. `sin x ≈ fma(S·z, x, x)` with `S = fma(fma(S0, z, S1), z, S2)` and
//!    `S0, S1, S2 =` `−1.9515295891e-4` \[`b94ca1f9`\], `8.3321608736e-3`
//!    \[`3c08839e`\], `−1.6666654611e-1` \[`be2aaaa3`\].
//! 4. `cos x ≈ fma(C·z, z, fma(−0.5, z, 1))` with `C = fma(fma(C0, z, C1), z, C2)` and
//!    `C0, C1, C2 =` `2.443315711809948e-5` \[`37ccf5ce`\], `−1.388731625493765e-3`
//!    \[`bab6061a`\], `4.166664568298827e-2` \[`3d2aaaa5`\].
//! 5. Rotate by `n` quarter turns: `(S, C) =` `(sin x, cos x)` if `n = 0`,
//!    `(cos x, −sin x)` if 1, `(−sin x, −cos x)` if 2, `(−cos x, sin x)` if 3, where
//!    negation flips the sign bit.
//!
//! Largest error against `sin 2πs`, `cos 2πs` over all 2²⁴ inputs: 1.95 ulp (most of
//! it from rounding `x` to f32; the polynomials alone are within 0.71 ulp for sin and
//! 1.22 ulp for cos on `[−π/4, π/4]`: `1 − z/2` rounded before the last `fma` costs
//! cos a quarter ulp against the unfused order, which the end-to-end error does not show).
//!
//! ## `ppnd7` (f32)
//!
//! `Φ⁻¹(½ + q)` from `q` and `t = min(½ + q, ½ − q)`, Wichura's `PPND7` without branches;
//! each coefficient is the f32 nearest to the decimal Wichura published, and every
//! polynomial is evaluated by Horner's rule with one `fma` per step, highest degree first.
//!
//! 1. Centre: `r = fma(−q, q, 0.180625)`, `c = (q · A(r)) / B(r)` with
//!    `A = 5.9109374720e1, 1.5929113202e2, 5.0434271938e1, 3.3871327179` and
//!    `B = 6.7187563600e1, 7.8757757664e1, 1.7895169469e1, 1`.
//! 2. Tail: `r = sqrt(−ln t)` (`ln` below); if `r > 5`, `x = r − 5` and the coefficients are
//!    `E = 1.7337203997e-2, 4.2868294337e-1, 3.0812263860, 6.6579051150`,
//!    `F = 0, 1.2258202635e-2, 2.4197894225e-1, 1`; otherwise `x = r − 1.6` and
//!    `C = 1.7023821103e-1, 1.3067284816, 2.7568153900, 1.4234372777`,
//!    `D = 0, 1.2021132975e-1, 7.3700164250e-1, 1`. `e = num(x) / den(x)`, with its sign
//!    bit set to that of `q`.
//! 3. The result is `c` if `|q| ≤ 0.425`, else `e`.
//!
//! Largest error against the exact quantile of the same uniform, over every uniform of
//! the grid on `(0, 1)` and the far tails down to `t = 2⁻¹⁰⁰`: see the tests in
//! `stream/math32.rs`: 4.90 ulp at most (at `p = 0.0544`, just past the split), 0.8 ulp
//! beyond `t = 2⁻⁴⁰`. The 32-bit truncated normal is within 7 ulp of the exact quantile of
//! its uniform (6.77 measured over the whole grid, at μ = 0).
//!
//! ## Known answers
//!
//! The first 8 elements with `mean = 0, std = 1` and `low = 0, high = 1`, as bit
//! patterns (decimals for reading only); the tests check all of them, and an
//! independent implementation of the f32 streams, `scripts/stream-kat.py` (numpy
//! float32, with `fma` computed exactly in rationals), prints the same bits.
//!
//! ```text
//! Philox::new(0, "weight")
//!   name_hash      6911f8de1f27bf19      block 0: d5ec2650 4bcc8589 3a9a2fd6 0042789e
//!   normal_f32     bf0aebc4 3fe91dc7 3f3895cd 3b96912e 3f2b8e9f bdc34972 bfae1f12 bf7d83ac
//!                  (−0.54266, 1.8212212, 0.7210358, 0.0045949435, 0.670145, −0.09535493, …)
//!   uniform_f32    3f55ec26 3e97990a 3e6a68bc 3a84f000 3e51a8e0 3f7a3dc2 3f41d8d0 3f19a36b
//!   normal_f64     3fead094ce5fa982 3f75dfadcca96f6d c001d135ec7c91a3 bff9f0f4e73ae17a
//!                  bfaf9cf2bbdf617a 3fe64e5c68270e57 bfd88ef6ad224465 3fc786b562820057
//!   uniform_f64    3fd2f32162757b08 3f509e278ea68a00 3fef47b85b268d47 3fe3346d67383b1a
//!                  3fcbcca751ce06c0 3fd0e65f73973d6c 3fb6275d8bb77ed0 3fdb733421a38f7e
//!   unit_open_f64  3fd2f32162757b0a 3f509e278ea68a00 3fef47b85b268d47 3fe3346d67383b1b
//!                  3fcbcca751ce06c4 3fd0e65f73973d6e 3fb6275d8bb77ed8 3fdb733421a38f7e
//!   uniform_below(j, 1000), j = 0..8: 296 977 217 86 317 913 73 463
//!   permutation(0, 10): 2 9 3 0 5 1 6 8 7 4
//!   permutation(1, 10): 2 8 9 3 7 0 4 6 1 5
//!
//! Philox::new(2024, "layers.0.mlp.fc1.weight")
//!   name_hash      d7538eeabe502e92      block 0: dc7846d3 2acfcb40 3191e3d7 074e655b
//!   normal_f32     3f7ccfd6 3fdcc09d 3f2542e7 3defa770 3fa72400 bf658d03 3d87570c bdaf0477
//!                  (0.9875463, 1.7246281, 0.6455521, 0.11701858, 1.3057861, −0.8966829, …)
//!   uniform_f32    3f5c7846 3e2b3f2c 3e46478c 3ce9cca0 3f36fd06 3f677b96 3bbea580 3f5ad1bb
//!   normal_f64     3fe30c8aca5748af 3fbb9fbb77e06b28 3ff5333e17a694fd bffb6a564d3051ad
//!                  bfd926eb51cfccc7 bfe14b0efa7012a4 3fb8d2ea536196db 3fed20c83c1fa1e9
//!   uniform_f64    3fc567e5a06e3c20 3f9d39956cc64780 3fecef72c636dfa0 3feb5a3768402fa9
//!                  3fc99c52e68e9ae0 3fe4cc382730fb6d 3fd5e7f6f56568fc 3fcdd68496e24aec
//!   unit_open_f64  3fc567e5a06e3c24 3f9d39956cc647a0 3fecef72c636dfa1 3feb5a3768402fa9
//!                  3fc99c52e68e9ae4 3fe4cc382730fb6d 3fd5e7f6f56568fe 3fcdd68496e24aec
//!   uniform_below(j, 1000), j = 0..8: 167 904 200 342 80 479 823 853
//!   permutation(0, 10): 1 9 3 5 4 7 0 6 2 8
//!   permutation(1, 10): 2 7 8 1 6 5 9 3 4 0
//!
//! FNV-1a 64: "" → cbf29ce484222325, "a" → af63dc4c8601ec8c, "a\0b" → e5d29919042666b2
//! ```
//!
//! ```
//! use nninit::stream::Philox;
//! let mut x = [0.0f32; 8];
//! Philox::new(2024, "layers.0.mlp.fc1.weight").normal_f32(0, &mut x, 0.0, 1.0);
//! assert_eq!(x[0].to_bits(), 0x3f7ccfd6);
//! assert_eq!(x[7].to_bits(), 0xbdaf0477);
//! ```
//!
//! # Speed
//!
//! On x86-64 CPUs with AVX2 and FMA, [`Philox::normal_f32`] runs a hand-written kernel
//! (`std::arch` intrinsics, in the module's one `unsafe` region): Philox on eight blocks
//! per vector, one block per 32-bit lane (`vpmuludq` for the high products, `vpmulld`
//! for the low ones, lanes ordered so that no word moves between rounds), then the f32
//! Box–Muller eight pairs at a time, four vectors in lockstep, with the operations of
//! the specification in its order (`vfmadd` exactly where it says `fma`, a separate
//! multiply and add everywhere else) and the results transposed straight into element
//! order. Rewrites that round identically are allowed and used (`u1·2²⁴` as an integer,
//! `ln`'s reduction as one integer addition, its later steps scaled by powers of two, the
//! turn reduction on the sign-extended 24-bit word); the tests check the kernel's
//! arithmetic bit for bit against the portable code on all 2²⁴ inputs of `ln` and of
//! `sincos`, and whole fills over millions of elements. Everything else (the other
//! fills, an unaligned head, the tail, CPUs without AVX2 or FMA) uses portable code that
//! generates 16 blocks at a time in structure-of-arrays form so that LLVM vectorizes it,
//! compiled twice, for the baseline target (SSE2 on x86-64) and with AVX2 and FMA, the
//! second chosen at run time. All paths round identically: `f32::mul_add` is correctly
//! rounded everywhere (in software where the CPU has no FMA, slower but the same bits).
//! The normal's Box–Muller steps are specified with `fma` for speed: one fused
//! instruction where a multiply and an add are two. BENCHMARKS.md has the figures and
//! the commands that produce them.
//!
//! [^philox]: John K. Salmon, Mark A. Moraes, Ron O. Dror, David E. Shaw (2011).
//!     *Parallel random numbers: as easy as 1, 2, 3.* SC '11.
//!     <https://doi.org/10.1145/2063384.2063405>

mod kernels;
pub(crate) mod math32;
mod philox;
#[cfg(target_arch = "x86_64")]
pub(crate) mod simd;
mod source;

use half::{bf16, f16};

use crate::tensor::Element;
use rayon::prelude::*;

use kernels::{Keys, NormalF32, NormalF64, UniformF32, UniformF64, UnitOpenF64};
pub(crate) use kernels::{TruncatedF32, inward_f32};
pub use philox::philox4x32_10;
pub use source::{Source, Stream, TorchStream};
pub(crate) use source::{TorchCall, torch_fill};

/// FNV-1a 64-bit hash of `name`'s UTF-8 bytes: the `name_hash` of [`Philox::new`].
///
/// ```
/// assert_eq!(nninit::stream::fnv1a_64("weight"), 0x6911_f8de_1f27_bf19);
/// ```
#[must_use]
pub const fn fnv1a_64(name: &str) -> u64 {
    philox::fnv1a_continue(philox::FNV_OFFSET, name.as_bytes())
}

/// A counter-based random stream: Philox4x32-10 keyed by a seed and a tensor name.
///
/// Cheap to copy; every fill is a pure function of `(seed, name_hash, element indices)`.
/// See the [module docs](self) for the exact definition of every value.
///
/// Fills take their parameters as given and never fail or panic: a non-finite `mean`,
/// `std`, `low` or `high` propagates into the output as IEEE arithmetic says. Validate
/// parameters before (the initializer types do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Philox {
    seed: u64,
    name_hash: u64,
}

/// Elements generated per stack tile when converting to bf16/f16 or mapping f64.
const TILE: usize = 512;

impl Philox {
    /// The stream of tensor `name` under `seed`.
    #[must_use]
    pub const fn new(seed: u64, name: &str) -> Self {
        Self { seed, name_hash: fnv1a_64(name) }
    }

    /// The stream with an explicit `name_hash` (as [`Philox::name_hash`] returns).
    #[must_use]
    pub const fn from_name_hash(seed: u64, name_hash: u64) -> Self {
        Self { seed, name_hash }
    }

    /// A sub-stream: the stream of the name `name + "\0" + suffix`.
    ///
    /// ```
    /// use nninit::stream::Philox;
    /// let p = Philox::new(7, "encoder.weight");
    /// assert_eq!(p.derive("mask"), Philox::new(7, "encoder.weight\0mask"));
    /// ```
    #[must_use]
    pub const fn derive(&self, suffix: &str) -> Self {
        let h = philox::fnv1a_continue(self.name_hash, &[0]);
        Self { seed: self.seed, name_hash: philox::fnv1a_continue(h, suffix.as_bytes()) }
    }

    /// The seed.
    #[must_use]
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// The FNV-1a 64-bit hash of the name (continued over each [`derive`](Self::derive)).
    #[must_use]
    pub const fn name_hash(&self) -> u64 {
        self.name_hash
    }

    fn keys(&self) -> Keys {
        Keys { key: [self.seed as u32, (self.seed >> 32) as u32], hash: self.name_hash }
    }

    /// Philox block `j`: the four words every value of the stream is made from.
    #[must_use]
    pub fn block(&self, j: u64) -> [u32; 4] {
        self.keys().block(j)
    }

    /// Fills `out[k]` with element `start + k` of the uniform distribution on
    /// `[low, high]` in f32 (24 random bits per value).
    pub fn uniform_f32(&self, start: u64, out: &mut [f32], low: f32, high: f32) {
        kernels::fill(UniformF32 { low, high }, self.keys(), start, out);
    }

    /// Fills `out[k]` with element `start + k` of the normal distribution
    /// `N(mean, std²)` in f32 (Box–Muller, 24 bits per uniform).
    pub fn normal_f32(&self, start: u64, out: &mut [f32], mean: f32, std: f32) {
        kernels::fill(NormalF32 { mean, std }, self.keys(), start, out);
    }

    /// Fills `out[k]` with element `start + k` of the uniform distribution on
    /// `[low, high]` in f64 (53 random bits per value).
    pub fn uniform_f64(&self, start: u64, out: &mut [f64], low: f64, high: f64) {
        kernels::fill(UniformF64 { low, high }, self.keys(), start, out);
    }

    /// Fills `out[k]` with element `start + k` of the normal distribution
    /// `N(mean, std²)` in f64 (Box–Muller, 53 bits per uniform).
    pub fn normal_f64(&self, start: u64, out: &mut [f64], mean: f64, std: f64) {
        kernels::fill(NormalF64 { mean, std }, self.keys(), start, out);
    }

    /// Fills `out[k]` with element `start + k` of the bf16 uniform stream: the
    /// [`uniform_f32`](Self::uniform_f32) value rounded to nearest even.
    pub fn uniform_bf16(&self, start: u64, out: &mut [bf16], low: f32, high: f32) {
        via_f32(start, out, |s, t| self.uniform_f32(s, t, low, high), bf16::from_f32_slice);
    }

    /// Fills `out[k]` with element `start + k` of the bf16 normal stream: the
    /// [`normal_f32`](Self::normal_f32) value rounded to nearest even.
    pub fn normal_bf16(&self, start: u64, out: &mut [bf16], mean: f32, std: f32) {
        via_f32(start, out, |s, t| self.normal_f32(s, t, mean, std), bf16::from_f32_slice);
    }

    /// Fills `out[k]` with element `start + k` of the f16 uniform stream: the
    /// [`uniform_f32`](Self::uniform_f32) value rounded to nearest even.
    pub fn uniform_f16(&self, start: u64, out: &mut [f16], low: f32, high: f32) {
        via_f32(start, out, |s, t| self.uniform_f32(s, t, low, high), f16::from_f32_slice);
    }

    /// Fills `out[k]` with element `start + k` of the f16 normal stream: the
    /// [`normal_f32`](Self::normal_f32) value rounded to nearest even.
    pub fn normal_f16(&self, start: u64, out: &mut [f16], mean: f32, std: f32) {
        via_f32(start, out, |s, t| self.normal_f32(s, t, mean, std), f16::from_f32_slice);
    }

    /// Fills `out[k]` with element `start + k` of the 32-bit truncated normal stream
    /// described by `map` (see the specification).
    pub(crate) fn truncated_normal_f32(&self, start: u64, out: &mut [f32], map: TruncatedF32) {
        kernels::fill(map, self.keys(), start, out);
    }

    /// Fills `out[k]` with element `start + k` of the open unit uniform stream: 53-bit
    /// values in `(0, 1)`, never 0 or 1, for inverse-CDF samplers.
    pub fn unit_open_f64(&self, start: u64, out: &mut [f64]) {
        kernels::fill(UnitOpenF64, self.keys(), start, out);
    }

    /// Fills `out[k]` with `f(u)`, `u` element `start + k` of the
    /// [open unit uniform stream](Self::unit_open_f64): an inverse-CDF sampler in one
    /// call, with random access like every other fill.
    ///
    /// ```
    /// use nninit::stream::Philox;
    /// let p = Philox::new(0, "w");
    /// let mut exp = [0.0f32; 5];
    /// p.fill_mapped(0, &mut exp, |u| (-u.ln()) as f32); // Exp(1) by inversion
    /// assert!(exp.iter().all(|&x| x > 0.0));
    /// ```
    pub fn fill_mapped<T>(&self, start: u64, out: &mut [T], f: impl Fn(f64) -> T) {
        let mut tile = [0.0f64; TILE];
        for (n, chunk) in out.chunks_mut(TILE).enumerate() {
            let u = &mut tile[..chunk.len()];
            self.unit_open_f64(start.wrapping_add((n * TILE) as u64), u);
            for (o, &u) in chunk.iter_mut().zip(u.iter()) {
                *o = f(u);
            }
        }
    }

    /// A bounded integer in `0..n` from block `j`: `⌊x·n / 2⁶⁴⌋`, `x = w1 << 32 | w0`.
    ///
    /// No rejection, so the result is a pure function of `j` (random access, one block
    /// per draw); each value's probability differs from `1/n` by less than 2⁻⁶⁴, which
    /// no test of any feasible size can see. `n = 0` gives 0.
    ///
    /// ```
    /// use nninit::stream::Philox;
    /// let p = Philox::new(0, "perm");
    /// assert!((0..100).all(|j| p.uniform_below(j, 10) < 10));
    /// ```
    #[must_use]
    pub fn uniform_below(&self, j: u64, n: u64) -> u64 {
        let w = self.block(j);
        let x = (u64::from(w[1]) << 32) | u64::from(w[0]);
        ((u128::from(x) * u128::from(n)) >> 64) as u64
    }

    /// Shuffles the first `min(k, items.len())` places of `items` (round `round` of the
    /// stream's shuffles of that length; see [Shuffles](self#shuffles)) and returns them:
    /// `k` of the items, chosen uniformly at random, in random order. The other items
    /// keep the rest of the slice.
    ///
    /// A pure function of `(stream, round, items, k)`: the same `round` shuffles the same
    /// way, and rounds of the same length draw from disjoint blocks.
    ///
    /// ```
    /// use nninit::stream::Philox;
    /// let p = Philox::new(0, "mask");
    /// let mut rows: Vec<usize> = (0..10).collect();
    /// let chosen = p.partial_shuffle(3, &mut rows, 4).to_vec();
    /// assert_eq!(chosen.len(), 4);
    /// assert_eq!(&p.permutation(3, 10)[..4], chosen); // the same draws, continued
    /// ```
    pub fn partial_shuffle<'a, T>(&self, round: u64, items: &'a mut [T], k: usize) -> &'a mut [T] {
        let n = items.len();
        let first = round.wrapping_mul(n as u64);
        let k = k.min(n);
        for t in 0..k {
            let j = t + self.uniform_below(first.wrapping_add(t as u64), (n - t) as u64) as usize;
            items.swap(t, j);
        }
        &mut items[..k]
    }

    /// A uniformly random permutation of `0..n`: round `round` of the stream's
    /// permutations of `n` items, the [`partial_shuffle`](Self::partial_shuffle) of
    /// `0, 1, …, n − 1` with `k = n`.
    ///
    /// ```
    /// use nninit::stream::Philox;
    /// let p = Philox::new(0, "lab.data-order");
    /// let mut order = p.permutation(0, 100);
    /// assert_ne!(order, p.permutation(1, 100));
    /// order.sort_unstable();
    /// assert_eq!(order, (0..100).collect::<Vec<_>>());
    /// ```
    #[must_use]
    pub fn permutation(&self, round: u64, n: usize) -> Vec<usize> {
        let mut items: Vec<usize> = (0..n).collect();
        self.partial_shuffle(round, &mut items, n);
        items
    }
}

/// Generates f32 elements `start..` through a stack tile and converts each tile with `conv`:
/// the one conversion loop behind every narrower output (the bf16 and f16 streams here,
/// and the initializers' bf16/f16 fills, whose conversion also keeps bounds).
pub(crate) fn via_f32<T: Element>(
    start: u64,
    out: &mut [T],
    gen_f32: impl Fn(u64, &mut [f32]),
    conv: impl Fn(&[f32], &mut [T]),
) {
    let mut tile = [0.0f32; TILE];
    for (n, chunk) in out.chunks_mut(TILE).enumerate() {
        let t = &mut tile[..chunk.len()];
        gen_f32(start.wrapping_add((n * TILE) as u64), t);
        conv(t, chunk);
    }
}

/// Elements per task of [`par_fill`] (a multiple of 4, so aligned chunks stay aligned).
pub const PAR_CHUNK: usize = 1 << 16;

/// Runs `fill(first_element, chunk)` over `out` in chunks of [`PAR_CHUNK`] elements on
/// the rayon thread pool; chunk `c` starts at element `start + c·PAR_CHUNK`.
///
/// With any of the [`Philox`] fills, the result never depends on the chunking or the
/// number of threads, because element `i` depends only on `i`. Buffers of at most one
/// chunk are filled on the calling thread.
///
/// ```
/// use nninit::stream::{par_fill, Philox};
/// let p = Philox::new(1, "embed.weight");
/// let mut par = vec![0.0f32; 300_000];
/// par_fill(0, &mut par, |s, c| p.uniform_f32(s, c, -0.1, 0.1));
/// let mut seq = vec![0.0f32; 300_000];
/// p.uniform_f32(0, &mut seq, -0.1, 0.1);
/// assert_eq!(par, seq);
/// ```
pub fn par_fill<T: Send>(start: u64, out: &mut [T], fill: impl Fn(u64, &mut [T]) + Sync + Send) {
    if out.len() <= PAR_CHUNK {
        fill(start, out);
        return;
    }
    out.par_chunks_mut(PAR_CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| fill(start.wrapping_add((c * PAR_CHUNK) as u64), chunk));
}

#[cfg(test)]
mod tests;
