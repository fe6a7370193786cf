"""Resolution bins for routing (seed paper 001), shared by expert training, the
resolution recognition network (RRN) and the mixed-resolution benchmark.

A bin is named by the training resolutions its expert sees and the native crop
sizes (px, [min, max)) the face-size router sends to it. Chosen from the FER+
cross-resolution measurements in models/MODEL_CARD.md: the all-resolution model
loses most between 15 and 8 px, so the low bins are narrow.
"""

from __future__ import annotations

BINS = (
    {"name": "r5_8", "resolutions": (5, 6, 8), "face_px": (0.0, 9.0)},
    {"name": "r10_15", "resolutions": (10, 12, 15), "face_px": (9.0, 17.5)},
    {"name": "r20_48", "resolutions": (20, 24, 32, 48), "face_px": (17.5, 1.0e9)},
)


def bin_of(resolution: float) -> int:
    """Index of the bin whose face_px range holds `resolution`."""
    for i, b in enumerate(BINS):
        lo, hi = b["face_px"]
        if lo <= resolution < hi:
            return i
    return len(BINS) - 1
