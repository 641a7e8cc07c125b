#!/usr/bin/env bash
# Sets up everything the project needs, idempotently: a virtualenv with the package and its extras,
# and the Terraform provider mirror setting. Source-safe: prints the exports it decided on.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
EXTRAS=${VEND_EXTRAS:-dev,cdk}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# constraints.txt pins every package exactly (regenerate with scripts/lock.sh after changing pyproject.toml).
"$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[${EXTRAS}]"

# checkov pins boto3 and friends tightly; keep it in its own virtualenv so it never decides the service's versions.
# Its version comes from tools/versions.env (the one pin the policy stage, the build and the workflow also read).
# shellcheck source=../tools/versions.env
. tools/versions.env
CHECKOV_VENV=${CHECKOV_VENV:-.venv-checkov}
if [ ! -x "$CHECKOV_VENV/bin/checkov" ] || [ "$("$CHECKOV_VENV/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
  [ -x "$CHECKOV_VENV/bin/python" ] || "$PYTHON" -m venv "$CHECKOV_VENV"
  "$CHECKOV_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$CHECKOV_VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
fi
ln -sf "$(cd "$CHECKOV_VENV/bin" && pwd)/checkov" "$VENV/bin/checkov"

# Terraform: the provider mirror setting (.vend/env) and the CLI's version (scripts/terraform_setup.sh).
scripts/terraform_setup.sh

# The IAM oracle (tests/oracle): @cloud-copilot/iam-simulate from npm, pinned by tests/oracle/package-lock.json.
# Installed with `npm ci` only when node_modules was not installed from this very lock file (its hash is kept there).
ORACLE_DIR=tests/oracle
if command -v npm >/dev/null && command -v node >/dev/null; then
  lock_sha=$(sha256sum "$ORACLE_DIR/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$ORACLE_DIR/node_modules/.vend-lock-sha256" 2>/dev/null)" != "$lock_sha" ]; then
    (cd "$ORACLE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_sha" > "$ORACLE_DIR/node_modules/.vend-lock-sha256"
  fi
else
  echo "setup: npm/node not found: the IAM oracle (tests/oracle) is NOT installed and tests/oracle/test_oracle.py will FAIL; install Node.js 20+ with npm and rerun scripts/setup.sh" >&2
fi
