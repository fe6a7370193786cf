"""Paths, names and constants shared by the training package. Depends on nothing but
pathlib, so every other module may import it and it imports none of them: the bottom
of the package's import graph (see __init__.py).
"""

from __future__ import annotations

from pathlib import Path

# training/lowres_fer_training/defaults.py -> training/ -> the repository root.
TRAINING_DIR = Path(__file__).resolve().parents[1]
ROOT = TRAINING_DIR.parent
# The FER+ tarball next to the checkout (../shared/data/README.md).
DATA = ROOT.parent / "shared/data/ferplus.tar.gz"
RUNS = TRAINING_DIR / "runs"
MODELS = ROOT / "models"

# The 8 emotions, in FER+'s vote order (everywhere: labels, logits, tables).
EMOTIONS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
# Resolutions of the EFC paper's protocol (Table 3 plus 48 and 32).
EVAL_RESOLUTIONS = (48, 32, 20, 15, 10, 8, 5)
# Every protocol resolution a model is trained at (train.py --resolutions) and calibrated at
# (calibrate.py, for a model without a face_px bin).
TRAIN_RESOLUTIONS = (48, 32, 24, 20, 15, 12, 10, 8, 6, 5)
ALL_RESOLUTIONS = TRAIN_RESOLUTIONS
# The best epoch is the one with the best mean Valid accuracy at these resolutions.
SELECT_RESOLUTIONS = (20, 10, 5)
# Checked every epoch on Valid (a subset of the protocol's resolutions keeps epochs short).
MONITOR_RESOLUTIONS = (48, 20, 10, 5)

# train.py --arch: efc (seed 000) and the seed options of issue 15 (models/seeds.py).
ARCHS = ("efc", "efc_rvn", "efc_sr", "efc_wide")

# The exported graphs' input and output (crates/lowres_fer/src/classify/mod.rs reads these names).
ONNX_INPUT = "face"
ONNX_OUTPUT = "logits"

# A run directory's checkpoints (checkpoint.py says which exists when).
LAST = "last.pt"
BEST = "best.pt"
