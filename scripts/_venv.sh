# Sourced by scripts/demo (extras: twin) and scripts/test (twin,dev): one virtualenv (.venv) with Coffer in it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Coffer needs Python 3.11 or newer")'
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install.
stamp=".venv/.coffer-installed-$1"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing Coffer into .venv (extras: $1): about a minute." >&2
  # PYTHONWARNINGS: setuptools' notes on editable installs are for packagers, not for someone running the demo.
  # -qq: pip's errors only (its warnings are about the machine's index settings, not about Coffer).
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -qq --disable-pip-version-check --upgrade pip
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -qq --disable-pip-version-check -e ".[$1]"
  touch "$stamp"
fi
