"""Resolution bins for routing (seed paper 001), shared by expert training, the
resolution recognition network (RRN) and the mixed-resolution benchmark.

A bin is named by the training resolutions its recogniser class sees and the native
crop sizes (px, [min, max)) the face-size router sends to it. Chosen from the FER+
cross-resolution measurements in models/MODEL_CARD.md: the all-resolution model
loses most between 15 and 8 px, so the low bins are narrow; at 32-48 px a model
trained at 48 px alone is better than the all-resolution one, so it gets a bin of
its own.

"model" names the training run that serves the bin (training/reproduce.sh exports it
as models/expert_<name>.onnx), or efc_all_s32: the general classifier serves it and no
expert is installed. The 5-epoch fine-tunes of efc_all_s32 on the three small bins
lost to it at every resolution but 5 px (models/MODEL_CARD.md, "Resolution experts and routing"),
so only the large faces have an expert: the wide network (efc_wide, 3x the
parameters), which a 28-48 px face affords.
"""

from __future__ import annotations

GENERAL = "efc_all_s32"

BINS = (
    {"name": "r5_8", "resolutions": (5, 6, 8), "face_px": (0.0, 9.0), "model": GENERAL},
    {"name": "r10_15", "resolutions": (10, 12, 15), "face_px": (9.0, 17.5), "model": GENERAL},
    {"name": "r20_24", "resolutions": (20, 24), "face_px": (17.5, 28.0), "model": GENERAL},
    # teacher_wide_s32 fine-tuned with the recipe's cameras at 24-48 px (reproduce.sh).
    {"name": "r32_48", "resolutions": (32, 48), "face_px": (28.0, 1.0e9), "model": "expert_wide_r28"},
)


def manifest_face_px(b: dict) -> list[float]:
    """A bin's face_px as the manifest stores it: the open upper end capped at 1e6 px."""
    lo, hi = b["face_px"]
    return [lo, min(hi, 1.0e6)]


def bin_of(resolution: float) -> int:
    """Index of the bin whose face_px range holds `resolution`."""
    for i, b in enumerate(BINS):
        lo, hi = b["face_px"]
        if lo <= resolution < hi:
            return i
    return len(BINS) - 1
