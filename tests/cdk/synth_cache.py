"""One synthesis per source tree, not one per test process: a synthesis costs ~16 s of CPU (jsii and cdk-nag), and
the suite's workers each needed one (five in `make test`, two in `make test-fast`, every time).

The cloud assembly is kept under a key made of everything synthesis reads: the content of every file of the checkout
git does not ignore (tracked or new) and its path, the version of every installed distribution (the Lambda asset copies
site-packages), the Node.js binary and the CDK environment variables. Any change is a new key, hence a new
synthesis; a test always gets its own copy, so nothing a test writes reaches the cache. Outside a git checkout there
is no key and every session synthesizes, as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEEP = 3  # assemblies kept: the current tree's and a couple of recent ones (a branch switch back and forth)
ENVIRONMENT = ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION", "CDK_OUTDIR", "JSII_RUNTIME")


def cache_root() -> Path:
    return Path(os.environ.get("VEND_SYNTH_CACHE") or Path.home() / ".cache" / "vend" / "cdk-synth")


def source_key(repo: Path, variant: str = "") -> str | None:
    """The key of what synthesis reads in `repo` (and of `variant`: the context a test adds); None when `repo` is
    not a git checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=repo,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        return None
    digest = hashlib.sha256(f"{repo.resolve()}\0{variant}\0".encode())  # staged asset names carry the source's path
    for name in sorted(set(listed.stdout.split(b"\0")) - {b""}):
        path = repo / os.fsdecode(name)
        digest.update(name + b"\0")
        if path.is_file():  # listed but deleted in the working tree: the name alone
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    for dist in sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()):
        digest.update(dist.encode() + b"\0")
    node = shutil.which("node")
    if node:
        stat = Path(node).resolve().stat()
        digest.update(f"node {Path(node).resolve()} {stat.st_size} {stat.st_mtime_ns}".encode())
    for name in ENVIRONMENT:
        digest.update(f"{name}={os.environ.get(name)}\0".encode())
    return digest.hexdigest()[:32]


def synthesized_into(
    outdir: Path,
    repo: Path,
    synthesize: Callable[[Path], dict[str, Any]],
    *,
    variant: str = "",
    root: Path | None = None,
) -> dict[str, Any]:
    """The assembly for `repo` copied into `outdir`, and the facts `synthesize` returned (JSON-serialisable) when it
    made it. `synthesize(directory)` writes an assembly to `directory`; it runs once per key, under a lock that
    other test processes wait on."""
    key = source_key(repo, variant)
    if key is None:
        return synthesize(outdir)
    root = root or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    entry = root / key
    with (root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (entry / "facts.json").is_file():
            staging = root / f"{key}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            facts = synthesize(staging / "cdk.out")
            (staging / "facts.json").write_text(json.dumps(facts), encoding="utf-8")  # written last: marks it whole
            shutil.rmtree(entry, ignore_errors=True)
            staging.rename(entry)
            _prune(root, keep=entry)
    os.utime(entry)  # recently used: kept by _prune
    shutil.copytree(entry / "cdk.out", outdir, dirs_exist_ok=True, symlinks=True)
    facts = json.loads((entry / "facts.json").read_text(encoding="utf-8"))
    assert isinstance(facts, dict)
    return facts


def _prune(root: Path, keep: Path) -> None:
    entries = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.endswith(".partial")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in [e for e in entries if e != keep][KEEP - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
        (root / f"{old.name}.lock").unlink(missing_ok=True)
