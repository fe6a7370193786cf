"""Resolution bins for routing (seed paper 001), shared by expert training, the
resolution recognition network (RRN) and the mixed-resolution benchmark.

A bin is named by the training resolutions its expert sees and the native crop
sizes (px, [min, max)) the face-size router sends to it. Chosen from the FER+
cross-resolution measurements in models/MODEL_CARD.md: the all-resolution model
loses most between 15 and 8 px, so the low bins are narrow; at 32-48 px the model
trained at 48 px alone is 5.5 points better than the all-resolution one, so it
gets a bin of its own.
"""

from __future__ import annotations

BINS = (
    {"name": "r5_8", "resolutions": (5, 6, 8), "face_px": (0.0, 9.0)},
    {"name": "r10_15", "resolutions": (10, 12, 15), "face_px": (9.0, 17.5)},
    {"name": "r20_24", "resolutions": (20, 24), "face_px": (17.5, 28.0)},
    # The 48 px model is this bin's expert: with a 32x32 input, R = 32 and R = 48
    # are the same 48 -> 32 resize, which efc_r48_s32 was trained on exclusively.
    {"name": "r32_48", "resolutions": (32, 48), "face_px": (28.0, 1.0e9), "model": "efc_r48_s32"},
)


def bin_of(resolution: float) -> int:
    """Index of the bin whose face_px range holds `resolution`."""
    for i, b in enumerate(BINS):
        lo, hi = b["face_px"]
        if lo <= resolution < hi:
            return i
    return len(BINS) - 1
