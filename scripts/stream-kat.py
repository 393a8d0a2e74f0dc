#!/usr/bin/env python3
"""An independent implementation of nninit's f32 streams, from the specification in
crates/nninit/src/stream/mod.rs, that prints the known answers the docs and tests list.

Run: python3 scripts/stream-kat.py   (needs numpy; checked with numpy 2.4)

It shares no code with the Rust crate: Philox4x32-10, FNV-1a, u24, the branch-free ln and
sincos_turns, and Box-Muller are written again from the text. Arithmetic is numpy float32,
one IEEE operation at a time; the fused multiply-add fma(a, b, c) = a*b + c rounded once is
computed exactly with fractions and rounded to f32 by hand, so no platform fma is trusted.
"""

from fractions import Fraction

import numpy as np

F = np.float32
MASK32 = 0xFFFFFFFF


def bits32(x):
    return int(np.array(x, dtype=np.float32).view(np.uint32))


def from_bits32(b):
    return np.array(b & MASK32, dtype=np.uint32).view(np.float32)[()]


def round_to_f32(v):
    """The f32 nearest to the rational v, ties to even (no overflow in this use)."""
    if v == 0:
        return F(0.0)
    sign = -1 if v < 0 else 1
    a = abs(v)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    # Now 2^e <= a < 2^(e+1); the f32 spacing there is 2^(max(e, -126) - 23).
    ulp = Fraction(2) ** (max(e, -126) - 23)
    q = a / ulp
    n = q.numerator // q.denominator
    rem = q - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2 == 1):
        n += 1
    return F(sign * float(n * ulp))


def fma(a, b, c):
    """a*b + c, rounded once to f32."""
    return round_to_f32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)))


def fnv1a_64(name):
    h = 0xCBF29CE484222325
    for byte in name.encode():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def philox(ctr, key):
    m0, m1, w0, w1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85
    c0, c1, c2, c3 = ctr
    k0, k1 = key
    for r in range(10):
        if r:
            k0, k1 = (k0 + w0) & MASK32, (k1 + w1) & MASK32
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
    return [c0, c1, c2, c3]


def block(seed, name, j):
    h = fnv1a_64(name)
    return philox([j & MASK32, j >> 32, h & MASK32, h >> 32], [seed & MASK32, seed >> 32])


def u24(w):
    return F(w >> 8) * F(2.0**-24)


LN_P = [F(v) for v in ["7.0376836292e-2", "-1.1514610310e-1", "1.1676998740e-1", "-1.2420140846e-1",
                       "1.4249322787e-1", "-1.6668057665e-1", "2.0000714765e-1", "-2.4999993993e-1",
                       "3.3333331174e-1"]]
SIN_P = [F(v) for v in ["-1.9515295891e-4", "8.3321608736e-3", "-1.6666654611e-1"]]
COS_P = [F(v) for v in ["2.443315711809948e-5", "-1.388731625493765e-3", "4.166664568298827e-2"]]
MAGIC = F(1.5 * 2**23)


def ln(x):
    b = bits32(x)
    e = ((b >> 23) & 0xFF) - 126
    m = from_bits32((b & 0x007FFFFF) | 0x3F000000)
    if m < F("0.70710677"):
        e -= 1
        y = (m + m) - F(1)
    else:
        y = m - F(1)
    z = y * y
    p = LN_P[0]
    for c in LN_P[1:]:
        p = fma(p, y, c)
    big_e = F(e)
    v = (p * y) * z
    v = fma(F("-2.12194440e-4"), big_e, v)
    v = fma(F(-0.5), z, v)
    return fma(F(0.693359375), big_e, y + v)


def rnd(v):
    return (v + MAGIC) - MAGIC


def sincos_turns(s):
    t = s - rnd(s)
    q = rnd(F(4) * t)
    n = int(q) & 3
    f = t - F(0.25) * q
    x = f * F(2 * np.pi)
    z = x * x
    sp = fma(fma(SIN_P[0], z, SIN_P[1]), z, SIN_P[2])
    cp = fma(fma(COS_P[0], z, COS_P[1]), z, COS_P[2])
    sin_x = fma(sp * z, x, x)
    cos_x = fma(cp * z, z, fma(F(-0.5), z, F(1)))
    return [(sin_x, cos_x), (cos_x, -sin_x), (-sin_x, -cos_x), (-cos_x, sin_x)][n]


def normal_f32(seed, name, count, mean=F(0), std=F(1)):
    out = []
    j = 0
    while len(out) < count:
        w = block(seed, name, j)
        for a, b in ((w[0], w[1]), (w[2], w[3])):
            r = np.sqrt(F(-2) * ln(F(1) - u24(a)), dtype=np.float32)
            s_, c_ = sincos_turns(u24(b))
            out += [fma(std, r * c_, mean), fma(std, r * s_, mean)]
        j += 1
    return out[:count]


def uniform_f32(seed, name, count, low=F(0), high=F(1)):
    out = []
    for i in range(count):
        w = block(seed, name, i // 4)[i % 4]
        v = low + (high - low) * u24(w)
        out.append(high if v > high else v)
    return out


def main():
    assert philox([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    with np.errstate(all="raise"):
        for seed, name in [(0, "weight"), (2024, "layers.0.mlp.fc1.weight")]:
            print(f'Philox::new({seed}, "{name}")')
            print(f"  name_hash      {fnv1a_64(name):016x}      block 0: "
                  + " ".join(f"{w:08x}" for w in block(seed, name, 0)))
            normal = normal_f32(seed, name, 8)
            print("  normal_f32     " + " ".join(f"{bits32(v):08x}" for v in normal))
            print("                 (" + ", ".join(repr(float(v)) for v in normal[:6]) + ", ...)")
            uniform = uniform_f32(seed, name, 8)
            print("  uniform_f32    " + " ".join(f"{bits32(v):08x}" for v in uniform))
        # The mean-and-std step (fma(std, r*C, mean)): the first normal values that
        # crates/nninit/tests/value_stability.rs pins.
        seed, name = 20261129, "layers.3.mlp.down_proj.weight"
        normal = normal_f32(seed, name, 6, mean=F(0), std=F(0.02))
        print(f'Philox::new({seed}, "{name}"), N(0, 0.02²)')
        print("  normal_f32     " + " ".join(f"{bits32(v):08x}" for v in normal))


if __name__ == "__main__":
    main()
