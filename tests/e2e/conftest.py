"""The embedded emulator with the service deployed, shared by the end-to-end tests of one worker."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from landing_zone.local.runtime import Deployment, Emulator, deploy
from vending.pipeline.terraform import unavailable_reason


def terraform_ready() -> str | None:
    """Why Terraform-backed tests cannot run here, or None when they can."""
    return unavailable_reason()


needs_terraform = pytest.mark.skipif(terraform_ready() is not None, reason=str(terraform_ready()))


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[Emulator, Deployment]]:
    with Emulator() as running:  # restores the environment, these two included, when it stops
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
        os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
        yield running, deploy()
