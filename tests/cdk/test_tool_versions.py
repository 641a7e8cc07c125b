"""tools/versions.env is the one source of tool versions: setup, the CodeBuild buildspec and the CI workflow read it,
and the Terraform tree (required_version, lock-file platforms) agrees with it."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from landing_zone.cdk.versions import load_tool_versions

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "terraform.yml"
SETUP = REPO_ROOT / "scripts" / "setup.sh"
VERSIONS = load_tool_versions()
# Terraform platform -> the architecture names a CodeBuild image or a GitHub runner carries.
ARCHITECTURES = {"linux_amd64": ("x86_64", "amd64"), "linux_arm64": ("aarch64", "arm64")}


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def _workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text())


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _admits(constraints: str, version: str) -> bool:
    """Terraform version constraints (comma = and): =, !=, >, >=, <, <=, ~> (pessimistic)."""
    have = _version_tuple(version)
    for clause in (c.strip() for c in constraints.split(",")):
        match = re.fullmatch(r"(=|!=|>=|<=|>|<|~>)?\s*(\d+(?:\.\d+)*)", clause)
        assert match, f"cannot read the constraint {clause!r}"
        op, want_text = match.group(1) or "=", match.group(2)
        want = _version_tuple(want_text)
        padded = have[: len(want)] + (0,) * max(0, len(want) - len(have))
        ok = {
            "=": padded == want,
            "!=": padded != want,
            ">": have > want,
            ">=": have >= want,
            "<": have < want,
            "<=": have <= want,
            "~>": have >= want and have[: len(want) - 1] == want[: len(want) - 1],
        }[op]
        if not ok:
            return False
    return True


def test_admits_reads_terraform_constraints() -> None:
    assert _admits(">= 1.10, < 2.0", "1.11.4")
    assert not _admits(">= 1.10, < 2.0", "1.9.8")
    assert _admits("~> 1.11.0", "1.11.4") and not _admits("~> 1.11.0", "1.12.0")


def test_versions_file_rejects_what_bash_and_python_would_read_differently(tmp_path: Path) -> None:
    bad = tmp_path / "versions.env"
    bad.write_text('TERRAFORM_VERSION="1.11.4"\n')
    with pytest.raises(ValueError, match="without quotes"):
        load_tool_versions(bad)


def test_setup_sources_the_versions_file_and_pins_checkov_exactly(tmp_path: Path) -> None:
    # GIVEN setup.sh's checkov install line, with the versions file sourced the way setup sources it
    text = SETUP.read_text()
    assert ". tools/versions.env" in text
    install = next(line for line in text.splitlines() if "pip install" in line and "checkov" in line)
    assert re.search(r'"checkov==\$\{?CHECKOV_VERSION\}?"', install), install
    # WHEN bash sources the file, THEN it sees the same values Python reads
    show = " ".join(f'"{key}=${{{key}}}"' for key in VERSIONS)
    out = subprocess.run(
        ["bash", "-c", f". {REPO_ROOT / 'tools' / 'versions.env'} && printf '%s\\n' {show}"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert {k: seen.get(k) for k in VERSIONS} == VERSIONS


def test_workflow_reads_the_versions_file_everywhere() -> None:
    workflow = _workflow()
    text = WORKFLOW.read_text()
    # THEN no version literal of a tool is written in the workflow itself
    assert VERSIONS["TERRAFORM_VERSION"] not in text and VERSIONS["CHECKOV_VERSION"] not in text
    for name, job in workflow["jobs"].items():
        steps = _steps(job)
        uses = [s.get("uses", "") for s in steps]
        installs_terraform = any(u.startswith("hashicorp/setup-terraform@") for u in uses)
        installs_checkov = [s for s in steps if "checkov==" in s.get("run", "")]
        if not (installs_terraform or installs_checkov):
            continue
        versions = next(s for s in steps if s.get("id") == "versions")
        assert "tools/versions.env" in versions["run"] and "GITHUB_OUTPUT" in versions["run"], name
        for step in steps:
            if step.get("uses", "").startswith("hashicorp/setup-terraform@"):
                assert step["with"]["terraform_version"] == "${{ steps.versions.outputs.TERRAFORM_VERSION }}", name
        for step in installs_checkov:
            assert step["env"]["CHECKOV_VERSION"] == "${{ steps.versions.outputs.CHECKOV_VERSION }}", name
            assert '"checkov==${CHECKOV_VERSION}"' in step["run"], name
        # AND the runner's architecture is the lock files' platform
        assert job["runs-on"].startswith("ubuntu-") and "arm" not in job["runs-on"], name
        assert VERSIONS["TERRAFORM_PLATFORM"] == "linux_amd64"  # GitHub's ubuntu-* runners are x86_64
    assert any("checkov==" in s.get("run", "") for j in workflow["jobs"].values() for s in _steps(j))


@pytest.mark.cdk
def test_buildspec_reads_the_versions_file_and_the_image_matches_the_lock_platform(resources: dict[str, Any]) -> None:
    (project,) = [r for r in resources.values() if r["Type"] == "AWS::CodeBuild::Project"]
    spec = json.loads(project["Properties"]["Source"]["BuildSpec"])
    variables = spec["env"]["variables"]
    assert {k: variables[k] for k in ("TERRAFORM_VERSION", "CHECKOV_VERSION", "TERRAFORM_PLATFORM")} == {
        k: VERSIONS[k] for k in ("TERRAFORM_VERSION", "CHECKOV_VERSION", "TERRAFORM_PLATFORM")
    }
    install = "\n".join(spec["phases"]["install"]["commands"])
    assert "terraform_${TERRAFORM_VERSION}_${TERRAFORM_PLATFORM}.zip" in install
    assert '"checkov==${CHECKOV_VERSION}"' in install
    environment = project["Properties"]["Environment"]
    # LINUX_CONTAINER is x86_64 in CodeBuild (ARM_CONTAINER is aarch64); the image name carries the architecture too
    assert environment["Type"] == "LINUX_CONTAINER"
    assert VERSIONS["BUILD_ARCHITECTURE"] in ARCHITECTURES[VERSIONS["TERRAFORM_PLATFORM"]]
    assert any(arch in environment["Image"] for arch in ARCHITECTURES[VERSIONS["TERRAFORM_PLATFORM"]]), environment


def test_every_stack_requires_a_terraform_that_admits_the_pinned_version() -> None:
    found = 0
    for path in sorted((REPO_ROOT / "terraform").rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        for block in hcl2.loads(path.read_text()).get("terraform", []):
            for constraint in block.get("required_version", []):
                found += 1
                assert _admits(constraint, VERSIONS["TERRAFORM_VERSION"]), (path, constraint)
    assert found >= 18  # every environment stack and module pins one


@functools.cache
def _h1(directory: Path) -> str:
    """Terraform's h1: package hash (Go's dirhash.Hash1) of an unpacked provider directory."""
    files = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    summary = "".join(f"{hashlib.sha256((directory / f).read_bytes()).hexdigest()}  {f}\n" for f in files)
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


MIRROR = os.environ.get("VEND_TF_PROVIDER_MIRROR", "")


@pytest.mark.terraform
@pytest.mark.skipif(not MIRROR, reason="needs an unpacked provider mirror (VEND_TF_PROVIDER_MIRROR) to hash")
def test_every_lock_file_has_the_hash_of_the_build_platform_package() -> None:
    # GIVEN the provider packages of the build platform, hashed the way Terraform hashes them (h1:)
    platform = VERSIONS["TERRAFORM_PLATFORM"]
    locks = sorted((REPO_ROOT / "terraform" / "environments").rglob(".terraform.lock.hcl"))
    assert locks
    for lock in locks:
        for block in hcl2.loads(lock.read_text())["provider"]:
            for source, provider in block.items():
                version = provider["version"][0]
                package = Path(MIRROR) / source / version / platform
                assert package.is_dir(), f"{lock}: the mirror has no {source} {version} for {platform}"
                # THEN the lock file lists that exact package hash: `terraform init -lockfile=readonly` on the build
                # image accepts it
                hashes = [h for group in provider["hashes"] for h in group]
                assert _h1(package) in hashes, f"{lock.relative_to(REPO_ROOT)}: no {platform} hash for {source}"
