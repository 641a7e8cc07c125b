"""What a team's stack may contain when the platform's own role runs it.

Only a decommission's teardown runs a team's stack as the account's access role (the account is quarantined, so the
team's roles may do nothing; vending.pipeline.orchestration.run_credentials). That role is exempt from every SCP
fence, and Terraform runs the stack's providers and provisioners with its credentials: a `local-exec` provisioner
with `when = destroy`, or a provider of the team's choosing (hashicorp/external runs any program while planning),
would act as the platform. So such a run refuses, before init, any provider outside PLATFORM_RUN_PROVIDERS (read
from the committed lock file, which `init -lockfile=readonly` holds the run to), and, before apply, any provisioner
in the configuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# Providers that run no code of the stack's choosing: resources and data sources of AWS, and pure functions.
PLATFORM_RUN_PROVIDERS = frozenset(
    {
        "registry.terraform.io/hashicorp/aws",
        "registry.terraform.io/hashicorp/random",
        "registry.terraform.io/hashicorp/time",
        "registry.terraform.io/hashicorp/tls",
    }
)
LOCK_FILE = ".terraform.lock.hcl"
_PROVIDER = re.compile(r'^\s*provider\s+"([^"]+)"', re.MULTILINE)


def provider_refusals(stack_dir: Path) -> list[str]:
    """Providers the lock file pins that a platform-run may not load. No lock file: refused (init would pick)."""
    lock = stack_dir / LOCK_FILE
    if not lock.is_file():
        return [f"{LOCK_FILE} is missing: a platform-run loads only the providers a committed lock file pins"]
    return [
        f"provider {name} may run code of the stack's choosing; a platform-run loads only "
        f"{sorted(PLATFORM_RUN_PROVIDERS)}"
        for name in _PROVIDER.findall(lock.read_text(encoding="utf-8"))
        if name not in PLATFORM_RUN_PROVIDERS
    ]


def _modules(module: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield prefix, module
    for name, call in (module.get("module_calls") or {}).items():
        yield from _modules(call.get("module") or {}, f"{prefix}module.{name}.")


def provisioner_refusals(plan: Mapping[str, Any]) -> list[str]:
    """Every resource of the configuration (root and every module) that carries a provisioner."""
    root = (plan.get("configuration") or {}).get("root_module") or {}
    return [
        f"{prefix}{resource.get('address')}: provisioner {p.get('type')!r} would run as the platform's role"
        for prefix, module in _modules(root)
        for resource in module.get("resources") or []
        for p in resource.get("provisioners") or []
    ]
