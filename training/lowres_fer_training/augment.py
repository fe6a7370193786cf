"""Training-time augmentation of a batch of faces (train.py, train_rrn.py)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, gen: torch.Generator, max_deg: float = 0.0, erase: float = 0.0) -> torch.Tensor:
    """x: [B, C, S, S] in [0, 1]. Flip, shift by up to S/16 px, rotate by up to max_deg
    and scale by up to max_deg/100, brightness/contrast, erase a rectangle with
    probability `erase`. One draw per face: its C channels (distillation's degraded and
    clean views) move alike, and the draws do not depend on C."""
    b, c, s, _ = x.shape
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if max_deg > 0:
        # Rotation, scale and shift in one resampling (replicated border).
        angle = (torch.rand(b, generator=gen) * 2 - 1) * max_deg * torch.pi / 180
        scale = 1 + (torch.rand(b, generator=gen) * 2 - 1) * max_deg / 100
        shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * (2.0 / 16)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    else:
        pad = max(1, s // 16)
        padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
        rows = (dy[:, None] + torch.arange(s)[None, :])[:, None, :, None].expand(b, c, s, s + 2 * pad)
        x = padded.gather(2, rows)
        cols = (dx[:, None] + torch.arange(s)[None, :])[:, None, None, :].expand(b, c, s, s)
        x = x.gather(3, cols)
    contrast = 1 + (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.4
    bright = (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.2
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + bright).clamp(0, 1)
    if erase > 0:
        # Occlusion (hands, hair, glasses): one rectangle of 1/16 to 1/4 of the face
        # filled with its mean grey.
        hit = torch.rand(b, generator=gen) < erase
        h = (torch.rand(b, generator=gen) * 0.25 + 0.25) * s
        w = (torch.rand(b, generator=gen) * 0.25 + 0.25) * s
        y0 = torch.rand(b, generator=gen) * (s - h)
        x0 = torch.rand(b, generator=gen) * (s - w)
        r = torch.arange(s)[None, :]
        in_y = (r >= y0[:, None]) & (r < (y0 + h)[:, None])
        in_x = (r >= x0[:, None]) & (r < (x0 + w)[:, None])
        box = (in_y[:, :, None] & in_x[:, None, :] & hit[:, None, None]).unsqueeze(1)
        x = torch.where(box, x.mean(dim=(2, 3), keepdim=True).expand_as(x), x)
    return x
