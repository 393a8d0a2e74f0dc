//! The Philox4x32-10 bijection and the FNV-1a name hash, in scalar and in
//! structure-of-arrays (lane) form.

/// First Philox multiplier (applied to counter word 0).
pub(crate) const M0: u32 = 0xD251_1F53;
/// Second Philox multiplier (applied to counter word 2).
pub(crate) const M1: u32 = 0xCD9E_8D57;
/// Weyl increment of key word 0.
pub(crate) const W0: u32 = 0x9E37_79B9;
/// Weyl increment of key word 1.
pub(crate) const W1: u32 = 0xBB67_AE85;
/// Number of rounds.
const ROUNDS: usize = 10;

/// FNV-1a 64-bit offset basis.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
pub(crate) const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Continues an FNV-1a 64-bit hash from state `hash` over `bytes`.
#[inline]
pub(crate) const fn fnv1a_continue(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    hash
}

/// Philox4x32-10 as Random123 defines it (`philox4x32_R(10, ctr, key)`).
///
/// Each of the 10 rounds maps the counter `(c0, c1, c2, c3)` with key `(k0, k1)` to
/// `(hi(M1·c2) ⊕ c1 ⊕ k0, lo(M1·c2), hi(M0·c0) ⊕ c3 ⊕ k1, lo(M0·c0))`, where `hi`/`lo` are
/// the upper/lower 32 bits of the 64-bit product, `M0 = 0xD2511F53`, `M1 = 0xCD9E8D57`;
/// between rounds the key is bumped by `(0x9E3779B9, 0xBB67AE85)` (wrapping). The first
/// round uses the key as given.
///
/// # Example
///
/// The first Random123 known-answer vector (`tests/kat_vectors`, `philox4x32 10`):
///
/// ```
/// use nninit::stream::philox4x32_10;
/// assert_eq!(
///     philox4x32_10([0, 0, 0, 0], [0, 0]),
///     [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
/// );
/// ```
#[inline]
#[must_use]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = ctr;
    let [mut k0, mut k1] = key;
    for r in 0..ROUNDS {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let p0 = u64::from(M0) * u64::from(c0);
        let p1 = u64::from(M1) * u64::from(c2);
        (c0, c1, c2, c3) = ((p1 >> 32) as u32 ^ c1 ^ k0, p1 as u32, (p0 >> 32) as u32 ^ c3 ^ k1, p0 as u32);
    }
    [c0, c1, c2, c3]
}

/// `N` consecutive Philox blocks, starting at block `j0`, as two arrays of 64-bit
/// lanes: `a[l] = w1 << 32 | w0` and `b[l] = w3 << 32 | w2` of block `j0 + l`.
///
/// In this form a round is, per lane,
///
/// ```text
/// pa = lo32(a)·M0,  pb = lo32(b)·M1              (32×32→64-bit products)
/// a' = rotl32(pb) ^ (a >> 32) ^ k0,  b' = rotl32(pa) ^ (b >> 32) ^ k1
/// ```
///
/// which is the Philox round `(c0, c1, c2, c3) → (hi(M1·c2) ^ c1 ^ k0, lo(M1·c2),
/// hi(M0·c0) ^ c3 ^ k1, lo(M0·c0))` with `a = c1:c0`, `b = c3:c2`, and the counter
/// `(lo j, hi j, lo h, hi h)` is just `a = j`, `b = h`. Written as plain loops over
/// arrays, it vectorizes with no repacking between rounds: per round and vector of
/// lanes, two `pmuludq`, two shifts and four `pxor` (LLVM drops the rotations, since
/// the next round's product reads only the low halves). It is inlined into each
/// kernel so that it is compiled once per target feature set.
#[inline(always)]
pub(crate) fn blocks<const N: usize>(key: [u32; 2], hash: u64, j0: u64) -> ([u64; N], [u64; N]) {
    const LOW: u64 = 0xffff_ffff;
    let mut a = [0u64; N];
    let mut b = [hash; N];
    for (l, a) in a.iter_mut().enumerate() {
        *a = j0.wrapping_add(l as u64);
    }
    let [mut k0, mut k1] = key;
    for _ in 0..ROUNDS {
        let (x0, x1) = (u64::from(k0), u64::from(k1));
        for l in 0..N {
            let pa = (a[l] & LOW) * u64::from(M0);
            let pb = (b[l] & LOW) * u64::from(M1);
            a[l] = pb.rotate_left(32) ^ (a[l] >> 32) ^ x0;
            b[l] = pa.rotate_left(32) ^ (b[l] >> 32) ^ x1;
        }
        k0 = k0.wrapping_add(W0);
        k1 = k1.wrapping_add(W1);
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123 `tests/kat_vectors`, rows `philox4x32 10` (counter, key, expected).
    const KAT: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        ([0, 0, 0, 0], [0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
        ([0xffff_ffff; 4], [0xffff_ffff; 2], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
        (
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0],
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
        ),
    ];

    #[test]
    fn random123_known_answers() {
        for (ctr, key, expected) in KAT {
            assert_eq!(philox4x32_10(ctr, key), expected, "ctr {ctr:08x?} key {key:08x?}");
        }
    }

    #[test]
    fn lanes_equal_scalar() {
        let key = [0x1234_5678, 0x9abc_def0];
        let hash = 0x0bad_f00d_dead_beef_u64;
        // Crosses the 2^32 boundary of the block index, exercising counter word 1.
        let j0 = (1u64 << 32) - 5;
        let (a, b) = blocks::<16>(key, hash, j0);
        for l in 0..16 {
            let j = j0 + l as u64;
            let s = philox4x32_10([j as u32, (j >> 32) as u32, hash as u32, (hash >> 32) as u32], key);
            assert_eq!(a[l], u64::from(s[1]) << 32 | u64::from(s[0]));
            assert_eq!(b[l], u64::from(s[3]) << 32 | u64::from(s[2]));
        }
    }

    #[test]
    fn fnv1a_known_answers() {
        // Published FNV-1a 64 test values: "" and "a".
        assert_eq!(fnv1a_continue(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_continue(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_continue(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }
}
