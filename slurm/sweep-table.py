#!/usr/bin/python3
"""Turns the CSV of slurm/sweep-seqlen.sbatch into a Markdown table (stdout) and a PNG:
tokens/s and MFU, and the final training loss, against the sequence length.

  /usr/bin/python3 slurm/sweep-table.py RESULTS.csv [--png OUT.png]   (default: beside the CSV)
"""
import argparse
import csv
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--png")
    a = ap.parse_args()
    rows = sorted(csv.DictReader(open(a.csv)), key=lambda r: int(r["seq_len"]))
    if not rows:
        raise SystemExit(f"{a.csv}: no rows")
    cols = [("seq_len", "seq len"), ("ranks", "ranks"), ("steps", "steps"),
            ("final_loss", "final loss"), ("val_loss", "val loss"), ("tokens_per_s", "tok/s"),
            ("mfu", "MFU"), ("peak_rss_mib", "peak RSS MiB"), ("comm_fraction", "comm"),
            ("pipeline_wait_fraction", "pipeline wait"), ("status", "status")]
    def fmt(k, v):
        if v == "":
            return "-"
        if k in ("mfu", "comm_fraction", "pipeline_wait_fraction"):
            return f"{100 * float(v):.1f}%"
        if k == "tokens_per_s":
            return f"{float(v):.0f}"
        return v
    print("| " + " | ".join(h for _, h in cols) + " |")
    print("|" + "|".join("---:" if k not in ("status",) else "---" for k, _ in cols) + "|")
    for r in rows:
        print("| " + " | ".join(fmt(k, r[k]) for k, _ in cols) + " |")

    ok = [r for r in rows if r["tokens_per_s"]]
    x = [int(r["seq_len"]) for r in ok]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(x, [float(r["tokens_per_s"]) for r in ok], "o-", label="tokens/s")
    ax1.set_xscale("log", base=2)
    ax1.set_xlabel("sequence length")
    ax1.set_ylabel("tokens/s")
    ax1b = ax1.twinx()
    ax1b.plot(x, [100 * float(r["mfu"] or 0) for r in ok], "s--", color="tab:orange", label="MFU")
    ax1b.set_ylabel("MFU %")
    ax1.set_title("throughput")
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax1b.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, loc="upper left")
    lk = [r for r in ok if r["final_loss"]]
    ax2.plot([int(r["seq_len"]) for r in lk], [float(r["final_loss"]) for r in lk], "o-")
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("sequence length")
    ax2.set_ylabel("final training loss")
    ax2.set_title("loss")
    for ax in (ax1, ax2):
        ax.set_xticks(x, [str(v) for v in x])
        ax.minorticks_off()
    fig.tight_layout()
    png = a.png or os.path.join(os.path.dirname(os.path.abspath(a.csv)), "sweep.png")
    fig.savefig(png, dpi=100)
    print(f"\n![sweep]({png})")


if __name__ == "__main__":
    main()
