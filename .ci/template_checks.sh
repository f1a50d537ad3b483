#!/usr/bin/env bash
# Template checks: sam validate --lint, cfn-lint, sam build, checkov (on the SAM template and on the
# plain CloudFormation the SAM transform makes of it, where the generated IAM roles are).
#
# Idempotent and offline apart from PyPI: it makes its own venvs for the tools whose dependencies clash
# with the project's (.venv-sam: aws-sam-cli, .venv-checkov: checkov) and reuses them while their pins
# hold. cfn-lint and the SAM transform come from the project's venv (.venv, `pip install -e .[dev]`).
# Runs every check even after a failure; exits non-zero if any failed. No AWS account is touched:
# fake credentials and a region are set for the whole script.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SAM_PIN="aws-sam-cli==1.170.0"
CHECKOV_PIN="checkov==3.3.30"
PROJECT_VENV="$ROOT/.venv"
BUILD_DIR="$ROOT/.aws-sam/build"      # .aws-sam/ is git-ignored
CACHE_DIR="$ROOT/.aws-sam/cache"

export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="$AWS_DEFAULT_REGION"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
unset AWS_PROFILE
export SAM_CLI_TELEMETRY=0 PIP_DISABLE_PIP_VERSION_CHECK=1

PYTHON="$(command -v python3.11 || command -v python3)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

T_ALL="$(now)"
FAILED=()
declare -a SUMMARY=()

# run NAME COMMAND...: runs a check, keeps its output in a log, prints the tail (all of it on failure).
run() {
  local name="$1"; shift
  local log="$WORK/${name//[^A-Za-z0-9]/_}.log" t0 rc
  t0="$(now)"
  echo "==> $name"
  "$@" >"$log" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    tail -n 5 "$log" | sed 's/^/    /'
    SUMMARY+=("PASS  $(elapsed "$t0")s  $name")
  else
    sed 's/^/    /' "$log"
    FAILED+=("$name")
    SUMMARY+=("FAIL  $(elapsed "$t0")s  $name (exit $rc)")
  fi
}

# ensure_venv DIR PIN: a venv at DIR holding PIN, made or remade only when the pin changed.
ensure_venv() {
  local dir="$1" pin="$2" stamp="$1/.coffer-pin"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pin" ]; then
    echo "    $dir: $pin (reused)"
    return 0
  fi
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" && "$dir/bin/pip" install --quiet "$pin" && echo "$pin" >"$stamp" \
    && echo "    $dir: $pin (installed)"
}

# ---- tools ----------------------------------------------------------------------------------------
run "install $SAM_PIN" ensure_venv "$ROOT/.venv-sam" "$SAM_PIN"
run "install $CHECKOV_PIN" ensure_venv "$ROOT/.venv-checkov" "$CHECKOV_PIN"
if [ ! -x "$PROJECT_VENV/bin/cfn-lint" ] || ! "$PROJECT_VENV/bin/python" -c "import coffer, samtranslator" 2>/dev/null; then
  echo "!! $PROJECT_VENV lacks cfn-lint or the coffer package: run \`pip install -e .[dev]\` into it first" >&2
  FAILED+=("project venv")
fi
SAM="$ROOT/.venv-sam/bin/sam"
CHECKOV="$ROOT/.venv-checkov/bin/checkov"

# ---- checks ---------------------------------------------------------------------------------------
run "sam validate --lint" "$SAM" validate --lint --template-file template.yaml
run "cfn-lint template.yaml" "$PROJECT_VENV/bin/cfn-lint" -- template.yaml
# The copy role every destination account deploys (issue 7; plain CloudFormation, a StackSet template).
run "cfn-lint member/template.yaml" "$PROJECT_VENV/bin/cfn-lint" -- member/template.yaml
run "checkov member/template.yaml" "$CHECKOV" -f member/template.yaml --framework cloudformation --compact \
  --quiet --skip-download

# `sam build` without a container needs the functions' runtime (Globals Runtime, e.g. python3.13) on PATH: it
# installs the layer's wheels for that Python. A pyenv version counts even when it is not the active one.
RUNTIME="$(awk '/^Globals:/ { g = 1 } g && $1 == "Runtime:" { print $2; exit }' template.yaml)"
runtime_python_dir() {
  local found dir
  found="$(command -v "$RUNTIME" 2>/dev/null)" && "$found" -c 'pass' 2>/dev/null && { dirname "$found"; return 0; }
  for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"${RUNTIME#python}".*/bin; do
    [ -x "$dir/$RUNTIME" ] && { echo "$dir"; return 0; }
  done
  return 1
}

check_build() {
  local python_dir
  python_dir="$(runtime_python_dir)" || { echo "sam build needs $RUNTIME (the functions' runtime) on PATH"; return 1; }
  PATH="$python_dir:$PATH" "$SAM" build --template-file template.yaml --build-dir "$BUILD_DIR" \
    --cache-dir "$CACHE_DIR" --cached --parallel || return 1
  # The layer must hold the coffer package and binaries for the runtime's Python on arm64 (BuildArchitecture).
  local layer="$BUILD_DIR/CofferLayer/python" abi="cpython-$(echo "${RUNTIME#python}" | tr -d .)"
  [ -f "$layer/coffer/__init__.py" ] || { echo "layer lacks coffer/"; return 1; }
  ls "$layer"/pydantic_core/_pydantic_core*"$abi"*aarch64*.so >/dev/null 2>&1 \
    || { echo "layer's pydantic_core is not built for $RUNTIME on arm64"; return 1; }
  # Production code only (no emulator, CLI, moto or SAM translator) and within Lambda's size limit.
  "$PROJECT_VENV/bin/python" .ci/check_layer.py "$BUILD_DIR/CofferLayer" || return 1
  local dir
  for dir in "$BUILD_DIR"/*Function; do
    [ -f "$dir/app.py" ] || { echo "$dir has no app.py"; return 1; }
  done
  echo "layer: $(du -sh "$BUILD_DIR/CofferLayer" | cut -f1) (arm64); functions: $(ls -d "$BUILD_DIR"/*Function | wc -l)"
}
run "sam build" check_build

run "checkov template.yaml" "$CHECKOV" -f template.yaml --framework cloudformation --compact --quiet \
  --skip-download

transform() {
  "$PROJECT_VENV/bin/python" - "$WORK/transformed.json" <<'PY'
import json, pathlib, sys
from coffer_twin.cfn_yaml import load_template
from coffer_twin.packaging import package_template
from coffer_twin.sam_transform import to_cloudformation

packaged = package_template(load_template(pathlib.Path("template.yaml")), pathlib.Path("."), "artifacts", "code.zip")
cfn = to_cloudformation(packaged.template)
pathlib.Path(sys.argv[1]).write_text(json.dumps(cfn, indent=1))
print(f"{len(cfn['Resources'])} CloudFormation resources")
PY
}
check_transformed() {
  transform || return 1
  "$CHECKOV" -f "$WORK/transformed.json" --framework cloudformation --compact --quiet --skip-download
}
run "checkov transformed template" check_transformed

# ---- summary --------------------------------------------------------------------------------------
echo
echo "template checks:"
printf '  %s\n' "${SUMMARY[@]}"
echo "  total $(elapsed "$T_ALL")s"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "FAILED: ${FAILED[*]}" >&2
  exit 1
fi
echo "all template checks passed"
