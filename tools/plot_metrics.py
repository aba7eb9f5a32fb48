#!/usr/bin/python3
"""Turns a run's metrics.jsonl into a PNG: training and validation loss, perplexity, recall
accuracy (when measured) and the mixing weights of every layer over the steps.

  /usr/bin/python3 tools/plot_metrics.py RUN_DIR [--out RUN_DIR/metrics.png]
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("--out")
    a = ap.parse_args()
    path = os.path.join(a.run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        sys.exit(f"plot_metrics: {path} does not exist: is {a.run_dir} a run directory of pha train?")
    rows = [json.loads(line) for line in open(path) if line.strip()]
    steps = [r for r in rows if r.get("kind") == "step"]
    evals = [r for r in rows if r.get("kind") == "eval"]
    if not steps:
        sys.exit(f"plot_metrics: {path} holds no step records yet")
    weights = [r.get("mixing_weights") or [] for r in steps]
    n_layers = max(len(w) for w in weights)
    has_mix = n_layers > 0 and any(len(layer) > 0 for w in weights for layer in w)
    panels = 3 + (1 if has_mix else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4))
    x = [r["step"] for r in steps]

    ax = axes[0]
    ax.plot(x, [r["loss"] for r in steps], label="train loss", lw=1)
    if evals:
        ax.plot([r["step"] for r in evals], [r["val_loss"] for r in evals], "o-", label="val loss")
    ax.set_xlabel("step"), ax.set_ylabel("loss"), ax.set_title("loss"), ax.legend()

    ax = axes[1]
    ax.plot(x, [math.exp(min(r["loss"], 50)) for r in steps], label="train", lw=1)
    if evals:
        ax.plot([r["step"] for r in evals], [r["val_ppl"] for r in evals], "o-", label="val")
    ax.set_yscale("log"), ax.set_xlabel("step"), ax.set_title("perplexity"), ax.legend()

    ax = axes[2]
    recall = [(r["step"], r["recall"]) for r in steps if "recall" in r]
    if recall:
        ax.plot([s for s, _ in recall], [v for _, v in recall], lw=1, label="train (batch)")
    val_recall = [(r["step"], r["val_recall"]) for r in evals if "val_recall" in r]
    if val_recall:
        ax.plot([s for s, _ in val_recall], [v for _, v in val_recall], "o-", label="val")
    ax.set_ylim(0, 1), ax.set_xlabel("step"), ax.set_title("recall accuracy")
    if recall or val_recall:
        ax.legend()

    if has_mix:
        ax = axes[3]
        names = ["attention", "gss", "ffn"]
        for layer in range(n_layers):
            series = [w[layer] for w in weights if len(w) > layer and w[layer]]
            if not series:
                continue
            n = 3 if len(series[0]) % 3 == 0 and len(series[0]) >= 3 else len(series[0])
            per = len(series[0]) // n  # channel mixer: the mean weight over channels
            for b in range(n):
                ys = [sum(s[b * per:(b + 1) * per]) / per for s in series]
                ax.plot(x[:len(ys)], ys, lw=1, label=f"L{layer} {names[b] if n == 3 else b}")
        ax.set_xlabel("step"), ax.set_title("mixing weights per layer")
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    out = a.out or os.path.join(a.run_dir, "metrics.png")
    fig.savefig(out, dpi=110)
    print(f"plot_metrics: wrote {out}")


if __name__ == "__main__":
    main()
