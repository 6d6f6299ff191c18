"""The TCN-VAE for 9-axis IMU windows (see shared/reference/model-and-edge-facts.md).

Only the encoder (window -> mu) is deployed. The decoder and the 13-class activity head exist
so that a checkpoint holds the whole model a training server would produce, and so that the
demo checkpoint is trained on a real objective.

Two encoder forms with the same weights:
  * TCNEncoder   - Conv1d over [N, 9, 100] (the training form);
  * TCNEncoder2d - Conv2d with 1xk kernels and 1xd dilations over [N, 9, 1, 100], because NPU
                   compilers accept 2-D convolutions more widely. Loaded from a TCNEncoder.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from common import NORM_MEAN, NORM_STD  # noqa: F401 - re-exported for the tools

ARCHITECTURE = "edgeship.tcn-vae/1"

DEFAULT_CONFIG = {
    "input_dim": 9,
    "seq_len": 100,
    "channels": [64, 128, 256],
    "kernel_size": 3,
    "dilations": [1, 2, 4],
    "latent_dim": 64,
    "num_classes": 13,
}


class TemporalBlock(nn.Module):
    """Two dilated causal convolutions and a 1x1 residual path.

    Causality comes from padding (k-1)*d on both sides and slicing the right-hand surplus off,
    so output step t only sees inputs <= t.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, dilation: int):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel_size, padding=self.pad, dilation=dilation)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel_size, padding=self.pad, dilation=dilation)
        self.downsample = nn.Conv1d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv1(x)[:, :, : -self.pad])
        y = F.relu(self.conv2(y)[:, :, : -self.pad])
        return F.relu(y + self.downsample(x))


class TCNEncoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        blocks = []
        in_ch = cfg["input_dim"]
        for out_ch, d in zip(cfg["channels"], cfg["dilations"]):
            blocks.append(TemporalBlock(in_ch, out_ch, cfg["kernel_size"], d))
            in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.fc_mu = nn.Linear(in_ch, cfg["latent_dim"])
        self.fc_logvar = nn.Linear(in_ch, cfg["latent_dim"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, T, C] z-scored -> pooled features [N, channels[-1]]."""
        h = self.blocks(x.transpose(1, 2))
        return h.mean(dim=2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.fc_mu(h), self.fc_logvar(h)


class TCNDecoder(nn.Module):
    """latent [N, 64] -> reconstructed window [N, T, C]."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.t0 = cfg["seq_len"] // 4
        self.c0 = cfg["channels"][-1]
        self.fc = nn.Linear(cfg["latent_dim"], self.c0 * self.t0)
        self.up1 = nn.ConvTranspose1d(self.c0, cfg["channels"][1], 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose1d(cfg["channels"][1], cfg["channels"][0], 4, stride=2, padding=1)
        self.out = nn.Conv1d(cfg["channels"][0], cfg["input_dim"], 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc(z)).view(-1, self.c0, self.t0)
        h = F.relu(self.up1(h))
        h = F.relu(self.up2(h))
        return self.out(h).transpose(1, 2)


class TCNVAE(nn.Module):
    def __init__(self, cfg: dict | None = None):
        super().__init__()
        self.cfg = dict(DEFAULT_CONFIG if cfg is None else cfg)
        self.encoder = TCNEncoder(self.cfg)
        self.decoder = TCNDecoder(self.cfg)
        self.activity_head = nn.Sequential(
            nn.Linear(self.cfg["latent_dim"], 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, self.cfg["num_classes"])
        )

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encoder(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar, self.activity_head(mu)


class EncoderMu(nn.Module):
    """The deployed graph: z-scored window [1, 100, 9] -> latent_embeddings [1, 64]."""

    def __init__(self, encoder: TCNEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.fc_mu(self.encoder.features(x))


class TemporalBlock2d(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, dilation: int):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv2d(in_ch, out_ch, (1, kernel_size), padding=(0, self.pad), dilation=(1, dilation))
        self.conv2 = nn.Conv2d(out_ch, out_ch, (1, kernel_size), padding=(0, self.pad), dilation=(1, dilation))
        self.downsample = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv1(x)[:, :, :, : -self.pad])
        y = F.relu(self.conv2(y)[:, :, :, : -self.pad])
        return F.relu(y + self.downsample(x))


class TCNEncoder2d(nn.Module):
    """Same function as EncoderMu, as 2-D convolutions over [N, 9, 1, 100]."""

    def __init__(self, cfg: dict):
        super().__init__()
        blocks = []
        in_ch = cfg["input_dim"]
        for out_ch, d in zip(cfg["channels"], cfg["dilations"]):
            blocks.append(TemporalBlock2d(in_ch, out_ch, cfg["kernel_size"], d))
            in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.fc_mu = nn.Linear(in_ch, cfg["latent_dim"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2).unsqueeze(2))
        h = F.adaptive_avg_pool2d(h, 1).flatten(1)
        return self.fc_mu(h)

    @torch.no_grad()
    def load_from_conv1d(self, enc: TCNEncoder) -> "TCNEncoder2d":
        for b2, b1 in zip(self.blocks, enc.blocks):
            for name in ("conv1", "conv2", "downsample"):
                src, dst = getattr(b1, name), getattr(b2, name)
                dst.weight.copy_(src.weight.unsqueeze(2))  # [out,in,k] -> [out,in,1,k]
                dst.bias.copy_(src.bias)
        self.fc_mu.load_state_dict(enc.fc_mu.state_dict())
        return self


def deployable_encoder(vae: TCNVAE, conv2d: bool) -> nn.Module:
    enc = TCNEncoder2d(vae.cfg).load_from_conv1d(vae.encoder) if conv2d else EncoderMu(vae.encoder)
    return enc.eval()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
