#!/usr/bin/env bash
# The README's test command (make test) and CI's: lint, types, layers, then every test, none allowed to skip.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# shellcheck disable=SC1091
source .vend/env
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/lint-imports"
exec "$VENV/bin/python" -m pytest -n 2 --dist loadgroup --strict-skips "$@"
