"""Seed options on the EFC backbone (issue 15), selected by train.py --arch (arch.build).

efc_rvn: residual voting (seed 002). The feature map after an intermediate EFC block
    is cut into overlapping square crops (the centre and the four corners, each also
    mirrored horizontally: 10 crops), the remaining blocks and the head run on every
    crop with shared weights, and the crops' class probabilities are averaged (soft
    voting). Seed 002 tried its cut after ResNet-18's modules 1, 2 and 3 (crop side
    5/6 of the map); module 1 was best, module 2 within 0.2-0.6 points of it at a
    much smaller cost. Our cut: after EFC block 3, the end of the second resolution
    stage (8x8x64 for a 32x32 input; the analogue of module 2), crop side
    floor(5/6 x 8) = 6 with the centre crop at offset 1: 32.7 M multiply-adds (3.9x
    EFC). The module-1 analogue (after block 1, 13 of 16) costs 68.5 M (8.1x) and
    would make the 150-epoch CPU run about twice as long again. Training:
    cross-entropy on every crop's own logits (as the seed: "the FC layer output was
    used instead of the soft voting result"); inference (and the exported graph):
    logits = log(mean over crops of softmax), so the node's softmax of the output is
    exactly the soft vote (calibration bias/temperature apply on top). Parameters:
    identical to EFC (the seed's point: more votes, no more weights).

efc_sr: pyramid with super-resolution (seed 003), kstep = 1, within 2x EFC's
    multiply-adds. The input is what the node feeds: the native-resolution crop
    resized to 32x32 with Pillow's antialiased bilinear filter (crates/lowres_fer/src/classify/mod.rs).
    Scaling block: p = 2x2 mean pooling of the input (seed 003's lowest branch);
    SR branch = x + ESPCN(p): a 3-layer ESPCN (5x5 1->16, 3x3 16->16, 3x3 16->4, tanh,
    pixel shuffle x2, 3,316 parameters, run at 16x16) predicts the 32x32 detail from
    p, added to the input as a global residual (VDSR). For faces at or below 16 px
    the input is already a smooth upsampling of p, so the branch is a learned SR of
    p; above 16 px the input keeps the detail that seed 003 keeps in its separate
    full-size branch (which does not fit in the budget here, so the two are merged).
    Each branch has its own low-level extractor (stem + EFC block 1, seed 003: "the
    low-level features for each branch ... cannot be shared") and shares blocks 2-6,
    the head and the classifier; the branches' logits are fused by learned weights
    (softmax of two scalars; seed 003's weighted late fusion). The last ESPCN layer
    starts at zero, so training starts from the plain pyramid. Input sides must be even.
    Batch norm in the shared part keeps running statistics per branch (shared scale and
    shift): in training each branch is normalised by its own batch statistics, so one
    set of running statistics, a mixture of a 16x16 and a 32x32 input's, made eval-mode
    outputs differ from what was trained (found at epoch 105 of efc_sr_s32: the
    high-resolution branch alone lost ~6 points of Valid accuracy to it). Checkpoints
    without the per-branch statistics load with the shared ones copied to both.

efc_wide: EFC with every width doubled (efc.WIDE_BLOCKS): not a seed option but issue 9's
    larger teacher, trained on clean 48 px faces only and distilled into the EFC student
    (reproduce.sh teacher_wide, efc_all_kd_wide). Never the node's model: 3.3x the
    multiply-adds.
"""

from __future__ import annotations

import contextlib
import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from . import efc


class EFCRVN(efc.EFC):
    """EFC with seed 002's crop voting after block `split` (1-based)."""

    def __init__(self, num_classes: int = 8, split: int = 3, crop_num: int = 5, crop_den: int = 6, mirror: bool = True):
        super().__init__(num_classes=num_classes)
        self.split, self.crop_num, self.crop_den, self.mirror = split, crop_num, crop_den, mirror
        self.num_crops = 10 if mirror else 5

    def crops(self, f: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, K, C, c, c]: centre, four corners (and their mirrors)."""
        h, w = f.shape[2], f.shape[3]
        c = h * self.crop_num // self.crop_den
        dy, dx = h - c, w - c
        spots = ((dy // 2, dx // 2), (0, 0), (0, dx), (dy, 0), (dy, dx))
        out = [f[:, :, y : y + c, x : x + c] for y, x in spots]
        if self.mirror:
            out += [o.flip(3) for o in out]
        return torch.stack(out, 1)

    def crop_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-crop logits [B, K, classes] (the training target of every crop)."""
        x = (x - 0.5) / 0.5
        f = self.blocks[: self.split](self.stem(x))
        crops = self.crops(f)
        b, k = crops.shape[0], crops.shape[1]
        y = self.head(self.blocks[self.split :](crops.flatten(0, 1)))
        y = self.dropout(y.mean(dim=(2, 3), keepdim=True))
        return self.classifier(y).flatten(1).unflatten(0, (b, k))

    training_logits = crop_logits

    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
        per_crop = torch.log_softmax(self.crop_logits(x), dim=2)
        # Soft vote: log of the mean probability (softmax of it = the mean).
        vote = torch.logsumexp(per_crop, dim=1) - math.log(self.num_crops)
        return vote if logits else torch.softmax(vote, dim=1)


class ESPCN(nn.Module):
    """Shi et al. 2016: features at low resolution, sub-pixel convolution to x`scale`."""

    def __init__(self, width: int = 16, scale: int = 2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 5, 1, 2),
            nn.Tanh(),
            nn.Conv2d(width, width, 3, 1, 1),
            nn.Tanh(),
            nn.Conv2d(width, scale * scale, 3, 1, 1),
        )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.body(x))


LOW_STATS = ("low_running_mean", "low_running_var", "low_num_batches_tracked")
SHARED_STATS = ("running_mean", "running_var", "num_batches_tracked")


class EFCSR(nn.Module):
    """Seed 003's pyramid (kstep 1) with a learned SR branch, on the EFC backbone."""

    def __init__(self, num_classes: int = 8, split: int = 1):
        super().__init__()
        self.split = split
        self.trunk = efc.EFC(num_classes=num_classes)  # SR branch low level + shared part
        self.low = nn.Sequential(copy.deepcopy(self.trunk.stem), copy.deepcopy(self.trunk.blocks[:split]))
        self.sr = ESPCN()
        self.fusion = nn.Parameter(torch.zeros(2))
        # The shared part's batch norms, (name, module), found once: swapped on every forward.
        shared = {id(m) for m in [*self.trunk.blocks[split:].modules(), *self.trunk.head.modules()]}
        self._norms = tuple(
            (name, m) for name, m in self.named_modules() if id(m) in shared and isinstance(m, nn.BatchNorm2d)
        )
        for _, bn in self._norms:  # the low branch's own running statistics
            for low, stat in zip(LOW_STATS, SHARED_STATS, strict=True):
                bn.register_buffer(low, getattr(bn, stat).clone())

    @contextlib.contextmanager
    def _low_statistics(self):
        """Swap the low branch's running statistics in for the shared part."""

        def swap():
            for _, bn in self._norms:
                b = bn._buffers
                for low, shared in zip(LOW_STATS, SHARED_STATS, strict=True):
                    b[low], b[shared] = b[shared], b[low]

        swap()
        try:
            yield
        finally:
            swap()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints from before the per-branch statistics: both branches start from the
        # shared ones (training re-estimates the low branch's within an epoch).
        for name, _ in self._norms:
            for low, stat in zip(LOW_STATS, SHARED_STATS, strict=True):
                key = f"{prefix}{name}.{low}"
                if key not in state_dict and f"{prefix}{name}.{stat}" in state_dict:
                    state_dict[key] = state_dict[f"{prefix}{name}.{stat}"].clone()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _high(self, f: torch.Tensor) -> torch.Tensor:
        t = self.trunk
        y = t.head(t.blocks[self.split :](f))
        return t.classifier(t.dropout(y.mean(dim=(2, 3), keepdim=True))).flatten(1)

    def branch_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = F.avg_pool2d(x, 2)
        s = x + self.sr(p)
        t = self.trunk
        with self._low_statistics():
            low = self._high(self.low((p - 0.5) / 0.5))
        high = self._high(t.blocks[: self.split](t.stem((s - 0.5) / 0.5)))
        return low, high

    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
        low, high = self.branch_logits(x)
        w = torch.softmax(self.fusion, dim=0)
        out = w[0] * low + w[1] * high
        return out if logits else torch.softmax(out, dim=1)
