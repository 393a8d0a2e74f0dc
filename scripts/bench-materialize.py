#!/usr/bin/env python3
"""Whole-model materialization: nninit beside transformers, interleaved in one run.

  python3 scripts/bench-materialize.py [--preset llama-1b] [--dtype f32] [--repeats 3]
                                       [--nninit target/release/nninit] [--out-dir DIR]
                                       [--skip-transformers] [--nninit-args "--write-mode page-cache"]
                                       [--variant "--digest none" ...] [--disk]

Each repeat runs, one after the other (the order alternating between repeats):
  nninit:       nninit materialize --preset P --scheme hf --seed 0 --dtype D --out DIR/nninit
  transformers: a fresh python3 that imports torch and transformers, builds the preset's config,
                AutoModelForCausalLM.from_config (transformers' own init), then
                safetensors.torch.save_file(model.state_dict(), DIR/transformers/model.safetensors)
                (phases timed inside: import, init, save).
  --variant ARGS: one more nninit run per repeat, with these extra arguments (repeatable).
  --disk:       the disk's own write speed for the same bytes: `dd oflag=direct bs=8M` copies each
                shard nninit wrote (read into the page cache first) to a new file, fsynced, one
                shard at a time (each copy removed, untimed, before the next).
Each nninit row also prints user CPU / wall, the figure issue 18 asks to be at most 0.5 in bf16.
Wall time is measured around each child; peak RSS is the child's own ru_maxrss from os.wait4 (no
other process counted). Outputs are deleted after each run and `sync` runs (untimed) before each, so
one run's dirty pages do not slow the next. Note: nninit fsyncs its files before it exits; save_file
does not, so transformers' figure leaves its data in the page cache, unflushed.

Prints the load average, versions, each run, and min and median per tool; --json writes them.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PRESETS = ROOT / "crates" / "nninit" / "src" / "arch" / "presets"

TRANSFORMERS_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch, transformers
from safetensors.torch import save_file
t1 = time.perf_counter()
config_dict, dtype, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
config = transformers.AutoConfig.for_model(**config_dict)
torch.manual_seed(0)
kwargs = {} if dtype == "f32" else {"dtype": {"bf16": torch.bfloat16, "f16": torch.float16}[dtype]}
model = transformers.AutoModelForCausalLM.from_config(config, **kwargs)
t2 = time.perf_counter()
state = {k: v.contiguous() for k, v in model.state_dict().items()}
save_file(state, out, metadata={"format": "pt"})
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "init_s": t2 - t1, "save_s": t3 - t2,
                  "parameters": sum(p.numel() for p in model.parameters()),
                  "torch": torch.__version__, "transformers": transformers.__version__,
                  "threads": torch.get_num_threads()}))
"""


def run_measured(cmd):
    """Runs cmd; returns wall seconds, the child's own peak RSS (bytes), user and system seconds, stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Drain the pipes on threads so the child never blocks, then reap it with wait4 for its rusage.
    chunks = {"out": [], "err": []}
    readers = [threading.Thread(target=lambda s, k: chunks[k].append(s.read()), args=(proc.stdout, "out")),
               threading.Thread(target=lambda s, k: chunks[k].append(s.read()), args=(proc.stderr, "err"))]
    for r in readers:
        r.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = b"".join(chunks["out"]).decode()
    err = b"".join(chunks["err"]).decode()
    if proc.returncode != 0:
        raise SystemExit(f"bench-materialize: {cmd[0]} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime, usage.ru_stime, out


def disk_copy(src_dir, dst_dir):
    """dd oflag=direct of each shard in src_dir into dst_dir, then sync: (wall, 0, user, sys, bytes)."""
    shards = sorted(src_dir.glob("*.safetensors"))
    for f in shards:  # into the page cache first, so dd times the write
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    wall = user = sys_s = 0.0
    for f in shards:  # one copy at a time, removed untimed, so the disk holds at most one more shard
        started, before = time.perf_counter(), os.times()
        subprocess.run(["dd", f"if={f}", f"of={dst_dir / f.name}", "bs=8M", "oflag=direct", "conv=fsync",
                        "status=none"], check=True)
        after = os.times()
        wall += time.perf_counter() - started
        user += after.children_user - before.children_user
        sys_s += after.children_system - before.children_system
        (dst_dir / f.name).unlink()
    return wall, 0, user, sys_s, sum(f.stat().st_size for f in shards)


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(values):
    return min(values), statistics.median(values)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="llama-1b")
    p.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--nninit", default=str(ROOT / "target" / "release" / "nninit"))
    p.add_argument("--nninit-args", default="", help="extra arguments for nninit materialize")
    p.add_argument("--out-dir", default=str(ROOT / "target" / "bench-materialize"))
    p.add_argument("--skip-transformers", action="store_true")
    p.add_argument("--variant", action="append", default=[], help="extra nninit arguments of one more run")
    p.add_argument("--disk", action="store_true", help="time dd oflag=direct of the same bytes")
    p.add_argument("--json")
    args = p.parse_args()
    config = json.loads((PRESETS / f"{args.preset}.json").read_text())
    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    nninit_out, hf_out = out_dir / "nninit", out_dir / "transformers"
    nninit_cmd = [args.nninit, "materialize", "--preset", args.preset, "--scheme", "hf", "--seed", "0",
                  "--dtype", args.dtype, *args.nninit_args.split(), "--out", str(nninit_out)]
    hf_cmd = [sys.executable, "-c", TRANSFORMERS_CHILD, json.dumps(config), args.dtype, str(hf_out / "model.safetensors")]
    version = subprocess.run([args.nninit, "--version"], capture_output=True, text=True).stdout.strip()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print(f"date {started}  host {platform.node()}  cpus {os.cpu_count()}  load {loadavg()}")
    print(f"nninit: {' '.join(nninit_cmd[1:])}  ({version})")
    commands = {"nninit": nninit_cmd, "transformers": hf_cmd}
    for v in args.variant:
        commands[f"nninit {v}"] = nninit_cmd[:-2] + v.split() + nninit_cmd[-2:]
    dd_out = out_dir / "dd"
    runs = {tool: [] for tool in [*commands, "dd"]}
    for r in range(args.repeats):
        order = list(commands) if r % 2 == 0 else list(commands)[::-1]
        if args.disk:
            order.insert(order.index("nninit") + 1, "dd")
        for tool in order:
            if tool == "transformers" and args.skip_transformers:
                continue
            if tool != "dd":
                shutil.rmtree(nninit_out, ignore_errors=True)
            for d in (hf_out, dd_out):
                shutil.rmtree(d, ignore_errors=True)
            hf_out.mkdir(parents=True)
            dd_out.mkdir(parents=True)
            subprocess.run(["sync"], check=True)
            load = loadavg()
            if tool == "dd":
                wall, rss, user, sys_s, size = disk_copy(nninit_out, dd_out)
                out = ""
            else:
                wall, rss, user, sys_s, out = run_measured(commands[tool])
                size = sum(f.stat().st_size for f in (hf_out if tool == "transformers" else nninit_out).glob("*.safetensors"))
            row = {"tool": tool, "repeat": r, "wall_s": wall, "peak_rss_bytes": rss, "user_s": user, "sys_s": sys_s,
                   "bytes": size, "load_before": load}
            if tool == "transformers":
                row.update(json.loads(out.strip().splitlines()[-1]))
            runs[tool].append(row)
            extra = (f"  import {row['import_s']:.1f} s, init {row['init_s']:.1f} s, save {row['save_s']:.1f} s"
                     if tool == "transformers" else "")
            if tool.startswith("nninit"):
                extra = f"  user/wall {user / wall:.2f}"
            print(f"  {tool:<12} run {r}: {wall:6.2f} s  peak RSS {rss / 2**20:7.0f} MiB  user {user:5.1f} s  "
                  f"sys {sys_s:4.1f} s  {size / 1e9:.2f} GB  (load before {load}){extra}", flush=True)
    for d in (nninit_out, hf_out, dd_out):
        shutil.rmtree(d, ignore_errors=True)
    print(f"load at the end {loadavg()}")
    table = {}
    for tool, rows in runs.items():
        if not rows:
            continue
        wmin, wmed = summary([x["wall_s"] for x in rows])
        rmax = max(x["peak_rss_bytes"] for x in rows)
        table[tool] = {"runs": len(rows), "wall_min_s": wmin, "wall_median_s": wmed, "peak_rss_max_bytes": rmax}
        ratio = (f", user/wall median {statistics.median(x['user_s'] / x['wall_s'] for x in rows):.2f}"
                 if tool.startswith("nninit") else "")
        print(f"{tool:<12} {len(rows)} runs: min {wmin:.2f} s, median {wmed:.2f} s, peak RSS (max) {rmax / 2**20:.0f} MiB"
              f"{ratio}")
    if "transformers" in table:
        t = runs["transformers"][0]
        print(f"versions: torch {t['torch']}, transformers {t['transformers']} ({t['threads']} threads), "
              f"python {platform.python_version()}")
        n, h = table["nninit"], table["transformers"]
        print(f"nninit / transformers: min {n['wall_min_s'] / h['wall_min_s']:.3f}, "
              f"median {n['wall_median_s'] / h['wall_median_s']:.3f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"date": started, "preset": args.preset, "dtype": args.dtype,
                                                       "nninit_command": nninit_cmd, "runs": runs, "summary": table},
                                                      indent=1))


if __name__ == "__main__":
    main()
