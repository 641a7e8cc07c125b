"""One synthesis per source tree (tests/cdk/synth_cache.py): the app with the cdk-nag plugin, as a cloud assembly in
the session's temporary directory."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.cdk.synth_cache import synthesized_into

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_app_module() -> Any:
    spec = importlib.util.spec_from_file_location("cdk_app", REPO_ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthesize(outdir: Path, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Synthesizes the app (cdk.json's context and `context`) to `outdir`; what the tests read of the stack object."""
    app, stack = _load_app_module().build_app(outdir=str(outdir), context=context)
    app.synth()  # raises when cdk-nag reports an unacknowledged finding
    return {
        "stack_name": stack.stack_name,
        "acknowledgements": stack.acknowledgements,
        "config": dataclasses.asdict(stack.config),
    }


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app synthesized once per source tree (tests/cdk/synth_cache.py), copied into this session's directory;
    `stack` carries what the tests read of the stack object: its name, acknowledgements and config."""
    from landing_zone.cdk import VendingConfig

    outdir = tmp_path_factory.mktemp("cdk.out")
    facts = synthesized_into(outdir, REPO_ROOT, synthesize)
    stack = SimpleNamespace(
        stack_name=facts["stack_name"],
        acknowledgements=[tuple(a) for a in facts["acknowledgements"]],
        config=VendingConfig(**facts["config"]),
    )
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    return {"outdir": outdir, "stack": stack, "template": template}


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
