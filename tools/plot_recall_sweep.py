#!/usr/bin/python3
"""Draws the recall sweep of bench/recall_sweep.sh Zoology-style: final validation recall accuracy
against model width, one panel per number of key-value pairs (against the pairs, in one panel,
when the CSVs hold one width), one line per block (the mean over
seeds; every seed a point; blocks shifted a little sideways so that equal points stay visible), with the chance level 1/values dashed.

  /usr/bin/python3 tools/plot_recall_sweep.py OUT_PREFIX CSV [CSV ...]

Writes OUT_PREFIX.png and OUT_PREFIX.svg. Rows with the same block, width and pairs from several
CSVs are seeds of one cell; all rows must share keys, values, fraction, learning rate and steps.
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"serial": "tab:blue", "gss+ffn": "tab:orange", "pha": "tab:green"}
LABELS = {"serial": "attention (serial)", "gss+ffn": "GSS (gss+ffn)", "pha": "PHA"}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    prefix, paths = sys.argv[1], sys.argv[2:]
    rows = [r for p in paths for r in csv.DictReader(open(p))]
    settings = {(r["keys"], r["values"], r["fraction"], r["lr"], r["steps"]) for r in rows}
    if len(settings) != 1:
        sys.exit(f"plot_recall_sweep: the CSVs mix settings (keys, values, fraction, lr, steps): "
                 f"{sorted(settings)}; plot one setting at a time")
    keys, values, fraction, lr, steps = settings.pop()
    cells = defaultdict(list)  # (pairs, block, d) -> recall of each seed
    for r in rows:
        cells[(int(r["pairs"]), r["block"], int(r["d"]))].append(float(r["val_recall"]))
    pairs_list = sorted({p for p, _, _ in cells})
    blocks = [b for b in COLORS if any(b == c[1] for c in cells)]
    widths = sorted({d for _, _, d in cells})
    if len(widths) == 1:
        fig = plot_against_pairs(cells, blocks, widths[0], pairs_list, values)
    else:
        fig = plot_against_width(cells, blocks, widths, pairs_list, values)
    fig.suptitle(f"MQAR on the built-in corpus: {keys} keys, {values} values, recall fraction {fraction}, "
                 f"{steps} steps of 16 x 128 tokens, lr {lr}", fontsize=9)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(f"{prefix}.{ext}", dpi=120)


def pair_span(pairs):
    return f"{min(4, pairs)}-{pairs}" if pairs > 4 else str(pairs)


def plot_against_pairs(cells, blocks, d, pairs_list, values):
    """One width: one panel, recall against the number of pairs per document."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    for block in blocks:
        ps = [p for p in pairs_list if (p, block, d) in cells]
        means = [sum(cells[(p, block, d)]) / len(cells[(p, block, d)]) for p in ps]
        ax.plot(ps, means, "-", color=COLORS[block], label=LABELS[block])
        for p in ps:
            ax.plot([p] * len(cells[(p, block, d)]), cells[(p, block, d)], "o", color=COLORS[block],
                    ms=4)
    ax.axhline(1 / int(values), ls="--", color="grey", lw=1, label=f"chance 1/{values}")
    ax.set_xticks(pairs_list, [pair_span(p) for p in pairs_list])
    ax.set_xlabel(f"key-value pairs per document (width d {d})")
    ax.set_ylabel("validation recall accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_against_width(cells, blocks, widths, pairs_list, values):
    """One panel per number of pairs, recall against the width."""
    fig, axes = plt.subplots(1, len(pairs_list), figsize=(3.6 * len(pairs_list), 3.4), sharey=True,
                             squeeze=False)
    for ax, pairs in zip(axes[0], pairs_list):
        for i, block in enumerate(blocks):
            shift = 1 + 0.04 * (i - (len(blocks) - 1) / 2)  # so equal points stay visible
            ds = [d for d in widths if (pairs, block, d) in cells]
            means = [sum(cells[(pairs, block, d)]) / len(cells[(pairs, block, d)]) for d in ds]
            ax.plot([d * shift for d in ds], means, "-", color=COLORS[block], label=LABELS[block])
            for d in ds:
                seeds = cells[(pairs, block, d)]
                ax.plot([d * shift] * len(seeds), seeds, "o", color=COLORS[block], ms=4)
        ax.axhline(1 / int(values), ls="--", color="grey", lw=1, label=f"chance 1/{values}")
        ax.set_xscale("log", base=2)
        ax.set_xlim(min(widths) / 1.3, max(widths) * 1.3)
        ax.set_xticks(widths, [str(d) for d in widths])
        ax.minorticks_off()
        ax.set_title(f"{pair_span(pairs)} pairs per document")
        ax.set_xlabel("model width d")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation recall accuracy")
    axes[0][-1].legend(fontsize=8, loc="upper left")
    return fig


if __name__ == "__main__":
    main()
