#!/usr/bin/env python3
"""The probe's verdict at initialization against what training then did, from lab run folders.

Usage: python3 scripts/verdict-table.py RUN_DIR [RUN_DIR ...] [--trained 0.5]

Each RUN_DIR is what `nninit lab run EXPERIMENT --out RUN_DIR` wrote (its results.jsonl). A run
"trained" when it did not diverge and its last evaluation's test accuracy is at least --trained
(default 0.5; chance is 0.1 on every dataset the lab has). The verdict is right when
vanishing/exploding meets a run that did not train, and healthy/drifting one that did.
Prints one markdown row per configuration (runs pooled over seeds) and a summary per verdict.
"""
import argparse
import collections
import json
import os


def runs(folder):
    last_eval = {}
    out = []
    with open(os.path.join(folder, "results.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r["kind"] == "eval":
                key = (r["label"], r["seed"])
                if key not in last_eval or r["step"] >= last_eval[key]["step"]:
                    last_eval[key] = r
            elif r["kind"] == "run":
                out.append(r)
            elif r["kind"] == "experiment":
                name = r["name"]
    for r in out:
        r["experiment"] = name
        e = last_eval.get((r["label"], r["seed"]))
        r["accuracy"] = e["test_accuracy"] if e else None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--trained", type=float, default=0.5)
    args = ap.parse_args()
    good = {"healthy", "drifting"}
    rows = collections.OrderedDict()
    for folder in args.folders:
        for r in runs(folder):
            v = r.get("verdict")
            if v is None:
                continue
            trained = r["status"] != "diverged" and r["accuracy"] is not None and r["accuracy"] >= args.trained
            key = (r["experiment"], r["label"], v["kind"])
            rows.setdefault(key, []).append((r, trained))
    print("| experiment | configuration | verdict at init | per-layer rates (fwd, bwd) | runs trained | final test accuracy | right? |")
    print("|---|---|---|---|---|---|---|")
    per_verdict = collections.Counter()
    right_per_verdict = collections.Counter()
    for (exp, label, kind), rs in rows.items():
        n_trained = sum(t for _, t in rs)
        accs = ", ".join("diverged" if r["status"] == "diverged" else f"{100 * r['accuracy']:.1f} %" for r, _ in rs)
        v = rs[0][0]["verdict"]
        right = sum((kind in good) == t for _, t in rs)
        per_verdict[kind] += len(rs)
        right_per_verdict[kind] += right
        print(f"| {exp} | {label} | {kind} | {v['forward_rate']:.3f}, {v['backward_rate']:.3f} | {n_trained}/{len(rs)} | {accs} | {right}/{len(rs)} |")
    print()
    print(f"| verdict | runs | right (trained ≥ {100 * args.trained:.0f} % for healthy/drifting, not for vanishing/exploding) |")
    print("|---|---|---|")
    for kind in ["healthy", "drifting", "vanishing", "exploding"]:
        if per_verdict[kind]:
            print(f"| {kind} | {per_verdict[kind]} | {right_per_verdict[kind]} ({100 * right_per_verdict[kind] / per_verdict[kind]:.0f} %) |")
    total, right = sum(per_verdict.values()), sum(right_per_verdict.values())
    print(f"| all | {total} | {right} ({100 * right / total:.0f} %) |")


if __name__ == "__main__":
    main()
