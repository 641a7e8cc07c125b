"""Which Terraform configurations this process has seen `terraform validate` pass, so the validate stage runs once per
distinct configuration instead of once per pipeline.

`terraform validate` reads the configuration only (no variables, no state): the root module's .tf and .tf.json files,
the modules it calls, the lock file, and the Terraform and providers they pin. Stacks rendered from one template for
several teams and stages differ in their tfvars and backend key alone, so they are one configuration (the demo's five
bootstrap runs: one validate). The validate is a Terraform start that loads the provider's schema (2.2 CPU s); the plan
stage validates the configuration again in any case, so a remembered verdict can delay an error, never hide one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path

# The backend's state key is the stack's own path (terraform/environments/<team>/<stage>/<stack>/backend.tf):
# the one line in which two stages of one template differ, and one validate does not read.
_BACKEND_KEY = re.compile(r"(?m)^\s*key\s*=.*$")

_VALIDATED: set[str] = set()
_LOCK = threading.Lock()


def _module_files(directory: Path) -> list[Path]:
    return sorted([*directory.glob("*.tf"), *directory.glob("*.tf.json")])


def module_dirs(stack_dir: Path, data_dir: Path) -> list[Path]:
    """The called modules' folders, as `terraform init` recorded them (none when the stack calls none)."""
    manifest = data_dir / "modules" / "modules.json"
    if not manifest.is_file():
        return []
    modules = json.loads(manifest.read_text(encoding="utf-8")).get("Modules") or []
    return sorted({(stack_dir / m["Dir"]).resolve() for m in modules if m.get("Key")})


def configuration_key(stack_dir: Path, data_dir: Path, terraform: str) -> str | None:
    """A digest of everything `terraform validate` reads in `stack_dir` after an init into `data_dir`; None when
    part of it cannot be read (the stage then validates as usual)."""
    digest = hashlib.sha256()
    root = stack_dir.resolve()
    try:
        st = os.stat(terraform)
        digest.update(f"{os.path.realpath(terraform)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        # Modules are found by relative path: where they are is part of the configuration, as is what they hold.
        for directory in [root, *module_dirs(stack_dir, data_dir)]:
            files = _module_files(directory) + (sorted(root.glob(".terraform.lock.hcl")) if directory == root else [])
            digest.update(f"dir\0{'' if directory == root else directory}\0{len(files)}\0".encode())
            for f in files:
                text = f.read_text(encoding="utf-8")
                if directory == root and f.name == "backend.tf":
                    text = _BACKEND_KEY.sub("", text)
                digest.update(f"{f.name}\0{len(text)}\0{text}\0".encode())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return digest.hexdigest()


def validated(key: str | None) -> bool:
    with _LOCK:
        return key is not None and key in _VALIDATED


def remember(key: str | None) -> None:
    if key is not None:
        with _LOCK:
            _VALIDATED.add(key)


def forget_all() -> None:
    with _LOCK:
        _VALIDATED.clear()
