#!/usr/bin/env python3
"""Check a folder written by `nninit materialize` with the `safetensors` and `numpy` packages only.

  python3 scripts/check-with-safetensors.py DIR [DIR ...] [--z 6]

For each folder:
  - the shards: `model.safetensors` alone, or `model-0000k-of-0000N.safetensors` for k = 1..N with
    `model.safetensors.index.json`, whose `weight_map` names exactly the tensors each shard holds and
    whose `metadata.total_size` is the sum of their data bytes;
  - each shard as a file: `safe_open` reads it, the header's data offsets tile the data area with no gap
    or overlap, and the file ends where the last tensor does;
  - against `nninit-manifest.json`: every stored tensor (no `tied_to`) is in exactly one shard, the one
    the manifest names, with the manifest's shape and dtype; tied tensors are not stored;
  - every value is finite, and where the manifest gives a std, the tensor's mean and std agree with the
    manifest's mean (0 unless given) and std within z standard errors (sample kurtosis kappa:
    se(std) = std * sqrt((kappa - 1) / (4 n)), se(mean) = std / sqrt(n)); constant rules (std 0) must
    be exactly constant.
bf16 tensors are read as uint16 and widened to float32 (numpy has no bfloat16). Data are memory-mapped,
so memory stays small.

Needs only safetensors and numpy (pinned in .ci/run: safetensors==0.8.0, numpy==2.4.6).
Exit status 0 when every check passes, 1 when one fails, 2 on a usage error.
"""
import argparse
import json
import math
import pathlib
import struct
import sys

import numpy as np
import safetensors
from safetensors import safe_open

SIZES = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8}
NP = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I64": np.int64}
MANIFEST_DTYPE = {"f32": "F32", "f64": "F64", "bf16": "BF16", "f16": "F16", "i64": "I64"}


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return n, header


def values(mm, base, info):
    """The tensor's values as a float64-capable numpy array (a view on the memory map where possible)."""
    start, end = info["data_offsets"]
    raw = np.frombuffer(mm, dtype=NP[info["dtype"]], count=(end - start) // SIZES[info["dtype"]],
                        offset=base + start)
    if info["dtype"] == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw


def moments(x):
    """n, mean, std (n - 1) and kurtosis, in float64, a block at a time (bounded memory)."""
    n = x.size
    total = 0.0
    for i in range(0, n, 1 << 22):
        total += float(np.sum(x[i:i + (1 << 22)], dtype=np.float64))
    mean = total / n
    m2 = m4 = 0.0
    for i in range(0, n, 1 << 22):
        d = x[i:i + (1 << 22)].astype(np.float64) - mean
        d2 = d * d
        m2 += float(d2.sum())
        m4 += float((d2 * d2).sum())
    m2, m4 = m2 / n, m4 / n
    std = math.sqrt(m2 * n / (n - 1)) if n > 1 else 0.0
    return n, mean, std, (m4 / (m2 * m2) if m2 > 0 else 0.0)


def check_folder(folder, z):
    folder = pathlib.Path(folder)
    fails = []
    manifest = json.loads((folder / "nninit-manifest.json").read_text())
    want_dtype = MANIFEST_DTYPE[manifest["dtype"]]
    index_path = folder / "model.safetensors.index.json"
    shard_files = sorted(p.name for p in folder.glob("*.safetensors"))
    if index_path.exists():
        index = json.loads(index_path.read_text())
        weight_map = index["weight_map"]
        named = sorted(set(weight_map.values()))
        n = len(named)
        expected = [f"model-{k:05d}-of-{n:05d}.safetensors" for k in range(1, n + 1)]
        if named != expected:
            fails.append(f"index names shards {named[:3]}..., expected {expected[:3]}...")
        if shard_files != named:
            fails.append(f"shards on disk {shard_files} differ from the index's {named}")
    else:
        if shard_files != ["model.safetensors"]:
            fails.append(f"no index, so one model.safetensors expected; found {shard_files}")
        index, weight_map = None, None
    if any(p.name.startswith(".") for p in folder.iterdir()):
        fails.append("temporary files left: " + ", ".join(p.name for p in folder.iterdir() if p.name.startswith(".")))
    stored = {}  # name -> (shard, header info, data base offset)
    total = 0
    for shard in shard_files:
        path = folder / shard
        n, header = read_header(path)
        if n % 8 != 0:
            fails.append(f"{shard}: header length {n} not a multiple of 8")
        with safe_open(str(path), framework="numpy") as f:
            keys = set(f.keys())
            meta = f.metadata() or {}
            for name in keys:
                sl = f.get_slice(name)
                if list(sl.get_shape()) != header[name]["shape"] or sl.get_dtype() != header[name]["dtype"]:
                    fails.append(f"{shard}: {name}: safe_open and the raw header disagree")
        if meta.get("format") != "pt":
            fails.append(f"{shard}: metadata format {meta.get('format')!r}, expected 'pt'")
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        if set(tensors) != keys:
            fails.append(f"{shard}: safe_open lists other tensors than the header")
        spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in tensors.items())
        at = 0
        for start, end, name in spans:
            info = tensors[name]
            if start != at:
                fails.append(f"{shard}: {name} starts at {start}, not at {at} (gap or overlap)")
            if end - start != math.prod(info["shape"]) * SIZES[info["dtype"]]:
                fails.append(f"{shard}: {name}: {end - start} bytes for shape {info['shape']} {info['dtype']}")
            at = end
            total += end - start
            if name in stored:
                fails.append(f"{name} is in {stored[name][0]} and {shard}")
            stored[name] = (shard, info, 8 + n)
        if path.stat().st_size != 8 + n + at:
            fails.append(f"{shard}: {path.stat().st_size} bytes, the header ends the data at {8 + n + at}")
    if weight_map is not None:
        if set(weight_map) != set(stored):
            fails.append(f"index weight_map and the shards list different tensors "
                         f"({len(set(weight_map) ^ set(stored))} differ)")
        for name, shard in weight_map.items():
            if name in stored and stored[name][0] != shard:
                fails.append(f"index puts {name} in {shard}, it is in {stored[name][0]}")
        if index["metadata"]["total_size"] != total:
            fails.append(f"index total_size {index['metadata']['total_size']}, shards hold {total} bytes")
    if manifest["total_size"] != total:
        fails.append(f"manifest total_size {manifest['total_size']}, shards hold {total} bytes")
    rows = checked = 0
    mms = {}
    listed = set()
    for t in manifest["tensors"]:
        name = t["name"]
        listed.add(name)
        if t.get("tied_to"):
            if name in stored:
                fails.append(f"{name} is tied to {t['tied_to']} but stored")
            continue
        if name not in stored:
            fails.append(f"{name} (manifest) is in no shard")
            continue
        shard, info, base = stored[name]
        if t.get("file") != shard:
            fails.append(f"{name}: manifest says {t.get('file')}, found in {shard}")
        if info["shape"] != t["shape"] or info["dtype"] != want_dtype:
            fails.append(f"{name}: {info['dtype']} {info['shape']}, manifest {want_dtype} {t['shape']}")
            continue
        if shard not in mms:
            mms[shard] = np.memmap(folder / shard, dtype=np.uint8, mode="r")
        x = values(mms[shard], base, info)
        rows += 1
        if not all(np.isfinite(x[i:i + (1 << 22)]).all() for i in range(0, x.size, 1 << 22)):
            fails.append(f"{name}: non-finite values")
            continue
        std = t.get("std")
        if std is None or x.size < 2:
            continue
        n, mean, s, kappa = moments(x)
        want_mean = t.get("mean") or 0.0
        if std == 0.0:
            if s != 0.0 or abs(mean - want_mean) > 1e-6 * max(1.0, abs(want_mean)):
                fails.append(f"{name}: expected constant {want_mean}, got mean {mean}, std {s}")
        else:
            z_std = abs(s - std) / (std * math.sqrt(max(kappa - 1.0, 1e-12) / (4 * n)))
            z_mean = abs(mean - want_mean) / (std / math.sqrt(n))
            if z_std > z or z_mean > z:
                fails.append(f"{name}: mean {mean:.3g} std {s:.6g} vs manifest {want_mean:.3g} {std:.6g} "
                             f"(z {z_mean:.1f}, {z_std:.1f})")
        checked += 1
    for name in set(stored) - listed:
        fails.append(f"{name} is stored but not in the manifest")
    return {"folder": str(folder), "shards": len(shard_files), "tensors": len(stored), "bytes": total,
            "dtype": want_dtype, "checked_values": rows, "checked_stats": checked, "failures": fails}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+")
    p.add_argument("--z", type=float, default=6.0)
    args = p.parse_args()
    print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")
    failed = False
    for folder in args.folders:
        if not pathlib.Path(folder, "nninit-manifest.json").is_file():
            print(f"check-with-safetensors: {folder}: no nninit-manifest.json")
            return 2
        r = check_folder(folder, args.z)
        status = "ok" if not r["failures"] else f"FAIL ({len(r['failures'])})"
        print(f"{r['folder']}: {r['shards']} shard(s), {r['tensors']} tensors {r['dtype']}, {r['bytes']} bytes, "
              f"{r['checked_values']} read, {r['checked_stats']} stats checked: {status}")
        for f in r["failures"][:20]:
            print(f"  {f}")
        failed |= bool(r["failures"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
