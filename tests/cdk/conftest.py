"""One synthesis per session: the app with the cdk-nag plugin, written to a temporary cloud assembly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_app_module() -> Any:
    spec = importlib.util.spec_from_file_location("cdk_app", REPO_ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = _load_app_module().build_app(outdir=str(outdir))
    assembly = app.synth()  # raises when cdk-nag reports an unacknowledged finding
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return {"outdir": outdir, "stack": stack, "template": template, "assembly": assembly}


@pytest.fixture(scope="session")
def template(synthesized: dict[str, Any]) -> Any:
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized["template"])


@pytest.fixture(scope="session")
def resources(synthesized: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return synthesized["template"]["Resources"]


def staged_asset(outdir: Path, digest: str) -> Path:
    """Where CDK staged the asset with this hash. Read from the assets manifest, not guessed: CDK appends the source
    path's "extension" to the name, so a checkout in a folder like /tmp/tmp.AbC123 stages `asset.<hash>.AbC123`."""
    for manifest in outdir.glob("*.assets.json"):
        files = json.loads(manifest.read_text())["files"]
        if digest in files:
            return outdir / files[digest]["source"]["path"]
    raise AssertionError(f"no asset {digest} in {outdir}")


def vending_functions(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The service's functions (vending/functions.py), without CDK's own (the portal's BucketDeployment handler)."""
    from vending.functions import FUNCTIONS

    names = {spec.name for spec in FUNCTIONS}
    return {
        lid: r
        for lid, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("FunctionName") in names
    }
