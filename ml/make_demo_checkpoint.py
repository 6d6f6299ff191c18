"""Make the demo checkpoint: a TCN-VAE trained briefly on synthetic IMU windows.

Usage: python ml/make_demo_checkpoint.py --out PATH [--steps 150] [--seed 7] [--degenerate]

Training uses the VAE objective (reconstruction + KL) plus the activity head on the synthetic
pattern labels, so embeddings separate activities. --degenerate writes a "bad candidate" of the
same architecture whose fc_mu weights are zero: every window maps to the same embedding. It
still exports and passes GPU parity; only output checks on the device can catch it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
from torch.nn import functional as F

from common import atomic_write_bytes, limit_threads, log
from synthetic import PATTERNS, generate
from tcn_vae import ARCHITECTURE, NORM_MEAN, NORM_STD, TCNVAE, count_parameters


def train(steps: int, seed: int, batch: int) -> tuple[TCNVAE, dict]:
    torch.manual_seed(seed)
    windows, labels = generate(2048, seed)
    mean, std = np.asarray(NORM_MEAN, np.float32), np.asarray(NORM_STD, np.float32)
    x_all = torch.from_numpy((windows - mean) / std)
    y_all = torch.tensor([PATTERNS.index(p) for p in labels])

    model = TCNVAE()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    started = time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(0, x_all.shape[0], (batch,), generator=gen)
        x, y = x_all[idx], y_all[idx]
        recon, mu, logvar, logits = model(x)
        rec = F.mse_loss(recon, x)
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        ce = F.cross_entropy(logits, y)
        loss = rec + 0.01 * kl + ce
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps:
            acc = (logits.argmax(1) == y).float().mean().item()
            log(f"[train] step {step}/{steps} loss {loss.item():.4f} recon {rec.item():.4f} kl {kl.item():.4f} "
                f"ce {ce.item():.4f} acc {acc:.2f} ({time.perf_counter() - started:.1f}s)")
    model.eval()
    with torch.no_grad():
        held_w, held_l = generate(500, seed + 1)
        logits = model.activity_head(model.encoder(torch.from_numpy((held_w - mean) / std))[0])
        held_acc = (logits.argmax(1) == torch.tensor([PATTERNS.index(p) for p in held_l])).float().mean().item()
    log(f"[train] held-out activity accuracy {held_acc:.3f} on {len(held_l)} windows")
    return model, {"steps": steps, "seed": seed, "batch": batch, "heldOutAccuracy": round(held_acc, 4),
                   "classes": list(PATTERNS), "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=None, help="default 150; 20 with --degenerate")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--degenerate", action="store_true")
    args = ap.parse_args()
    limit_threads()
    # The degenerate candidate's encoder output ignores its input, so long training buys nothing.
    steps = args.steps if args.steps is not None else (20 if args.degenerate else 150)

    model, info = train(steps, args.seed, args.batch)
    if args.degenerate:
        with torch.no_grad():
            model.encoder.fc_mu.weight.zero_()
            # A non-zero constant: a zero vector would make the cosine of parity undefined.
            if torch.count_nonzero(model.encoder.fc_mu.bias) == 0:
                model.encoder.fc_mu.bias.fill_(0.1)
        info["degenerate"] = True
        log("[train] degenerate: fc_mu weights zeroed, every input now maps to the same embedding")

    ckpt = {
        "architecture": ARCHITECTURE,
        "config": model.cfg,
        "state_dict": model.state_dict(),
        "normalization": {"mean": NORM_MEAN, "std": NORM_STD},
        "training": info,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_write_bytes(args.out, lambda f: torch.save(ckpt, f))
    log(f"[train] wrote {args.out} ({count_parameters(model)} parameters)")


if __name__ == "__main__":
    sys.exit(main())
