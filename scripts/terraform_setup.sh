#!/usr/bin/env bash
# The Terraform part of scripts/setup.sh: decide the provider mirror setting (recorded in .vend/env) and check the
# CLI's version against tools/versions.env. Prints only what a person should act on (tests/test_quiet_quickstart.py).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tools/versions.env
. tools/versions.env

# Terraform and the hashicorp/aws provider are installed by the machine, not by us: no registry is reachable,
# so providers come from a filesystem mirror (unpacked layout). VEND_TF_PROVIDER_MIRROR names it; when unset,
# look for one where mirrors usually live (Terraform's implicit local directories and shallow system paths).
if [ -z "${VEND_TF_PROVIDER_MIRROR:-}" ]; then
  for base in "$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins" /usr/local/share/terraform/plugins \
              /usr/share/terraform/plugins; do
    if [ -d "$base/registry.terraform.io/hashicorp/aws" ]; then VEND_TF_PROVIDER_MIRROR=$base; break; fi
  done
fi
if [ -z "${VEND_TF_PROVIDER_MIRROR:-}" ]; then
  found=$(find / -maxdepth 5 -type d -path '*/registry.terraform.io/hashicorp/aws' \
            -not -path '/proc/*' -not -path '/sys/*' 2>/dev/null | head -n 1 || true)
  [ -n "$found" ] && VEND_TF_PROVIDER_MIRROR=${found%/registry.terraform.io/hashicorp/aws}
fi
mkdir -p .vend
if [ -n "${VEND_TF_PROVIDER_MIRROR:-}" ]; then
  echo "export VEND_TF_PROVIDER_MIRROR=$VEND_TF_PROVIDER_MIRROR" > .vend/env
  echo "setup: Terraform provider mirror: $VEND_TF_PROVIDER_MIRROR" >&2
else
  : > .vend/env
  echo "setup: no Terraform provider mirror found; Terraform installs providers from the registry (set VEND_TF_PROVIDER_MIRROR on offline machines)" >&2
fi
# The runner hands Terraform its own CLI configuration when the mirror is set, so an inherited TF_CLI_CONFIG_FILE
# only matters without one; named but missing, the runner refuses it (TerraformUnavailable), and this says so once.
if [ -z "${VEND_TF_PROVIDER_MIRROR:-}" ] && [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -f "$TF_CLI_CONFIG_FILE" ]; then
  echo "setup: TF_CLI_CONFIG_FILE=$TF_CLI_CONFIG_FILE does not exist: pipelines will refuse to run until it names a" \
       "CLI configuration, or VEND_TF_PROVIDER_MIRROR names a provider mirror, or it is unset" >&2
fi
# `terraform version` reads no CLI configuration worth having; run without the inherited one so a missing file does
# not print Terraform's "Unable to open CLI configuration file" warning here.
tf_version() { env -u TF_CLI_CONFIG_FILE CHECKPOINT_DISABLE=1 terraform version | head -n 1; }
if ! command -v terraform >/dev/null; then
  echo "setup: terraform CLI not on PATH; pipeline stages will fail clearly" >&2
elif [ "$(tf_version)" != "Terraform v${TERRAFORM_VERSION}" ]; then
  echo "setup: terraform is $(tf_version), tools/versions.env pins ${TERRAFORM_VERSION}" >&2
fi

