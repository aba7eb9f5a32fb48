#!/usr/bin/python3
"""Independent PyTorch reference of the PHA model (../../../shared/spec/model.md).

Written from the spec only: it shares no code with the C++ trainer, and its gradients come from
torch autograd. Parameter names (module.named_parameters()) are exactly the spec's names.

CLI (see README.md for the file schemas):
  pha_ref.py init   --out W.h5 [--preset tiny|small|pha-125m] [--d ...] [--seed S]
  pha_ref.py tokens --out TOK.h5 --batch B --seq T --vocab V [--seed S]
  pha_ref.py run    --weights W.h5 --tokens TOK.h5 --out OUT.h5 [--conv fft|direct]
                    [--dtype float32|float64]
"""
import argparse
import dataclasses
import math
import sys

import numpy as np
import torch
import torch.nn as nn

EPS = 1e-5
ROPE_BASE = 10000.0
BRANCHES = ("attention", "gss", "ffn")  # the mixer's order of branches
ATTR = {"attention": "attn", "gss": "gss", "ffn": "ffn"}  # branch -> submodule (parameter prefix)


@dataclasses.dataclass
class Config:
    d: int
    n_q: int
    n_kv: int
    d_ff: int
    F: int
    H: int
    N: int
    L: int
    V: int  # padded vocabulary: every row takes part in the softmax
    d_h: int = 0  # 0 means d / n_q
    block: str = "pha"  # "pha", "serial", or "+"-joined branches, e.g. "attention+ffn"
    mixer: str = "softmax"  # softmax | scalar | channel
    attn_window: int = 0  # 0 = full causal attention
    tie_embeddings: bool = True

    def __post_init__(self):
        if self.d_h == 0:
            self.d_h = self.d // self.n_q
        if self.n_q % self.n_kv:
            raise ValueError(f"n_q={self.n_q} is not a multiple of n_kv={self.n_kv}")
        if self.d_h % 2:
            raise ValueError(f"RoPE needs an even head width, d_h={self.d_h}")
        if self.mixer not in ("softmax", "scalar", "channel"):
            raise ValueError(f"unknown mixer '{self.mixer}'")
        if not self.tie_embeddings:
            raise ValueError("tie_embeddings=false: the spec names no untied head parameter")
        self.branches()  # validates block

    def branches(self):
        """Active branches in mixer order; ("serial",) for the pre-norm transformer block."""
        if self.block == "serial":
            return ("serial",)
        names = BRANCHES if self.block == "pha" else tuple(self.block.split("+"))
        if not names or any(n not in BRANCHES for n in names) or len(set(names)) != len(names):
            raise ValueError(f"unknown block '{self.block}': use pha, serial, or a '+'-joined "
                             f"subset of {BRANCHES}")
        return tuple(b for b in BRANCHES if b in names)


PRESETS = {
    "tiny": dict(d=256, n_q=8, n_kv=2, d_ff=768, F=384, H=64, N=64, L=4, V=512),
    "small": dict(d=512, n_q=8, n_kv=4, d_ff=1536, F=768, H=128, N=256, L=6, V=8192),
    "pha-125m": dict(d=768, n_q=12, n_kv=4, d_h=64, d_ff=2048, F=1024, H=256, N=512, L=12,
                     V=50304),
}


def gelu(x):
    """GELU, tanh approximation."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def param(shape, device=None):
    return nn.Parameter(torch.empty(shape, dtype=torch.float64, device=device))


class RMSNorm(nn.Module):
    def __init__(self, d, device=None):
        super().__init__()
        self.weight = param((d,), device)

    def forward(self, x):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + EPS) * self.weight


class LayerNorm(nn.Module):
    """LayerNorm over the last dim, biased variance."""

    def __init__(self, n, device=None):
        super().__init__()
        self.weight = param((n,), device)
        self.bias = param((n,), device)

    def forward(self, x):
        mean = x.mean(-1, keepdim=True)
        var = ((x - mean) ** 2).mean(-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + EPS) * self.weight + self.bias


def rope_tables(T, d_h, dtype, device):
    """cos, sin [T, d_h/2]: angles p * theta_i and their cos/sin in float64, then rounded."""
    i = torch.arange(d_h // 2, dtype=torch.float64)
    theta = ROPE_BASE ** (-2.0 * i / d_h)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * theta[None, :]
    return torch.cos(angle).to(dtype).to(device), torch.sin(angle).to(dtype).to(device)


def rope(x, cos, sin):
    """Half-split RoPE on x [B, T, heads, d_h]: pairs (x_i, x_{i + d_h/2})."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg, device=None):
        super().__init__()
        self.cfg = cfg
        self.wq = param((cfg.n_q * cfg.d_h, cfg.d), device)
        self.wk = param((cfg.n_kv * cfg.d_h, cfg.d), device)
        self.wv = param((cfg.n_kv * cfg.d_h, cfg.d), device)
        self.wo = param((cfg.d, cfg.n_q * cfg.d_h), device)

    def forward(self, h):
        cfg = self.cfg
        B, T, _ = h.shape
        q = (h @ self.wq.T).view(B, T, cfg.n_q, cfg.d_h)
        k = (h @ self.wk.T).view(B, T, cfg.n_kv, cfg.d_h)
        v = (h @ self.wv.T).view(B, T, cfg.n_kv, cfg.d_h)
        cos, sin = rope_tables(T, cfg.d_h, h.dtype, h.device)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        # Query head j reads kv head j // (n_q / n_kv): repeat_interleave gives that grouping.
        group = cfg.n_q // cfg.n_kv
        k = k.repeat_interleave(group, dim=2)
        v = v.repeat_interleave(group, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, n_q, T, d_h]
        scores = q @ k.transpose(-1, -2) / math.sqrt(cfg.d_h)  # [B, n_q, T, T]
        t = torch.arange(T, device=h.device)
        lag = t[:, None] - t[None, :]  # query position minus key position
        allowed = lag >= 0
        if cfg.attn_window > 0:
            allowed &= lag < cfg.attn_window
        scores = scores.masked_fill(~allowed, float("-inf"))
        o = torch.softmax(scores, dim=-1) @ v  # [B, n_q, T, d_h]
        return o.transpose(1, 2).reshape(B, T, cfg.n_q * cfg.d_h) @ self.wo.T


def dss_kernel(lambda_re, lambda_im, c_re, c_im, T):
    """Simplified DSS kernel K [T, H] through complex arithmetic (complex128 for float64 inputs)."""
    lam = torch.complex(-torch.exp(lambda_re), torch.exp(lambda_im))  # [N]
    ct = torch.complex(c_re, c_im) * (torch.exp(lam) - 1) / lam  # [H, N]
    t = torch.arange(T, dtype=lambda_re.dtype, device=lambda_re.device)
    powers = torch.exp(lam[None, :] * t[:, None])  # [T, N]
    return (powers @ ct.T).real  # [T, H]


def causal_conv(K, x, mode):
    """c[b, t, h] = sum_{s <= t} K[t - s, h] x[b, s, h] for K [T, H], x [B, T, H]."""
    T = x.shape[1]
    if mode == "fft":
        n = 2 * T  # zero padding to 2T makes the circular convolution linear
        kf = torch.fft.rfft(K, n=n, dim=0)
        xf = torch.fft.rfft(x, n=n, dim=1)
        return torch.fft.irfft(xf * kf[None], n=n, dim=1)[:, :T]
    if mode == "direct":
        t = torch.arange(T, device=x.device)
        lag = t[:, None] - t[None, :]  # [t, s]
        toeplitz = K[lag.clamp(min=0)] * (lag >= 0)[:, :, None].to(K.dtype)  # [T, T, H]
        return torch.einsum("tsh,bsh->bth", toeplitz, x)
    raise ValueError(f"unknown conv mode '{mode}': use fft or direct")


class GSS(nn.Module):
    def __init__(self, cfg, device=None):
        super().__init__()
        self.wu = param((cfg.F, cfg.d), device)
        self.wz = param((cfg.H, cfg.d), device)
        self.wg = param((cfg.F, cfg.H), device)
        self.wo = param((cfg.d, cfg.F), device)
        self.norm = LayerNorm(cfg.H, device)
        self.lambda_re = param((cfg.N,), device)
        self.lambda_im = param((cfg.N,), device)
        self.c_re = param((cfg.H, cfg.N), device)
        self.c_im = param((cfg.H, cfg.N), device)
        self.d = param((cfg.H,), device)
        self.conv = "fft"

    def forward(self, h):
        u = gelu(h @ self.wu.T)  # [B, T, F]
        zn = self.norm(gelu(h @ self.wz.T))  # [B, T, H]
        K = dss_kernel(self.lambda_re, self.lambda_im, self.c_re, self.c_im, h.shape[1])
        y = causal_conv(K, zn, self.conv) + self.d * zn
        return ((y @ self.wg.T) * u) @ self.wo.T


class FFN(nn.Module):
    def __init__(self, cfg, device=None):
        super().__init__()
        self.w1 = param((cfg.d_ff, cfg.d), device)
        self.w2 = param((cfg.d, cfg.d_ff), device)

    def forward(self, h):
        return gelu(h @ self.w1.T) @ self.w2.T


class Mixer(nn.Module):
    def __init__(self, cfg, n_active, device=None):
        super().__init__()
        self.kind = cfg.mixer
        self.alpha = param((n_active, cfg.d) if cfg.mixer == "channel" else (n_active,), device)

    def forward(self, outputs):
        if self.kind == "scalar":
            w = self.alpha
        else:  # softmax over branches; per channel for "channel"
            w = torch.softmax(self.alpha, dim=0)
        return sum(w[i] * out for i, out in enumerate(outputs))


class Block(nn.Module):
    def __init__(self, cfg, device=None):
        super().__init__()
        self.branches = cfg.branches()
        if self.branches == ("serial",):
            self.attn_norm = RMSNorm(cfg.d, device)
            self.attn = Attention(cfg, device)
            self.ffn_norm = RMSNorm(cfg.d, device)
            self.ffn = FFN(cfg, device)
            return
        self.norm = RMSNorm(cfg.d, device)
        self.mixer = Mixer(cfg, len(self.branches), device)
        if "attention" in self.branches:
            self.attn = Attention(cfg, device)
        if "gss" in self.branches:
            self.gss = GSS(cfg, device)
        if "ffn" in self.branches:
            self.ffn = FFN(cfg, device)

    def forward(self, x):
        if self.branches == ("serial",):
            x = x + self.attn(self.attn_norm(x))
            return x + self.ffn(self.ffn_norm(x))
        h = self.norm(x)
        return x + self.mixer([getattr(self, ATTR[b])(h) for b in self.branches])


class PHA(nn.Module):
    def __init__(self, cfg, device=None):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Module()
        self.embedding.weight = param((cfg.V, cfg.d), device)
        self.layers = nn.ModuleList([Block(cfg, device) for _ in range(cfg.L)])
        self.final_norm = RMSNorm(cfg.d, device)

    def set_conv(self, mode):
        for m in self.modules():
            if isinstance(m, GSS):
                m.conv = mode

    def forward(self, tokens):
        """tokens int64 [B, T] -> (loss scalar, logits [B, T, V])."""
        x = self.embedding.weight[tokens]
        for layer in self.layers:
            x = layer(x)
        logits = self.final_norm(x) @ self.embedding.weight.T
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        loss = -logp.gather(-1, tokens[:, 1:, None]).mean()
        return loss, logits


def random_weights(model, seed):
    """Random values for every parameter, never zeros, scaled so activations are O(1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, p in model.named_parameters():
        leaf = name.split(".")[-1]
        shape = tuple(p.shape)
        if name == "embedding.weight" or leaf in ("wq", "wk", "wv", "wo", "wu", "wz", "wg", "w1",
                                                  "w2"):
            v = rng.normal(0.0, 1.0 / math.sqrt(shape[1]), shape)
        elif leaf == "alpha" and model.cfg.mixer == "scalar":
            v = rng.normal(1.0, 0.3, shape)
        elif leaf == "alpha":
            v = rng.normal(0.0, 0.5, shape)
        elif name.endswith("norm.weight"):
            v = rng.normal(1.0, 0.2, shape)
        elif name.endswith("norm.bias"):
            v = rng.normal(0.0, 0.2, shape)
        elif leaf in ("lambda_re", "lambda_im", "c_re", "c_im", "d"):
            v = rng.normal(0.0, 1.0, shape)  # the spec's "random" DSS init
        else:
            raise AssertionError(f"no init rule for {name}")
        out[name] = v.astype(np.float32)
    return out


# ---- files ----------------------------------------------------------------------------------

INT_KEYS = ("d", "n_q", "n_kv", "d_h", "d_ff", "F", "H", "N", "L", "V", "attn_window")


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def config_from_attrs(attrs):
    """Config from root attributes; each may be an integer or its decimal text."""
    missing = [k for k in INT_KEYS + ("block", "mixer") if k not in attrs]
    if missing:
        raise SystemExit(f"weights file lacks root attributes {missing}; see tests/reference/README.md")
    kw = {k: int(_text(attrs[k])) for k in INT_KEYS}
    kw["block"], kw["mixer"] = _text(attrs["block"]), _text(attrs["mixer"])
    tie = _text(attrs.get("tie_embeddings", "1")).lower()
    kw["tie_embeddings"] = tie in ("1", "true")
    return Config(**kw)


def write_weights(path, cfg, weights):
    import h5py
    with h5py.File(path, "w") as f:
        for k in INT_KEYS:
            f.attrs[k] = np.int64(getattr(cfg, k))
        f.attrs["block"], f.attrs["mixer"] = cfg.block, cfg.mixer
        f.attrs["tie_embeddings"] = np.int64(cfg.tie_embeddings)
        for name, v in weights.items():
            f.create_dataset(f"model/{name}", data=v)


def load_model(path, dtype):
    import h5py
    with h5py.File(path, "r") as f:
        cfg = config_from_attrs(dict(f.attrs))
        model = PHA(cfg)
        with torch.no_grad():
            for name, p in model.named_parameters():
                key = f"model/{name}"
                if key not in f:
                    raise SystemExit(f"{path}: missing dataset /{key}")
                if tuple(f[key].shape) != tuple(p.shape):
                    raise SystemExit(f"{path}: /{key} has shape {f[key].shape}, the config "
                                     f"needs {tuple(p.shape)}")
                p.copy_(torch.from_numpy(np.asarray(f[key][...], dtype=np.float64)))
    return model.to(dtype)


def config_from_args(a):
    kw = dict(PRESETS[a.preset]) if a.preset else {}
    for k in INT_KEYS:
        if getattr(a, k, None) is not None:
            kw[k] = getattr(a, k)
    kw["block"], kw["mixer"] = a.block, a.mixer
    missing = [k for k in ("d", "n_q", "n_kv", "d_ff", "F", "H", "N", "L", "V") if k not in kw]
    if missing:
        raise SystemExit(f"init: give --preset or all of {missing}")
    return Config(**kw)


def cmd_init(a):
    cfg = config_from_args(a)
    model = PHA(cfg, device="meta")
    write_weights(a.out, cfg, random_weights(model, a.seed))


def cmd_tokens(a):
    import h5py
    rng = np.random.default_rng(a.seed)
    with h5py.File(a.out, "w") as f:
        f["tokens"] = rng.integers(0, a.vocab, size=(a.batch, a.seq), dtype=np.int32)


def cmd_run(a):
    import h5py
    dtype = {"float32": torch.float32, "float64": torch.float64}[a.dtype]
    model = load_model(a.weights, dtype)
    model.set_conv(a.conv)
    with h5py.File(a.tokens, "r") as f:
        tokens = torch.from_numpy(np.asarray(f["tokens"][...], dtype=np.int64))
    if tokens.ndim != 2 or tokens.min() < 0 or tokens.max() >= model.cfg.V:
        raise SystemExit(f"{a.tokens}: /tokens must be [B, T] in [0, {model.cfg.V})")
    loss, logits = model(tokens)
    loss.backward()
    with h5py.File(a.out, "w") as f:
        f["loss"] = np.float64(loss.item())
        f["logits"] = logits.detach().numpy()
        for name, p in model.named_parameters():
            f[f"grad/{name}"] = p.grad.numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init", help="write random weights for a config")
    p.add_argument("--out", required=True)
    p.add_argument("--preset", choices=sorted(PRESETS))
    for k in INT_KEYS:
        p.add_argument(f"--{k}", type=int)
    p.add_argument("--block", default="pha")
    p.add_argument("--mixer", default="softmax")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("tokens", help="write random tokens")
    p.add_argument("--out", required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq", type=int, required=True)
    p.add_argument("--vocab", type=int, required=True, help="tokens are drawn from [0, vocab)")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("run", help="loss, logits and every gradient")
    p.add_argument("--weights", required=True)
    p.add_argument("--tokens", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--conv", choices=("fft", "direct"), default="fft")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    a = ap.parse_args(argv)
    {"init": cmd_init, "tokens": cmd_tokens, "run": cmd_run}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
