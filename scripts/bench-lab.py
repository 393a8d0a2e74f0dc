#!/usr/bin/env python3
"""Lab training beside PyTorch, interleaved, in one run: an MNIST epoch of an MLP, or char-GPT steps.

Usage: python3 scripts/bench-lab.py [--workload mlp-epoch|gpt-step] [--repeats 3] [--threads 1,2]
                                    [--torch-passive] [--exe PATH] [--steps 20]

mlp-epoch (the default): the network is 784-256-256-10 with ReLU and biases, He-initialized
(kaiming_normal_, fan-in, zero biases), trained with cross-entropy by plain SGD (lr 0.01, no
momentum) for 469 steps of 128 examples, one pass over MNIST's 60,000 training images, the loss
read back every step.

  nninit:  crates/nninit-lab/examples/epoch.rs (the lab's own `train::train`), release build,
           with RAYON_NUM_THREADS=t;
  PyTorch: the same loop on the same data, torch.set_num_threads(t) (and OMP/MKL_NUM_THREADS=t).

Both read ~/.cache/nninit/data/mnist (or $NNINIT_DATA/mnist): pixels / 255, then standardized
with the training set's mean 0.13066 and std 0.30811.

gpt-step: training steps of a character GPT on Shakespeare (~/.cache/nninit/data/shakespeare):
pre-LN GPT-2 blocks, vocabulary 84, context 128, width 128, 4 heads, 4 blocks, MLP 512, tanh
GELU, learned positions, the head tied to the token embedding (0.82 M parameters), GPT-2's init
(N(0, 0.02), the residual projections 0.02/sqrt(2 * 4), zero biases), Adam (lr 1e-3, PyTorch's
defaults otherwise), batches of 32 random windows of the first 90 % of the corpus; each step
draws its windows, runs forward, reads the loss back, runs backward and Adam's update. 3 untimed
steps first, then --steps timed ones.

  nninit:  crates/nninit-lab/examples/gpt_step.rs (the lab's `Gpt` and `GptTrainer`);
  PyTorch: the same model as nanoGPT writes it, attention by F.scaled_dot_product_attention
           (is_causal=True) ("torch"), and, as a second series, attention by the same explicit
           operations as the lab (q·kᵀ/√d, masked, softmax, ·v) ("torch-explicit").

Every measurement is a fresh process that times the workload alone (not start-up, data loading or
weight drawing). For each repetition the script runs every (threads, framework) pair once,
alternating frameworks and rotating which goes first, so all see the same load; it prints the
min and median over repetitions and the ratio nninit / PyTorch, of the wall time (for gpt-step,
per step) and, on one thread, of the CPU time (user + system, all threads; what the run costs
without the time spent waiting for a core on a loaded machine).
"""
import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time

MEAN, STD = 0.13066, 0.30811
BATCH, LR = 128, 0.01


def data_dir():
    d = os.environ.get("NNINIT_DATA")
    if d:
        return d
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "nninit", "data")
    return os.path.join(os.path.expanduser("~"), ".cache", "nninit", "data")


def read_idx(path, header):
    with open(path, "rb") as f:
        return f.read()[header:]


def torch_epoch(threads):
    """Runs in a child process: one epoch in PyTorch, prints the same JSON as the Rust example."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    root = os.path.join(data_dir(), "mnist")
    px = np.frombuffer(read_idx(os.path.join(root, "train-images-idx3-ubyte"), 16), dtype=np.uint8)
    y = np.frombuffer(read_idx(os.path.join(root, "train-labels-idx1-ubyte"), 8), dtype=np.uint8)
    x = torch.from_numpy(((px.astype(np.float32) / 255.0 - MEAN) / STD).reshape(-1, 784).copy())
    y = torch.from_numpy(y.astype(np.int64))
    n = x.shape[0]
    steps = -(-n // BATCH)

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    started, cpu_started = time.perf_counter(), time.process_time()
    # Full batches only, as the lab draws them: a fresh permutation when one runs out (the lab
    # draws its permutations inside the timed `train` too).
    order = torch.cat([torch.randperm(n), torch.randperm(n)])
    losses = []
    for s in range(steps):
        idx = order[s * BATCH:(s + 1) * BATCH]
        xb, yb = x[idx], y[idx]
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "steps": steps, "threads": torch.get_num_threads(),
                      "mean_loss": sum(losses) / len(losses), "torch": torch.__version__}))


# The char-GPT of gpt-step: the sizes of crates/nninit-lab/examples/gpt_step.rs (checked
# against what it prints).
GPT = {"vocab": 84, "context": 128, "width": 128, "heads": 4, "depth": 4, "mlp_width": 512, "batch": 32}
GPT_LR, GPT_WARMUP = 1e-3, 3


def torch_gpt(threads, steps, attention):
    """Runs in a child process: GPT training steps in PyTorch, prints the same JSON as gpt_step.rs."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(threads)
    with open(os.path.join(data_dir(), "shakespeare", "shakespeare.txt"), "rb") as f:
        text = np.frombuffer(f.read(), dtype=np.uint8)
    vocab = np.unique(text)
    ids = np.searchsorted(vocab, text).astype(np.int64)
    train = torch.from_numpy(ids[: len(ids) - len(ids) // 10].copy())
    g = dict(GPT)
    if len(vocab) != g["vocab"]:
        sys.exit(f"the corpus has {len(vocab)} symbols, not {g['vocab']}")
    d, h, m, ctx = g["width"], g["heads"], g["mlp_width"], g["context"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.c_fc, self.mlp_proj = nn.Linear(d, m), nn.Linear(m, d)

        def attend(self, q, k, v):
            if attention == "sdpa":
                return F.scaled_dot_product_attention(q, k, v, is_causal=True)
            t = q.shape[2]
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // h)
            future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
            return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1) @ v

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in self.c_attn(self.ln_1(x)).split(d, dim=2))
            x = x + self.c_proj(self.attend(q, k, v).transpose(1, 2).reshape(b, t, d))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(g["vocab"], d), nn.Embedding(ctx, d)
            self.h = nn.ModuleList(Block() for _ in range(g["depth"]))
            self.ln_f = nn.LayerNorm(d)

        def forward(self, tokens):
            x = self.wte(tokens) + self.wpe.weight[: tokens.shape[1]]
            for block in self.h:
                x = block(x)
            return self.ln_f(x) @ self.wte.weight.T

    torch.manual_seed(0)
    model = Gpt()
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            nn.init.zeros_(p)
        elif p.dim() == 2:
            residual = name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight")
            nn.init.normal_(p, std=0.02 / math.sqrt(2 * g["depth"]) if residual else 0.02)
    parameters = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=GPT_LR)
    offsets = torch.arange(ctx + 1)
    step_seconds, losses, cpu_started = [], [], None
    for step in range(GPT_WARMUP + steps):
        if step == GPT_WARMUP:
            cpu_started = time.process_time()
        started = time.perf_counter()
        window = train[torch.randint(len(train) - ctx, (g["batch"], 1)) + offsets]
        logits = model(window[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, g["vocab"]), window[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step >= GPT_WARMUP:
            step_seconds.append(time.perf_counter() - started)
    print(json.dumps({**g, "parameters": parameters, "threads": torch.get_num_threads(), "step_seconds": step_seconds,
                      "seconds": sum(step_seconds), "cpu_seconds": time.process_time() - cpu_started,
                      "first_loss": losses[0], "last_loss": losses[-1], "torch": torch.__version__}))


def child_env(threads, extra):
    env = dict(os.environ)
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.update(extra)
    return env


def run_json(cmd, threads, extra):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=child_env(threads, extra)).stdout
    return json.loads(out.strip().splitlines()[-1])


def summary(xs):
    return min(xs), statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", choices=["mlp-epoch", "gpt-step"], default="mlp-epoch")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per gpt-step run (after 3 untimed)")
    ap.add_argument("--exe", help="the built example (default: $CARGO_TARGET_DIR or target/release/examples/epoch, "
                                  "or gpt_step for --workload gpt-step)")
    ap.add_argument("--torch-passive", action="store_true",
                    help="also time PyTorch with OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep instead of "
                         "spinning at barriers, which matters when other processes load the machine)")
    ap.add_argument("--torch-worker", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    ap.add_argument("--torch-attention", choices=["sdpa", "explicit"], default="sdpa", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not 1 <= args.repeats <= 1000 or not 1 <= args.steps <= 100_000:
        sys.exit("--repeats must be in 1..=1000 and --steps in 1..=100000")
    gpt = args.workload == "gpt-step"
    if args.torch_worker is not None:
        if gpt:
            torch_gpt(args.torch_worker, args.steps, args.torch_attention)
        else:
            torch_epoch(args.torch_worker)
        return

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    example = "gpt_step" if gpt else "epoch"
    exe = args.exe or os.path.join(target, "release", "examples", example)
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "nninit-lab", "--example", example],
                       cwd=root, check=True)
    threads = [int(t) for t in args.threads.split(",")]
    torch_cmd = [sys.executable, os.path.abspath(__file__), "--workload", args.workload, "--steps", str(args.steps),
                 "--torch-worker"]
    # name -> (command for t threads, extra environment)
    series = {
        "nninit": (lambda t: [exe] + ([str(args.steps), str(GPT_WARMUP)] if gpt else []), {}),
        "torch": (lambda t: torch_cmd + [str(t)], {}),
    }
    if gpt:
        series["torch-explicit"] = (lambda t: torch_cmd + [str(t), "--torch-attention", "explicit"], {})
    if args.torch_passive:
        series["torch-passive"] = (lambda t: torch_cmd + [str(t)], {"OMP_WAIT_POLICY": "PASSIVE"})
    settings = {"torch": "nanoGPT, SDPA attention" if gpt else "default",
                "torch-explicit": "explicit attention, as the lab",
                "torch-passive": "OMP_WAIT_POLICY=PASSIVE"}

    def load():
        return os.getloadavg()[0]

    # gpt-step compares the time of one step (the mean of a run's timed steps); mlp-epoch the epoch's.
    def seconds(r):
        return r["seconds"] / len(r["step_seconds"]) if gpt else r["seconds"]

    unit = "s per step" if gpt else "s"
    print(f"# {datetime.datetime.now().isoformat(timespec='seconds')}  workload={args.workload}  exe={exe}", flush=True)
    print(f"# load average at start: {load():.2f}", flush=True)
    times = {(name, t): [] for name in series for t in threads}
    cpu = {(name, t): [] for name in series for t in threads}
    torch_version, sizes = None, None
    names = list(series)
    for rep in range(args.repeats):
        for t in threads:
            # Rotate which series goes first, so none always follows another.
            k = (rep + t) % len(names)
            for name in names[k:] + names[:k]:
                cmd, extra = series[name]
                r = run_json(cmd(t), t, extra)
                if r["threads"] != t:
                    sys.exit(f"{name} ran with {r['threads']} threads, not {t}")
                if gpt:
                    got = {key: r[key] for key in [*GPT, "parameters"]}
                    if sizes is not None and got != sizes:
                        sys.exit(f"{name} ran another model: {got}, not {sizes}")
                    sizes = got
                steps = len(r["step_seconds"]) if gpt else 1
                times[(name, t)].append(seconds(r))
                if r.get("cpu_seconds") is not None:
                    cpu[(name, t)].append(r["cpu_seconds"] / steps)
                torch_version = r.get("torch", torch_version)
                check = (f"loss {r['first_loss']:.3f} -> {r['last_loss']:.3f}" if gpt
                         else f"mean loss {r['mean_loss']:.4f}")
                print(f"rep {rep + 1} threads {t} {name:14} {seconds(r):7.3f} {unit}  cpu "
                      f"{(r.get('cpu_seconds') or 0) / steps:7.3f}  ({check}, load {load():.2f})", flush=True)
    print(f"# load average at end: {load():.2f}; torch {torch_version}")
    if sizes:
        print(f"# model: {sizes}")
    print()
    print(f"| threads | PyTorch setting | nninit min / median | PyTorch min / median | nninit/PyTorch min | median |")
    print("|---|---|---|---|---|---|")
    for t in threads:
        a_min, a_med = summary(times[("nninit", t)])
        for name in names[1:]:
            b_min, b_med = summary(times[(name, t)])
            print(f"| {t} | {settings[name]} | {a_min:.3f} / {a_med:.3f} {unit} | {b_min:.3f} / {b_med:.3f} {unit} | "
                  f"{a_min / b_min:.2f} | {a_med / b_med:.2f} |")
    # On one thread, CPU time is the run's cost without the time spent waiting for a core.
    if 1 in threads and cpu[("nninit", 1)]:
        print()
        print("| threads | CPU time | PyTorch setting | nninit min / median | PyTorch min / median | nninit/PyTorch min | median |")
        print("|---|---|---|---|---|---|---|")
        a_min, a_med = summary(cpu[("nninit", 1)])
        for name in names[1:]:
            if cpu[(name, 1)]:
                b_min, b_med = summary(cpu[(name, 1)])
                print(f"| 1 | user + system | {settings[name]} | {a_min:.3f} / {a_med:.3f} {unit} | "
                      f"{b_min:.3f} / {b_med:.3f} {unit} | {a_min / b_min:.2f} | {a_med / b_med:.2f} |")


if __name__ == "__main__":
    main()
