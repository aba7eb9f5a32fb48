#!/usr/bin/python3
"""Training-step throughput of the PyTorch reference (forward + backward, float32, CPU).

  /usr/bin/python3 tests/reference/bench_ref.py --preset tiny --seq 256 --batch 4 --threads 2

Prints one JSON object: tokens/s over the timed steps (after warm-up), seconds per step, and the
process's peak resident set size. Optimiser time is not included: the reference has no optimiser.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pha_ref  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", choices=sorted(pha_ref.PRESETS), default="tiny")
    ap.add_argument("--block", default="pha")
    ap.add_argument("--mixer", default="softmax")
    ap.add_argument("--seq", type=int, default=256, help="T")
    ap.add_argument("--batch", type=int, default=4, help="B")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--conv", choices=("fft", "direct"), default="fft")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    cfg = pha_ref.Config(**pha_ref.PRESETS[a.preset], block=a.block, mixer=a.mixer)
    model = pha_ref.PHA(cfg, device="meta")
    weights = pha_ref.random_weights(model, a.seed)
    model = pha_ref.PHA(cfg).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(weights[name]))
    model.set_conv(a.conv)
    rng = np.random.default_rng(a.seed + 1)
    tokens = torch.from_numpy(rng.integers(0, cfg.V, (a.batch, a.seq)))

    def step():
        model.zero_grad(set_to_none=True)
        loss, _ = model(tokens)
        loss.backward()
        return loss.item()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    seconds = (time.perf_counter() - start) / a.steps
    print(json.dumps({
        "preset": a.preset, "block": a.block, "mixer": a.mixer, "conv": a.conv,
        "T": a.seq, "B": a.batch, "threads": a.threads, "steps": a.steps,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds_per_step": seconds, "tokens_per_s": a.batch * a.seq / seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "loss": loss, "torch": torch.__version__,
    }))


if __name__ == "__main__":
    sys.exit(main())
