#!/usr/bin/env python3
"""The doctor beside the time it takes to read its checkpoint, interleaved in one run.

  python3 scripts/bench-doctor.py [--preset llama-1b] [--dtype f32] [--repeats 5]
                                  [--nninit target/release/nninit] [--dir DIR] [--cold]

Makes the checkpoint once (`nninit materialize --preset P --scheme hf --seed 0 --dtype D`, kept
in DIR, default /tmp/nninit-bench-doctor-P-D), then each repeat runs, the order alternating:
  read:       one pass over the safetensors file, `cat FILE > /dev/null` (the physical limit of a
              tool that reads every byte once: memory bandwidth in the page cache, disk when cold)
  doctor:     nninit doctor DIR --json (spectra at the default passes)
  doctor-0:   nninit doctor DIR --json --iterations 0 (no spectra)
Wall time is measured around each child; user and system CPU from os.wait4. With --cold, the page
cache is dropped (`echo 3 > /proc/sys/vm/drop_caches`, needs root) before every run, so each reads
from the disk. Prints the load average, each run, and the best and median per command.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(cmd, cold):
    if cold:
        subprocess.run(["sync"], check=True)
        pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        child = subprocess.Popen(cmd, stdout=null)
        _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench-doctor: {' '.join(map(str, cmd))} failed")
    return wall, usage.ru_utime, usage.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="llama-1b")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nninit", default=str(ROOT / "target" / "release" / "nninit"))
    ap.add_argument("--dir")
    ap.add_argument("--cold", action="store_true")
    a = ap.parse_args()
    if a.repeats < 1:
        sys.exit("bench-doctor: --repeats must be at least 1")
    exe = pathlib.Path(a.nninit)
    if not exe.exists():
        sys.exit(f"bench-doctor: {exe} not found (cargo build --release -p nninit-cli)")
    d = pathlib.Path(a.dir or f"/tmp/nninit-bench-doctor-{a.preset}-{a.dtype}")
    if not (d / "model.safetensors").exists() and not (d / "model.safetensors.index.json").exists():
        subprocess.run([exe, "materialize", "--preset", a.preset, "--scheme", "hf", "--seed", "0",
                        "--dtype", a.dtype, "--out", d], check=True, stdout=subprocess.DEVNULL)
    files = sorted(d.glob("*.safetensors"))
    size = sum(f.stat().st_size for f in files)
    cmds = {
        "read": ["cat", *files],
        "doctor": [exe, "doctor", d, "--json"],
        "doctor-0": [exe, "doctor", d, "--json", "--iterations", "0"],
    }
    if not a.cold:
        run(cmds["read"], False)  # warm the page cache, untimed
    print(f"load {os.getloadavg()}, {size / 1e9:.2f} GB in {len(files)} file(s), {os.cpu_count()} CPUs,"
          f" {'cold (page cache dropped before each run)' if a.cold else 'page cache warm'}")
    results = {k: [] for k in cmds}
    for r in range(a.repeats):
        order = list(cmds) if r % 2 == 0 else list(reversed(cmds))
        for name in order:
            wall, user, sys_ = run(cmds[name], a.cold)
            results[name].append((wall, user, sys_))
            print(f"  {r} {name:9} wall {wall:6.3f} s  user {user:6.3f}  sys {sys_:6.3f}")
    print(f"load {os.getloadavg()}")
    for name, rs in results.items():
        walls = [w for w, _, _ in rs]
        best = min(rs)
        print(f"{name:9} best {best[0]:.3f} s (user {best[1]:.2f}, sys {best[2]:.2f}), median {statistics.median(walls):.3f} s,"
              f" {size / best[0] / 1e9:.1f} GB/s")


if __name__ == "__main__":
    main()
