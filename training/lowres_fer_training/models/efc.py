"""EFC network (seed paper 000): efficient convolutional features with spatial and
channel attention, for low-resolution facial emotion recognition.

Block (paper eq. 4-9):
    EFC(x) = BN(conv_ch(conv_s(BN(DW_sp(x)))))
    DW_sp(x)   = DW(x) * sigmoid(conv1x1_to_1ch(x))        spatial attention
    conv_s(x)  = S-Swish(conv1x1_expand(x)),  S-Swish(x) = x / (1 + exp(-beta x))
    conv_ch(x) = conv1x1_project(x) * sigmoid(conv1x1(GAP(x)))   channel attention
Head: 1x1 conv to 1280 channels, global average pooling, 1x1 conv to the classes.

Where the paper is silent we chose (see models/MODEL_CARD.md): a 3x3 stride-2 stem
to 32 channels, six blocks with widths 32-32-64-64-96-128, expansion 2 then 3, stride 2
in the depth-wise conv of blocks 2 and 4, a residual connection where shapes match
(it trains faster on CPU and costs nothing at inference), beta = 1.5 (fixed),
32x32 input: 0.47 M parameters and ~8 M multiply-adds.
"""

from __future__ import annotations

import torch
from torch import nn

# (in_channels, out_channels, expansion, stride)
DEFAULT_BLOCKS = (
    (32, 32, 2, 1),
    (32, 64, 2, 2),
    (64, 64, 3, 1),
    (64, 96, 3, 2),
    (96, 96, 3, 1),
    (96, 128, 3, 1),
)
# Every width doubled (issue 9's larger 48 px teacher, models/seeds.py, arch "efc_wide"): 1.5 M
# parameters and 28 M multiply-adds at 32x32, 3.3x the student's.
WIDE_BLOCKS = tuple((2 * cin, 2 * cout, e, s) for cin, cout, e, s in DEFAULT_BLOCKS)


class SSwish(nn.Module):
    """S-Swish (paper eq. 3): x / (1 + exp(-beta x)) = x * sigmoid(beta x)."""

    def __init__(self, beta: float = 1.5):
        super().__init__()
        self.beta = beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.beta * x)


class EFCBlock(nn.Module):
    def __init__(self, cin: int, cout: int, expansion: int, stride: int, beta: float):
        super().__init__()
        hidden = cin * expansion
        self.dw = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        # Spatial attention is computed on the block input; with a strided depth-wise
        # conv it uses the same stride so the maps line up.
        self.spatial = nn.Conv2d(cin, 1, 1, stride)
        self.bn1 = nn.BatchNorm2d(cin)
        self.expand = nn.Conv2d(cin, hidden, 1, bias=False)
        self.act = SSwish(beta)
        self.project = nn.Conv2d(hidden, cout, 1, bias=False)
        self.channel = nn.Conv2d(hidden, cout, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dw(x) * torch.sigmoid(self.spatial(x))
        y = self.act(self.expand(self.bn1(y)))
        att = torch.sigmoid(self.channel(y.mean(dim=(2, 3), keepdim=True)))
        y = self.bn2(self.project(y) * att)
        return x + y if self.residual else y


class EFC(nn.Module):
    """Input: [N, 1, S, S] grayscale in [0, 1]. Output: class probabilities [N, C]
    (``logits=True`` returns logits, for training)."""

    def __init__(self, num_classes: int = 8, blocks=DEFAULT_BLOCKS, beta: float = 1.5, head: int = 1280):
        super().__init__()
        stem = blocks[0][0]
        self.stem = nn.Sequential(nn.Conv2d(1, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), SSwish(beta))
        self.blocks = nn.Sequential(*(EFCBlock(ci, co, e, s, beta) for ci, co, e, s in blocks))
        last = blocks[-1][1]
        self.head = nn.Sequential(nn.Conv2d(last, head, 1, bias=False), nn.BatchNorm2d(head), SSwish(beta))
        self.dropout = nn.Dropout(0.2)
        self.classifier = nn.Conv2d(head, num_classes, 1)

    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:
        x = (x - 0.5) / 0.5
        x = self.head(self.blocks(self.stem(x)))
        x = self.dropout(x.mean(dim=(2, 3), keepdim=True))
        out = self.classifier(x).flatten(1)
        return out if logits else torch.softmax(out, dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, size: int) -> int:
    """Multiply-adds of convolutions for one [1, 1, size, size] input."""
    total = 0

    def hook(mod: nn.Conv2d, _inp, out):
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
        total += out.numel() * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size))
    model.train(was_training)
    for h in handles:
        h.remove()
    return total
