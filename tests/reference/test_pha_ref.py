#!/usr/bin/python3
"""Self-tests of the PyTorch reference. Run: /usr/bin/python3 tests/reference/test_pha_ref.py
(plain unittest, so it needs no pytest; `/usr/bin/python3 -m pytest` also collects it)."""
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch
from torch.nn.utils.stateless import functional_call

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pha_ref  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# d_h = 6 with n_q = 2 makes the attention width (12) differ from d (8) on purpose.
TINY = dict(d=8, n_q=2, n_kv=1, d_h=6, d_ff=12, F=6, H=4, N=3, L=2, V=16)
BLOCKS = ("pha", "attention", "gss", "ffn", "attention+ffn", "attention+gss", "gss+ffn", "serial")


def make_model(seed=0, dtype=torch.float64, **overrides):
    cfg = pha_ref.Config(**{**TINY, **overrides})
    model = pha_ref.PHA(cfg)
    with torch.no_grad():
        for name, v in pha_ref.random_weights(model, seed).items():
            model.get_parameter(name).copy_(torch.from_numpy(v.astype(np.float64)))
    return model.to(dtype)


def tokens(B, T, V, seed=1):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, V, (B, T)))


def expected_count(c):
    """Closed-form parameter count, written independently of the modules."""
    attn = 2 * c.n_q * c.d_h * c.d + 2 * c.n_kv * c.d_h * c.d
    gss = c.F * c.d + c.H * c.d + c.F * c.H + c.d * c.F + 2 * c.H + 2 * c.N + 2 * c.H * c.N + c.H
    ffn = 2 * c.d * c.d_ff
    if c.block == "serial":
        layer = 2 * c.d + attn + ffn
    else:
        active = c.branches()
        layer = c.d + len(active) * (c.d if c.mixer == "channel" else 1)
        layer += sum({"attention": attn, "gss": gss, "ffn": ffn}[b] for b in active)
    return c.V * c.d + c.L * layer + c.d


class ConvolutionTest(unittest.TestCase):
    def test_fft_equals_direct_sum(self):
        rng = np.random.default_rng(3)
        for T in (1, 2, 5, 16, 33, 100):
            K = torch.from_numpy(rng.normal(size=(T, 4)))
            x = torch.from_numpy(rng.normal(size=(2, T, 4)))
            fft = pha_ref.causal_conv(K, x, "fft")
            direct = pha_ref.causal_conv(K, x, "direct")
            loop = torch.zeros_like(x)  # the definition, term by term
            for t in range(T):
                for s in range(t + 1):
                    loop[:, t] += K[t - s] * x[:, s]
            self.assertLess((fft - direct).norm() / direct.norm(), 1e-13, f"T={T}")
            self.assertLess((loop - direct).norm() / direct.norm(), 1e-13, f"T={T}")

    def test_kernel_matches_numpy(self):
        rng = np.random.default_rng(4)
        N, H, T = 5, 3, 9
        lre, lim = rng.normal(size=N), rng.normal(size=N)
        cre, cim = rng.normal(size=(H, N)), rng.normal(size=(H, N))
        got = pha_ref.dss_kernel(*(torch.from_numpy(a) for a in (lre, lim, cre, cim)), T)
        want = np.zeros((T, H))
        for n in range(N):
            lam = complex(-math.exp(lre[n]), math.exp(lim[n]))
            for h in range(H):
                ct = complex(cre[h, n], cim[h, n]) * (np.exp(lam) - 1) / lam
                for t in range(T):
                    want[t, h] += (ct * np.exp(lam * t)).real
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


class AttentionTest(unittest.TestCase):
    def test_rope_relative_and_identity_at_zero(self):
        rng = np.random.default_rng(5)
        d_h, T = 8, 12
        cos, sin = pha_ref.rope_tables(T, d_h, torch.float64, "cpu")
        x = torch.from_numpy(rng.normal(size=(1, T, 1, d_h)))
        y = pha_ref.rope(x, cos, sin)
        torch.testing.assert_close(y[:, 0], x[:, 0], rtol=0, atol=0)
        # Pair (x_1, x_5) at position 3 rotates by 3 * 10000^(-2/8).
        a = 3 * 10000 ** (-2 / 8)
        want = (x[0, 3, 0, 1] * math.cos(a) - x[0, 3, 0, 5] * math.sin(a)).item()
        self.assertAlmostEqual(y[0, 3, 0, 1].item(), want, places=12)
        q = torch.from_numpy(rng.normal(size=d_h)).expand(1, T, 1, d_h)
        k = torch.from_numpy(rng.normal(size=d_h)).expand(1, T, 1, d_h)
        rq, rk = pha_ref.rope(q, cos, sin), pha_ref.rope(k, cos, sin)
        self.assertAlmostEqual((rq[0, 7, 0] @ rk[0, 4, 0]).item(),
                               (rq[0, 5, 0] @ rk[0, 2, 0]).item(), places=12)

    def test_gqa_grouping_equals_duplicated_heads(self):
        gqa = make_model(block="attention", n_q=4, n_kv=2, d_h=4, L=1)
        mha = make_model(block="attention", n_q=4, n_kv=4, d_h=4, L=1)
        with torch.no_grad():
            for name in ("wq", "wo"):
                getattr(mha.layers[0].attn, name).copy_(getattr(gqa.layers[0].attn, name))
            for name in ("wk", "wv"):  # query head j reads kv head j // 2: kv heads 0, 0, 1, 1
                w = getattr(gqa.layers[0].attn, name).view(2, 4, -1)
                getattr(mha.layers[0].attn, name).copy_(w.repeat_interleave(2, 0).reshape(16, -1))
            mha.embedding.weight.copy_(gqa.embedding.weight)
            mha.final_norm.weight.copy_(gqa.final_norm.weight)
            mha.layers[0].norm.weight.copy_(gqa.layers[0].norm.weight)
            mha.layers[0].mixer.alpha.copy_(gqa.layers[0].mixer.alpha)
        tok = tokens(2, 7, TINY["V"])
        torch.testing.assert_close(mha(tok)[1], gqa(tok)[1], rtol=1e-12, atol=1e-12)

    def test_window_limits_reach(self):
        W, T = 3, 9
        model = make_model(block="attention", attn_window=W, L=1)
        tok = tokens(1, T, TINY["V"])
        base = model(tok)[1]
        for s in range(T):
            changed = tok.clone()
            changed[0, s] = (changed[0, s] + 1) % TINY["V"]
            diff = (model(changed)[1] - base).abs().amax(-1)[0]
            for t in range(T):
                self.assertEqual(bool(diff[t] > 0), s <= t < s + W, f"s={s} t={t}")


class ModelTest(unittest.TestCase):
    def test_causality(self):
        T = 10
        for conv, dtype, tol in (("direct", torch.float64, 0.0), ("fft", torch.float32, 1e-5)):
            model = make_model(dtype=dtype, attn_window=4)
            model.set_conv(conv)
            tok = tokens(2, T, TINY["V"])
            base = model(tok)[1].detach()
            for t in range(T):
                changed = tok.clone()
                changed[:, t] = (changed[:, t] + 3) % TINY["V"]
                out = model(changed)[1].detach()
                if tol == 0:
                    self.assertTrue(torch.equal(out[:, :t], base[:, :t]), f"{conv} t={t}")
                else:
                    err = (out[:, :t] - base[:, :t]).norm() / max(base[:, :t].norm(), 1e-30)
                    self.assertLessEqual(err.item(), tol, f"{conv} t={t}")
                if t < T - 1:
                    self.assertFalse(torch.equal(out[:, t], base[:, t]), "token t changes logits t")

    def test_fft_and_direct_models_agree(self):
        model = make_model()
        tok = tokens(2, 11, TINY["V"])
        fft = model(tok)[1]
        model.set_conv("direct")
        torch.testing.assert_close(model(tok)[1], fft, rtol=1e-12, atol=1e-12)

    def test_loss_is_mean_cross_entropy_over_all_rows(self):
        model = make_model()
        tok = tokens(3, 6, TINY["V"])
        loss, logits = model(tok)
        want = 0.0
        for b in range(3):
            for t in range(5):
                row = logits[b, t]
                want += (torch.logsumexp(row, 0) - row[tok[b, t + 1]]).item()
        self.assertAlmostEqual(loss.item(), want / 15, places=12)

    def test_scalar_mixer_with_one_hot_alpha_selects_a_branch(self):
        full = make_model(block="pha", mixer="scalar", L=1)
        attn = make_model(block="attention", mixer="scalar", L=1)
        with torch.no_grad():
            full.layers[0].mixer.alpha.copy_(torch.tensor([1.0, 0.0, 0.0]))
            attn.layers[0].mixer.alpha.fill_(1.0)
            for name, p in attn.named_parameters():
                if not name.endswith("alpha"):
                    p.copy_(full.get_parameter(name))
        tok = tokens(2, 5, TINY["V"])
        torch.testing.assert_close(full(tok)[1], attn(tok)[1], rtol=1e-12, atol=1e-12)

    def gradcheck(self, fast, L, block, mixer="softmax", conv="fft", window=0):
        """torch.autograd.gradcheck of the loss with respect to every parameter."""
        model = make_model(block=block, mixer=mixer, attn_window=window, L=L)
        model.set_conv(conv)
        names = [n for n, _ in model.named_parameters()]
        inputs = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
        tok = tokens(2, 5, TINY["V"])

        def loss(*ps):
            return functional_call(model, dict(zip(names, ps)), (tok,))[0]

        self.assertTrue(torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-7, rtol=1e-5,
                                                 fast_mode=fast))

    def test_gradcheck_full_jacobian(self):
        # Every element of every parameter; one layer keeps this to ~25 s.
        for args in (("pha", "softmax", "fft", 0), ("pha", "channel", "direct", 2),
                     ("serial", "softmax", "fft", 0)):
            with self.subTest(args=args):
                self.gradcheck(False, 1, *args)

    def test_gradcheck_every_block_and_mixer(self):
        # fast_mode checks a random direction per parameter tensor: cheap enough for two layers
        # and every variant.
        cases = [(b, "softmax", "fft", 0) for b in BLOCKS]
        cases += [("pha", m, c, w) for m in ("scalar", "channel") for c, w in (("fft", 0),
                                                                              ("direct", 2))]
        cases += [("attention+gss", "channel", "fft", 0), ("gss", "scalar", "direct", 0)]
        for args in cases:
            with self.subTest(args=args):
                self.gradcheck(True, 2, *args)

    def test_parameter_names_and_counts(self):
        for block in BLOCKS:
            for mixer in ("softmax", "scalar", "channel"):
                cfg = pha_ref.Config(**{**TINY, "block": block, "mixer": mixer})
                model = pha_ref.PHA(cfg, device="meta")
                got = sum(p.numel() for p in model.parameters())
                self.assertEqual(got, expected_count(cfg), f"{block} {mixer}")
        names = {n for n, _ in pha_ref.PHA(pha_ref.Config(**TINY), device="meta")
                 .named_parameters()}
        self.assertIn("layers.1.gss.norm.bias", names)
        self.assertIn("layers.0.mixer.alpha", names)
        serial = pha_ref.PHA(pha_ref.Config(**{**TINY, "block": "serial"}), device="meta")
        self.assertIn("layers.0.attn_norm.weight", dict(serial.named_parameters()))
        self.assertNotIn("layers.0.mixer.alpha", dict(serial.named_parameters()))
        # The spec's table: pha-90m ~87.7M, pha-125m ~122.8M, pha-180m ~178.9M.
        for L, millions in ((7, 87.7), (12, 122.8), (20, 178.9)):
            cfg = pha_ref.Config(**{**pha_ref.PRESETS["pha-125m"], "L": L})
            count = sum(p.numel() for p in pha_ref.PHA(cfg, device="meta").parameters())
            self.assertEqual(count, expected_count(cfg))
            self.assertAlmostEqual(count / 1e6, millions, places=1)


class CliTest(unittest.TestCase):
    def test_init_tokens_run(self):
        import h5py
        script = os.path.join(HERE, "pha_ref.py")
        with tempfile.TemporaryDirectory() as tmp:
            w, t = os.path.join(tmp, "w.h5"), os.path.join(tmp, "t.h5")

            def call(*args):
                subprocess.run([sys.executable, script, *args], check=True)

            call("init", "--out", w, "--d", "16", "--n_q", "4", "--n_kv", "2", "--d_ff", "24",
                 "--F", "12", "--H", "8", "--N", "4", "--L", "2", "--V", "64", "--mixer",
                 "channel", "--attn_window", "3", "--seed", "7")
            call("tokens", "--out", t, "--batch", "2", "--seq", "9", "--vocab", "50")
            outs = {}
            for dtype in ("float64", "float32"):
                outs[dtype] = os.path.join(tmp, f"{dtype}.h5")
                call("run", "--weights", w, "--tokens", t, "--out", outs[dtype], "--dtype", dtype,
                     "--conv", "direct" if dtype == "float32" else "fft")
            with h5py.File(w) as fw, h5py.File(outs["float64"]) as f64, \
                    h5py.File(outs["float32"]) as f32:
                self.assertEqual(fw.attrs["d_h"], 4)
                self.assertEqual(fw.attrs["mixer"], "channel")
                self.assertEqual(set(fw["model"]), set(f64["grad"]))
                for name in fw["model"]:
                    self.assertTrue(np.all(fw["model"][name][...] != 0), name)
                    g64, g32 = f64["grad"][name][...], f32["grad"][name][...]
                    self.assertEqual(g64.dtype, np.float64)
                    self.assertGreater(np.abs(g64).max(), 0, name)
                    self.assertLess(np.linalg.norm(g32 - g64) / np.linalg.norm(g64), 1e-4, name)
                self.assertEqual(f64["logits"].shape, (2, 9, 64))
                self.assertAlmostEqual(f64["loss"][()], f32["loss"][()], places=4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
