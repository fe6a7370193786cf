#!/usr/bin/env bash
# Valid A/Bs of issue 9's recipe choices: each variant is trained from scratch with the same
# seed, data, augmentation and a short schedule (12 epochs of the one-cycle recipe, about
# 15 min each on one free CPU thread), and compared on FER+ Valid only (Test is never used
# to choose). training/render_ab_table.py prints the table models/MODEL_CARD.md quotes.
# Resumable: finished variants are skipped, an interrupted one resumes from its last epoch.
#
#   bash training/ab_recipe.sh            # all variants, then the table
#   bash training/ab_recipe.sh ab_kd      # one variant
#
# Variants (training/train.py flags; everything else is reproduce.sh's recipe):
#   ab_soft  soft vote distributions (the committed recipe; the control)
#   ab_hard  majority one-hot labels
#   ab_pdls  PDLS: majority label smoothed towards its class's mean vote distribution (seed 003)
#   ab_la    soft labels + logit adjustment, tau 1 (Menon et al. 2021)
#   ab_kd    soft labels + distillation from efc_all_s32 seeing the clean 48 px face (w 0.5, T 2)
#   ab_real  soft labels, every face through a random camera (--realistic 1; the recipe's is 0.5)
#   ab_cons  soft labels + the model's own clean 48 px view teaching its degraded view (--consistency 1)
#   ab_cons03  the same, lighter (--consistency 0.3)
#   ab_harsh soft labels, the random camera drawing more nearest sampling and stronger JPEG (--camera harsh)
# and the 32-48 px routing expert's input size, fine-tuned 5 epochs from efc_all_s32 on 48 and
# 32 px faces as reproduce.sh fine-tunes the other experts:
#   ab_e48_in32  32x32 input (every committed model)     ab_e48_in48  48x48 input
# Per-epoch logs are committed (training/runs/ab_*/log.jsonl); checkpoints are not.
set -euo pipefail
# shellcheck source=training/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
only=${1:-all}
ab() { # name, then the variant's flags (a variant may override --epochs and the rest)
  local name=$1; shift
  if [ "$only" = all ] || [ "$only" = "$name" ]; then
    run "$name" --epochs 12 --weight-decay 0.02 --threads 1 --robust-every 4 "$@"
  fi
}
expert() { # name, input size: the expert recipe of reproduce.sh for the 32-48 px bin
  ab "$1" --epochs 5 --lr 1e-3 --resolutions 48,32 --select 48,32 --init "$RUNS/efc_all_s32/best.pt" --input-size "$2"
}
ab ab_soft --labels soft
ab ab_kd --labels soft --teacher "$RUNS/efc_all_s32/best.pt"
ab ab_la --labels soft --logit-adjust 1.0
ab ab_pdls --labels pdls
ab ab_hard --labels hard
expert ab_e48_in32 32
expert ab_e48_in48 48
ab ab_real --labels soft --realistic 1.0
ab ab_cons --labels soft --consistency 1.0
ab ab_cons03 --labels soft --consistency 0.3
ab ab_harsh --labels soft --camera harsh
[ "$only" = all ] && "$PY" training/render_ab_table.py "$RUNS"
exit 0
