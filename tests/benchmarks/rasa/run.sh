#!/usr/bin/env bash
# Side-by-side NLU benchmark: Rasa 3.6 (default DIET pipeline) vs the built-in model, same splits,
# same run. Rasa 3.6 needs Python 3.10, so it lives in its own virtualenv (never the project's).
#
#   bash tests/benchmarks/rasa/run.sh ../shared/benchmarks/nlu bench-results/rasa.json
#
# Environment: RASA_PYTHON (a 3.10 interpreter; default: pyenv's 3.10.13), RASA_VENV (where to
# install Rasa), RASA_EPOCHS (DIET epochs, default 100 as in Rasa's default config: on 2 cores
# that is well over an hour for BANKING77), RASA_DATASETS (default banking77,clinc150).
set -euo pipefail
cd "$(dirname "$0")/../../.."

DATA=${1:-../shared/benchmarks/nlu}
OUT=${2:-bench-results/rasa.json}
RASA_PYTHON=${RASA_PYTHON:-/root/.pyenv/versions/3.10.13/bin/python}
RASA_VENV=${RASA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/omnirelay/rasa-3.6}
RASA_EPOCHS=${RASA_EPOCHS:-100}
RASA_DATASETS=${RASA_DATASETS:-banking77,clinc150}

# Rasa 3.6 imports pkg_resources, which setuptools 81+ no longer ships (pip pulls in the newest).
if [ ! -x "$RASA_VENV/bin/rasa" ] || ! "$RASA_VENV/bin/python" -c "import pkg_resources" 2>/dev/null; then
    echo "installing Rasa 3.6 into $RASA_VENV (one-off, several minutes)" >&2
    "$RASA_PYTHON" -m venv "$RASA_VENV"
    "$RASA_VENV/bin/pip" install --upgrade pip
    "$RASA_VENV/bin/pip" install "rasa==3.6.20" "setuptools<70"
fi

export RASA_TELEMETRY_ENABLED=false
mkdir -p "$(dirname "$OUT")"
exec .venv/bin/python tests/benchmarks/rasa/bench_rasa.py \
    --data "$DATA" --out "$OUT" --rasa "$RASA_VENV/bin/rasa" \
    --epochs "$RASA_EPOCHS" --datasets "$RASA_DATASETS"
