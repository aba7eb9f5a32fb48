#!/usr/bin/python3
"""Turns a results CSV of slurm/sweep-seqlen.sbatch or slurm/scaling.sbatch (slurm/results-row.py)
into a Markdown table (stdout) and a PNG: tokens/s, MFU, peak memory and the final validation loss
(the training loss where no evaluation ran) against the swept column, one line per group, for the runs that finished.

  /usr/bin/python3 slurm/results-table.py RESULTS.csv --x COLUMN [--group COLUMN] [--png OUT.png]

e.g. --x seq_len --group block (sequence-length sweep), --x ranks --group preset (scaling), or
--x params --group layout. The PNG defaults to results.png beside the CSV.
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PERCENT = ("mfu", "comm_fraction", "pipeline_wait_fraction")
PANELS = [("tokens_per_s", "tokens/s", 1), ("mfu", "MFU %", 100), ("peak_rss_mib", "peak RSS MiB", 1),
          ("loss", "final val loss (else train)", 1)]


def number(v):
    try:
        return float(v)
    except ValueError:
        return None


def fmt(key, value):
    if value == "":
        return "-"
    if key in PERCENT:
        return f"{100 * float(value):.1f}%"
    if key == "tokens_per_s":
        return f"{float(value):.0f}"
    return value


def markdown(rows, columns):
    out = ["| " + " | ".join(columns) + " |",
           "|" + "|".join("---:" if all(number(r[c]) is not None for r in rows if r[c]) else "---"
                          for c in columns) + "|"]
    out += ["| " + " | ".join(fmt(c, r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(out)


def plot(rows, x, group, png):
    numeric = all(number(r[x]) is not None for r in rows)
    labels = list(dict.fromkeys(r[x] for r in rows))  # categorical axis: first-seen order
    pos = (lambda r: float(r[x])) if numeric else (lambda r: labels.index(r[x]))
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.8))
    groups = list(dict.fromkeys(r[group] for r in rows)) if group else [None]
    for ax, (key, title, scale) in zip(axes, PANELS):
        for g in groups:
            pts = [(pos(r), number(r[key])) for r in rows if (g is None or r[group] == g)]
            pts = sorted(p for p in pts if p[1] is not None)
            if pts:
                ax.plot([p[0] for p in pts], [scale * p[1] for p in pts], "o-",
                        label=g if g is not None else None)
        ax.set_title(title)
        ax.set_xlabel(x)
        if numeric:
            xs = sorted({float(r[x]) for r in rows})
            if xs[0] > 0 and xs[-1] / xs[0] >= 4:
                ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [f"{v:g}" for v in xs])
            ax.minorticks_off()
        else:
            ax.set_xticks(range(len(labels)), labels, rotation=30)
        if group:
            ax.legend(title=group, fontsize="small")
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--x", required=True, help="the swept column (x axis)")
    ap.add_argument("--group", help="one line per value of this column")
    ap.add_argument("--png")
    a = ap.parse_args()
    with open(a.csv) as f:
        reader = csv.DictReader(f)
        rows, columns = list(reader), reader.fieldnames or []
    if not rows:
        raise SystemExit(f"{a.csv}: no rows")
    for c in [a.x] + ([a.group] if a.group else []):
        if c not in columns:
            raise SystemExit(f"{a.csv}: no column '{c}' (columns: {', '.join(columns)})")
    for r in rows:
        r["loss"] = r["val_loss"] or r["final_loss"]
    numeric = all(number(r[a.x]) is not None for r in rows)
    rows.sort(key=lambda r: (r[a.group] if a.group else "", float(r[a.x]) if numeric else 0))
    print(markdown(rows, columns))
    png = a.png or os.path.join(os.path.dirname(os.path.abspath(a.csv)), "results.png")
    # A failed or preempted run's figures cover only part of it: the plot shows finished runs.
    plot([r for r in rows if r["status"] == "done"] or rows, a.x, a.group, png)
    print(f"\n![{os.path.basename(png)}]({png})")


if __name__ == "__main__":
    main()
