"""The CDK app's constructs, one module per concern; `LandingZoneStack` (stack.py) composes them.

Both names are imported on first use: importing aws_cdk starts jsii's node kernel (1.7-2.3 s), which whoever reads
only a light module of the package (versions.py, the tool versions) should not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from landing_zone.cdk.base import VendingConfig
    from landing_zone.cdk.stack import LandingZoneStack

__all__ = ["LandingZoneStack", "VendingConfig"]
_HOMES = {"LandingZoneStack": "landing_zone.cdk.stack", "VendingConfig": "landing_zone.cdk.base"}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
