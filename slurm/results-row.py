#!/usr/bin/python3
"""Appends one results row of a finished (or preempted, or failed) pha run to a CSV shared by the
tasks of a job array; the first row brings the header. The tasks append concurrently: flock.

  results-row.py CSV RUN_DIR STATUS JOB [NAME=VALUE ...]

The NAME=VALUE pairs (what the task varied: seq_len=256, layout=2x1x2, ...) come first, then what
the run measured: parameters (from weights.h5), steps, final training loss, last validation loss,
median tokens/s, MFU, communication and pipeline-wait fractions after the first fifth of the steps
(warm-up), peak RSS of rank 0, then STATUS and JOB.
"""
import fcntl
import json
import os
import statistics
import sys

MEASURED = ["params", "steps", "final_loss", "val_loss", "tokens_per_s", "mfu", "peak_rss_mib",
            "peak_device_mib", "comm_fraction", "pipeline_wait_fraction", "status", "job"]


def parameters(run):
    """The parameter count: the sizes of every dataset of the exported weights."""
    try:
        import h5py
        with h5py.File(os.path.join(run, "weights.h5"), "r") as f:
            sizes = []
            f.visititems(lambda _, v: sizes.append(v.size) if isinstance(v, h5py.Dataset) else None)
            return str(sum(sizes))
    except (OSError, ImportError):
        return ""


def measured(run, status, job):
    steps, evals = [], []
    try:
        with open(os.path.join(run, "metrics.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                (steps if r["kind"] == "step" else evals).append(r)
    except OSError:
        pass
    timed = steps[len(steps) // 5:] or steps

    def med(k):
        v = [r[k] for r in timed if k in r]
        return f"{statistics.median(v):.6g}" if v else ""

    last = steps[-1] if steps else {}
    val = [r["val_loss"] for r in evals if "val_loss" in r]
    peak = max((r.get("peak_rss_mib", 0) for r in steps), default=None)
    device = max((r["peak_device_mib"] for r in steps if "peak_device_mib" in r), default=None)
    return [parameters(run), str(last.get("step", "")),
            f"{last['loss']:.6f}" if last else "", f"{val[-1]:.6f}" if val else "",
            med("tokens_per_s"), med("mfu"), f"{peak:.1f}" if peak is not None else "",
            f"{device:.1f}" if device is not None else "", med("comm_fraction"), med("pipeline_wait_fraction"), status, job]


def main():
    if len(sys.argv) < 5 or any("=" not in a for a in sys.argv[5:]):
        sys.exit(__doc__)
    path, run, status, job = sys.argv[1:5]
    varied = [a.split("=", 1) for a in sys.argv[5:]]
    header = ",".join([k for k, _ in varied] + MEASURED)
    row = ",".join([v for _, v in varied] + measured(run, status, job))
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        first = f.readline().strip()
        if not first:
            f.write(header + "\n")
        elif first != header:
            sys.exit(f"{path}: its header '{first}' is not this row's '{header}'")
        f.write(row + "\n")
    print(row)


if __name__ == "__main__":
    main()
