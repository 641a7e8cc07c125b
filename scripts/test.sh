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
# Four workers on two cores: a third of the suite is Terraform and the emulator waiting (the S3 lifecycle wait
# alone is 55 s per apply), and those waits overlap with the CPU-bound tests. --dist loadfile keeps each module on
# one worker, in order, so a module-scoped emulator starts once (xdist's loadgroup marks are ignored under pytest 9).
exec "$VENV/bin/python" -m pytest -n 4 --dist loadfile --strict-skips "$@"
