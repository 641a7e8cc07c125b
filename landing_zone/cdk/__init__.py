"""The CDK app's constructs, one module per concern; `LandingZoneStack` (stack.py) composes them."""

from landing_zone.cdk.base import VendingConfig
from landing_zone.cdk.stack import LandingZoneStack

__all__ = ["LandingZoneStack", "VendingConfig"]
