#!/usr/bin/python3
"""Turns a study of `pha study` (STUDY_DIR/study.csv and the cells' metrics.jsonl) into
STUDY_DIR/study.md (PHA vs the matched serial Transformer per size, every variant, throughput and
memory ratios per sequence length) and STUDY_DIR/figures/*.png and *.svg:

  loss_curves   validation (markers) and smoothed training loss against tokens, per tokenizer and T
  final_ppl     final validation perplexity against parameters, per variant (min/max over seeds)
  final_ppl_flops  the same against the training FLOPs (FLOPs per token x tokens, from the planner)
  throughput    tokens/s, peak memory and planned memory against T (the throughput cells)
  mixing        the learned branch weights of every layer over training, one panel per PHA cell

  /usr/bin/python3 tools/plot_study.py STUDY_DIR [--no-figures]

Spread over seeds is written mean ± half the range (min to max), with the number of seeds.
Exits 2 after writing study.md when matplotlib is missing (the figures need it).
"""
import argparse
import csv
import json
import math
import os
import sys
from collections import OrderedDict

BRANCHES = ("attention", "gss", "ffn")


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def read_rows(study_dir):
    path = os.path.join(study_dir, "study.csv")
    if not os.path.exists(path):
        sys.exit(f"plot_study: {path} does not exist: run pha study FILE (or --collect) first")
    with open(path) as f:
        return list(csv.DictReader(f))


def read_metrics(study_dir, row):
    """Step and eval records of a cell; a step re-run after a resume keeps its last record."""
    path = os.path.join(study_dir, row["run_dir"], "metrics.jsonl")
    steps, evals = OrderedDict(), OrderedDict()
    if not os.path.exists(path):
        return [], []
    with open(path) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a line cut by a killed run
            if r.get("kind") == "step":
                steps[r["step"]] = r
            elif r.get("kind") == "eval":
                evals[r["step"]] = r
    return [steps[k] for k in sorted(steps)], [evals[k] for k in sorted(evals)]


def stats(values):
    """mean, min, max, n of the finite values (None when empty)."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None
    return sum(v) / len(v), min(v), max(v), len(v)


def fmt_stat(s, digits=2):
    if s is None:
        return "-"
    mean, lo, hi, n = s
    if n == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(hi - lo) / 2:.{digits}f} (n={n})"


def ratio(a, b, digits=3):
    return f"{a / b:.{digits}f}" if a and b else "-"


def groups(rows, keys):
    out = OrderedDict()
    for r in rows:
        out.setdefault(tuple(r[k] for k in keys), []).append(r)
    return out


def tokens_per_step(row):
    return int(row["batch_size"]) * int(row["seq_len"]) * int(row["ranks"])


def train_flops(row):
    """Model FLOPs of the whole training of a cell (forward + backward), from the planner."""
    return num(row["flops_per_token"]) * int(row["tokens"])


def markdown(rows):
    train = [r for r in rows if r["kind"] == "train" and r["status"] == "done"]
    tput = [r for r in rows if r["kind"] == "throughput" and r["status"] == "done"]
    done = sum(r["status"] == "done" for r in rows)
    out = [f"{done} of {len(rows)} cells finished. Perplexity and bits per byte are of the final "
           "evaluation (the evaluation text's first windows, the same text for every tokenizer); "
           "± is half the range over seeds; tokens/s is the median step after warm-up; FLOPs are "
           "model FLOPs per trained token (forward + backward) from the planner.", ""]

    out += ["## PHA vs the matched serial Transformer", "",
            "| tokenizer | T | size | params PHA / serial | MFLOP/token PHA / serial | training TFLOP PHA / "
            "serial | val ppl PHA | val ppl serial | ppl ratio | bits/byte PHA | bits/byte serial | "
            "tokens/s ratio |",
            "|---|---:|---|---|---|---|---|---|---:|---|---|---:|"]
    for (tok, T, size), g in groups(train, ["tokenizer", "seq_len", "size"]).items():
        pha = [r for r in g if r["variant"] == "pha"]
        ser = [r for r in g if r["variant"] == "serial"]
        if not pha or not ser:
            continue
        sp, ss = stats([num(r["val_ppl"]) for r in pha]), stats([num(r["val_ppl"]) for r in ser])
        bp, bs = stats([num(r["bits_per_byte"]) for r in pha]), stats([num(r["bits_per_byte"]) for r in ser])
        tp, ts = stats([num(r["tokens_per_s"]) for r in pha]), stats([num(r["tokens_per_s"]) for r in ser])
        out.append(f"| {tok} | {T} | {size} | {int(pha[0]['params']):,} / {int(ser[0]['params']):,} | "
                   f"{num(pha[0]['flops_per_token']) / 1e6:.3g} / {num(ser[0]['flops_per_token']) / 1e6:.3g} | "
                   f"{train_flops(pha[0]) / 1e12:.3g} / {train_flops(ser[0]) / 1e12:.3g} | "
                   f"{fmt_stat(sp)} | {fmt_stat(ss)} | {ratio(sp and sp[0], ss and ss[0])} | "
                   f"{fmt_stat(bp, 3)} | {fmt_stat(bs, 3)} | {ratio(tp and tp[0], ts and ts[0], 2)} |")

    out += ["", "## Every variant", "",
            "| tokenizer | T | size | variant | params | MFLOP/token | val ppl | bits/byte | tokens/s | "
            "peak MiB |", "|---|---:|---|---|---:|---:|---|---|---:|---:|"]
    for (tok, T, size, variant), g in groups(train, ["tokenizer", "seq_len", "size", "variant"]).items():
        t = stats([num(r["tokens_per_s"]) for r in g])
        m = stats([num(r["peak_rss_mib"]) for r in g])
        out.append(f"| {tok} | {T} | {size} | {variant} | {int(g[0]['params']):,} | "
                   f"{num(g[0]['flops_per_token']) / 1e6:.3g} | {fmt_stat(stats([num(r['val_ppl']) for r in g]))} | "
                   f"{fmt_stat(stats([num(r['bits_per_byte']) for r in g]), 3)} | "
                   f"{f'{t[0]:.0f}' if t else '-'} | {f'{m[2]:.0f}' if m else '-'} |")

    out += ["", "## Throughput and memory against T (PHA / serial)", "",
            "| size | T | tokens/step | tokens/s PHA | tokens/s serial | ratio | peak MiB PHA | "
            "peak MiB serial | ratio | planned MiB PHA / serial | ratio | planned activations ratio |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for (size, T), g in groups(tput, ["size", "seq_len"]).items():
        pha = [r for r in g if r["variant"] == "pha"]
        ser = [r for r in g if r["variant"] == "serial"]
        if not pha or not ser:
            continue
        p, s = pha[0], ser[0]
        out.append(f"| {size} | {T} | {tokens_per_step(p)} | {num(p['tokens_per_s']):.0f} | "
                   f"{num(s['tokens_per_s']):.0f} | {ratio(num(p['tokens_per_s']), num(s['tokens_per_s']), 2)} | "
                   f"{num(p['peak_rss_mib']):.0f} | {num(s['peak_rss_mib']):.0f} | "
                   f"{ratio(num(p['peak_rss_mib']), num(s['peak_rss_mib']), 2)} | "
                   f"{num(p['plan_mib']):.0f} / {num(s['plan_mib']):.0f} | "
                   f"{ratio(num(p['plan_mib']), num(s['plan_mib']), 2)} | "
                   f"{ratio(num(p['plan_activations_mib']), num(s['plan_activations_mib']), 2)} |")
    return "\n".join(out) + "\n"


def smooth(values, width):
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > width:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def save(fig, study_dir, name):
    fig.tight_layout()
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(study_dir, "figures", f"{name}.{ext}")
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths


def panel_grid(plt, n, width=5.0, height=3.8, cols=None):
    cols = cols or min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = [a for row in axes for a in row]
    for a in flat[n:]:
        a.axis("off")
    return fig, flat


def plot_loss_curves(plt, study_dir, train, metrics):
    panels = groups(train, ["tokenizer", "seq_len"])
    fig, axes = panel_grid(plt, len(panels))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    variants = list(dict.fromkeys(r["variant"] for r in train))
    sizes = list(dict.fromkeys(r["size"] for r in train))
    styles = ["-", "--", ":", "-."]
    for ax, ((tok, T), g) in zip(axes, panels.items()):
        for (size, variant), cells in groups(g, ["size", "variant"]).items():
            # colour: the variant; line style: the size
            color = colors[variants.index(variant) % len(colors)]
            style = styles[sizes.index(size) % len(styles)]
            per_step = tokens_per_step(cells[0])
            curves = []
            for r in cells:
                steps, evals = metrics[r["cell"]]
                if steps:
                    ys = smooth([s["loss"] for s in steps], max(1, len(steps) // 20))
                    ax.plot([s["step"] * per_step for s in steps], ys, color=color, lw=0.6, alpha=0.35)
                curves.append({e["step"]: e["val_loss"] for e in evals})
            xs = sorted(set().union(*curves)) if curves else []
            if not xs:
                continue
            vals = [[c[x] for c in curves if x in c] for x in xs]
            ax.plot([x * per_step for x in xs], [sum(v) / len(v) for v in vals], "o" + style, color=color,
                    ms=3, label=f"{size} {variant}" + (f" ({len(cells)} seeds)" if len(cells) > 1 else ""))
            if len(cells) > 1:
                ax.fill_between([x * per_step for x in xs], [min(v) for v in vals], [max(v) for v in vals],
                                color=color, alpha=0.2)
        ax.set_title(f"{tok}, T = {T}")
        ax.set_xlabel("tokens")
        ax.set_ylabel("loss (nats/token): val o-, train thin")
        ax.legend(fontsize=6)
    return save(fig, study_dir, "loss_curves")


def plot_final_ppl(plt, study_dir, train, x_of, x_label, name):
    panels = groups(train, ["tokenizer", "seq_len"])
    fig, axes = panel_grid(plt, len(panels))
    for ax, ((tok, T), g) in zip(axes, panels.items()):
        for variant, cells in groups(g, ["variant"]).items():
            pts = []
            for size, sc in groups(cells, ["size"]).items():
                s = stats([num(r["val_ppl"]) for r in sc])
                if s:
                    pts.append((x_of(sc[0]), s))
            pts.sort()
            if not pts:
                continue
            x = [p for p, _ in pts]
            mean = [s[0] for _, s in pts]
            err = [[s[0] - s[1] for _, s in pts], [s[2] - s[0] for _, s in pts]]
            ax.errorbar(x, mean, yerr=err, fmt="o-", capsize=3, ms=4, label=variant[0])
        ax.set_xscale("log")
        ax.set_title(f"{tok}, T = {T}: final val perplexity")
        ax.set_xlabel(x_label)
        ax.set_ylabel("val perplexity (min/max over seeds)")
        ax.legend(fontsize=7)
    return save(fig, study_dir, name)


def plot_throughput(plt, study_dir, tput):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for (size, variant), cells in groups(tput, ["size", "variant"]).items():
        cells = sorted(cells, key=lambda r: int(r["seq_len"]))
        T = [int(r["seq_len"]) for r in cells]
        line = axes[0].plot(T, [num(r["tokens_per_s"]) for r in cells], "o-", label=f"{size} {variant}")
        color = line[0].get_color()
        axes[1].plot(T, [num(r["peak_rss_mib"]) for r in cells], "o-", color=color,
                     label=f"{size} {variant} peak RSS")
        axes[1].plot(T, [num(r["plan_mib"]) for r in cells], "s--", color=color, ms=3,
                     label=f"{size} {variant} planned")
    for ax, title in zip(axes, ("tokens/s", "memory of rank 0 (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length T")
        ax.set_title(title)
        ax.legend(fontsize=7)
    return save(fig, study_dir, "throughput")


def branch_names(block):
    if block == "pha":
        return list(BRANCHES)
    return [b for b in BRANCHES if b in block.replace("attn", "attention").split("+")]


def plot_mixing(plt, study_dir, train, metrics):
    cells = [r for r in train if r["block"] != "serial" and len(branch_names(r["block"])) > 1]
    if not cells:
        return []
    fig, axes = panel_grid(plt, len(cells), width=3.6, height=2.8, cols=min(len(cells), 5))
    colors = {"attention": "tab:blue", "gss": "tab:orange", "ffn": "tab:green"}
    styles = ["-", "--", ":", "-."]
    for ax, r in zip(axes, cells):
        steps, _ = metrics[r["cell"]]
        names = branch_names(r["block"])
        per_step = tokens_per_step(r)
        x = [s["step"] * per_step for s in steps]
        layers = int(r["layers"])
        for layer in range(layers):
            series = [s.get("mixing_weights", [])[layer] if len(s.get("mixing_weights", [])) > layer else []
                      for s in steps]
            if not series or not series[-1]:
                continue
            per = len(series[-1]) // len(names)  # the channel mixer: the mean over channels
            for b, name in enumerate(names):
                ys = [sum(w[b * per:(b + 1) * per]) / per if len(w) == per * len(names) else float("nan")
                      for w in series]
                ax.plot(x, ys, styles[layer % len(styles)], color=colors[name], lw=1,
                        label=f"L{layer} {name}" if layer < 2 else None)
        ax.set_title(r["cell"], fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("tokens", fontsize=7)
        ax.legend(fontsize=5, ncol=2)
    return save(fig, study_dir, "mixing")


def figures(study_dir, rows):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"plot_study: matplotlib is not available ({e}): figures skipped", file=sys.stderr)
        return None
    os.makedirs(os.path.join(study_dir, "figures"), exist_ok=True)
    train = [r for r in rows if r["kind"] == "train" and r["status"] in ("done", "partial")]
    tput = [r for r in rows if r["kind"] == "throughput" and r["status"] == "done"]
    metrics = {r["cell"]: read_metrics(study_dir, r) for r in train}
    written = []
    if train:
        written += plot_loss_curves(plt, study_dir, train, metrics)
        done = [r for r in train if r["status"] == "done"]
        if done:
            written += plot_final_ppl(plt, study_dir, done, lambda r: int(r["params"]), "parameters",
                                      "final_ppl")
            written += plot_final_ppl(plt, study_dir, done, train_flops,
                                      "training FLOPs (model FLOPs per token x tokens)", "final_ppl_flops")
        written += plot_mixing(plt, study_dir, train, metrics)
    if tput:
        written += plot_throughput(plt, study_dir, tput)
    plt.close("all")
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("study_dir")
    ap.add_argument("--no-figures", action="store_true", help="write study.md only")
    a = ap.parse_args()
    rows = read_rows(a.study_dir)
    md = os.path.join(a.study_dir, "study.md")
    with open(md, "w") as f:
        f.write(markdown(rows))
    print(f"plot_study: wrote {md}")
    if a.no_figures:
        return
    written = figures(a.study_dir, rows)
    if written is None:
        sys.exit(2)
    for path in written:
        print(f"plot_study: wrote {path}")


if __name__ == "__main__":
    main()
