# Shared by training/reproduce.sh and training/reproduce_seeds.sh (sourced, not run):
# the training venv, the data path and the resumable `run` of one training run.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup_training.sh
PY="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}/train/bin/python"
DATA="${LOWRES_FER_SHARED:-$ROOT/../shared}/data/ferplus.tar.gz"
RUNS=training/runs
finished() { # name, epochs: the run's log has that many epochs
  [ -f "$RUNS/$1/log.jsonl" ] && [ "$(wc -l < "$RUNS/$1/log.jsonl")" -ge "$2" ]
}
run() { # name, then train.py arguments; skips a finished run, resumes an interrupted one
  local name=$1; shift
  local epochs; epochs=$(printf '%s\n' "$@" | awk 'p{e=$0; p=0} /^--epochs$/{p=1} END{print e}')  # the last one wins
  if finished "$name" "$epochs"; then return; fi
  "$PY" training/train.py --data "$DATA" --out "$RUNS/$name" --resume "$@"
}
