#!/usr/bin/env bash
# The README's test command (make test) and CI's: lint, types, layers, then every test, none allowed to skip.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# shellcheck disable=SC1091
source .vend/env
# Bytecode caches on (in __pycache__, git-ignored) even where the environment turns them off: without them every
# worker and every CLI subprocess compiles the project and pytest re-rewrites every test module's asserts, 6 CPU
# seconds a process (make test-fast's collection: 12.5 s of CPU without, 6.5 s with).
unset PYTHONDONTWRITEBYTECODE
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/lint-imports"
# Six workers on two cores: most of the suite's wall time is Terraform, the AWS provider and the emulator waiting
# (the provider's S3 lifecycle wait alone is 55 s per apply, by its own fixed schedule), and those waits overlap with
# the CPU-bound tests. --dist loadfile keeps each module on one worker, in order, so a module-scoped emulator starts
# once (xdist's loadgroup marks are ignored under pytest 9); --no-loadscope-reorder keeps the collection order, in
# which tests/conftest.py puts the longest modules first, so none of them starts last and becomes the tail.
exec "$VENV/bin/python" -m pytest -n 6 --dist loadfile --no-loadscope-reorder --strict-skips "$@"
