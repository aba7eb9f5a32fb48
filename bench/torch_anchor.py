#!/usr/bin/python3
"""The strongest PyTorch CPU configuration of the reference model (tests/reference/pha_ref.py):
the same model, parameters and step (forward + backward, float32), with
  - attention: F.scaled_dot_product_attention(is_causal=True, enable_gqa=True): fused, no [T, T]
    scores for all heads kept for backward, K/V not repeated (the reference builds the full
    [B, n_q, T, T] scores and repeat_interleaves K/V);
  - F.gelu(approximate="tanh"), F.rms_norm, F.layer_norm, F.cross_entropy instead of composed ops;
  - optionally torch.compile (Inductor) of the whole model (--compile on, or auto: falls back to
    eager, and says so, when compiling fails); off by default, as it measured slower than eager on
    this machine (docs/results.md).
Needs PyTorch >= 2.5 (SDPA with enable_gqa); bench/model_vs_torch.sh runs it from the private
install /opt/pha-torch (see docs/results.md). Prints one JSON object like bench_ref.py.

  bench/torch_anchor.py --preset small --seq 512 --batch 4 --threads 2
  bench/torch_anchor.py --check      # anchor == reference (loss, every gradient) in float64
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import pha_ref  # noqa: E402


def attention_forward(self, h):
    cfg = self.cfg
    B, T, _ = h.shape
    q = (h @ self.wq.T).view(B, T, cfg.n_q, cfg.d_h)
    k = (h @ self.wk.T).view(B, T, cfg.n_kv, cfg.d_h)
    v = (h @ self.wv.T).view(B, T, cfg.n_kv, cfg.d_h)
    cos, sin = pha_ref.rope_tables(T, cfg.d_h, h.dtype, h.device)
    q, k = pha_ref.rope(q, cos, sin), pha_ref.rope(k, cos, sin)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, heads, T, d_h]
    if cfg.attn_window > 0:
        t = torch.arange(T, device=h.device)
        lag = t[:, None] - t[None, :]
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=(lag >= 0) & (lag < cfg.attn_window),
                                           enable_gqa=True)
    else:
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    return o.transpose(1, 2).reshape(B, T, cfg.n_q * cfg.d_h) @ self.wo.T


def rmsnorm_forward(self, x):
    return F.rms_norm(x, (x.shape[-1],), self.weight, pha_ref.EPS)


def layernorm_forward(self, x):
    return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, pha_ref.EPS)


def model_forward(self, tokens):
    x = self.embedding.weight[tokens]
    for layer in self.layers:
        x = layer(x)
    logits = self.final_norm(x) @ self.embedding.weight.T
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                           tokens[:, 1:].reshape(-1))
    return loss, logits


def use_fused_ops():
    """Rebinds the reference's ops to PyTorch's fused ones (same math)."""
    pha_ref.gelu = lambda x: F.gelu(x, approximate="tanh")
    pha_ref.Attention.forward = attention_forward
    pha_ref.RMSNorm.forward = rmsnorm_forward
    pha_ref.LayerNorm.forward = layernorm_forward
    pha_ref.PHA.forward = model_forward


def make_model(preset, block, seed, dtype, **overrides):
    cfg = pha_ref.Config(**{**pha_ref.PRESETS[preset], **overrides}, block=block)
    weights = pha_ref.random_weights(pha_ref.PHA(cfg, device="meta"), seed)
    model = pha_ref.PHA(cfg).to(dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(weights[name]))
    return cfg, model


def loss_and_grads(model, tokens):
    model.zero_grad(set_to_none=True)
    loss, _ = model(tokens)
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}


def check():
    """The anchor computes the reference's loss and gradients (float64, tiny preset, 2 layers)."""
    worst = 0.0
    for block in ("pha", "serial", "gss+ffn"):
        _, model = make_model("tiny", block, 3, torch.float64, L=2)
        tokens = torch.from_numpy(np.random.default_rng(4).integers(0, 512, (2, 37)))
        saved = (pha_ref.gelu, pha_ref.Attention.forward, pha_ref.RMSNorm.forward,
                 pha_ref.LayerNorm.forward, pha_ref.PHA.forward)
        ref_loss, ref_grads = loss_and_grads(model, tokens)
        use_fused_ops()
        loss, grads = loss_and_grads(model, tokens)
        (pha_ref.gelu, pha_ref.Attention.forward, pha_ref.RMSNorm.forward,
         pha_ref.LayerNorm.forward, pha_ref.PHA.forward) = saved
        err = abs(loss - ref_loss) / abs(ref_loss)
        for n, g in ref_grads.items():
            err = max(err, ((grads[n] - g).norm() / g.norm().clamp_min(1e-300)).item())
        print(f"  {block}: worst relative error (loss, every gradient) {err:.2e}")
        worst = max(worst, err)
    ok = worst < 1e-10
    print("anchor == reference" if ok else "anchor differs from the reference")
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", choices=sorted(pha_ref.PRESETS), default="tiny")
    ap.add_argument("--block", default="pha")
    ap.add_argument("--seq", type=int, default=256, help="T")
    ap.add_argument("--batch", type=int, default=4, help="B")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--steps", type=int, default=3, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps (compilation runs here)")
    ap.add_argument("--compile", choices=("auto", "on", "off"), default="off",
                    help="torch.compile; off by default: measured slower than eager here "
                    "(docs/results.md)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="store_true", help="compare with the reference and exit")
    a = ap.parse_args(argv)
    if not hasattr(F, "scaled_dot_product_attention") or not hasattr(F, "rms_norm"):
        sys.exit(f"torch_anchor.py: PyTorch {torch.__version__} lacks scaled_dot_product_attention "
                 "or rms_norm; it needs PyTorch >= 2.5 (docs/results.md says how to install it)")
    torch.set_num_threads(a.threads)
    if a.check:
        return check()
    use_fused_ops()
    cfg, model = make_model(a.preset, a.block, a.seed, torch.float32)
    tokens = torch.from_numpy(np.random.default_rng(a.seed + 1).integers(0, cfg.V, (a.batch, a.seq)))

    compiled, compile_note = False, "off"
    run = model
    if a.compile != "off":
        run = torch.compile(model)
        compiled, compile_note = True, "inductor"

    def step():
        model.zero_grad(set_to_none=True)
        loss, _ = run(tokens)
        loss.backward()
        return loss.item()

    try:
        for _ in range(a.warmup):
            step()
    except Exception as e:  # noqa: BLE001 - any compiler failure falls back to eager
        if a.compile == "on":
            raise
        run, compiled = model, False
        compile_note = f"failed, eager: {type(e).__name__}: {str(e).splitlines()[0][:120]}"
        for _ in range(a.warmup):
            step()
    start = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    seconds = (time.perf_counter() - start) / a.steps
    print(json.dumps({
        "impl": "torch-anchor", "preset": a.preset, "block": a.block, "T": a.seq, "B": a.batch,
        "threads": a.threads, "steps": a.steps, "compiled": compiled, "compile": compile_note,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds_per_step": seconds, "tokens_per_s": a.batch * a.seq / seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "loss": loss, "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
