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

# A wheelhouse of every package a shipped install path installs (CodeBuild's install phase, each workflow job, the
# Lambda runtime), pinned by constraints.txt: tests/cdk/test_install_paths.py installs each path's own command from it
# into a clean virtualenv, offline (--no-index). Refreshed only when the pins change.
WHEELHOUSE=${VEND_WHEELHOUSE:-.vend/wheelhouse}
pins_sha=$(cat constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$WHEELHOUSE/.vend-pins-sha256" 2>/dev/null)" != "$pins_sha" ]; then
  mkdir -p "$WHEELHOUSE"
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check -c constraints.txt -d "$WHEELHOUSE" \
    ".[dev,pipeline]" "setuptools>=68" wheel
  echo "$pins_sha" > "$WHEELHOUSE/.vend-pins-sha256"
fi

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

# The portal's real-browser tests (tests/browser) drive Debian's Chromium through Playwright (pinned in pyproject's dev
# extra; its wheel carries its own driver, and `playwright install` is never run: the harness launches
# /usr/bin/chromium, or $VEND_CHROMIUM). Installed only when missing; without it the browser tests fail, never skip.
CHROMIUM_LOG=.vend/chromium-install.log
install_chromium() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  mkdir -p .vend
  # A fresh machine's package lists may be missing or stale: on failure, update them once and retry.
  { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
    || { DEBIAN_FRONTEND=noninteractive apt-get update \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; } >"$CHROMIUM_LOG" 2>&1
}
if [ -z "${VEND_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ] && ! install_chromium; then
  echo "setup: could not install Debian's chromium (apt-get's output: $CHROMIUM_LOG; as root run apt-get install -y --no-install-recommends chromium, or set VEND_CHROMIUM to a Chromium binary): the browser tests (tests/browser) will FAIL" >&2
fi

# npm test data, each pinned by its package-lock.json and installed with `npm ci` only when node_modules was not
# installed from this very lock file (its hash is kept there):
#   tests/oracle  the IAM oracle, @cloud-copilot/iam-simulate
#   tests/github  GitHub's published OpenAPI description, @octokit/openapi (the local GitHub validates against it)
#   tests/browser axe-core, injected into the portal's pages to check accessibility (tests/browser/harness.py)
if command -v npm >/dev/null && command -v node >/dev/null; then
  for npm_dir in tests/oracle tests/github tests/browser; do
    lock_sha=$(sha256sum "$npm_dir/package-lock.json" | cut -d' ' -f1)
    if [ "$(cat "$npm_dir/node_modules/.vend-lock-sha256" 2>/dev/null)" != "$lock_sha" ]; then
      (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
      echo "$lock_sha" > "$npm_dir/node_modules/.vend-lock-sha256"
    fi
  done
else
  echo "setup: npm/node not found: the IAM oracle (tests/oracle), GitHub's OpenAPI description (tests/github) and axe-core (tests/browser) are NOT installed and their tests will FAIL; install Node.js 20+ with npm and rerun scripts/setup.sh" >&2
fi
