"""EC2 security group rules as AWS keeps them: moto drops the description of a rule whose destination is a prefix list
(the sagemaker module's HTTPS-to-S3 egress through the gateway endpoint), so DescribeSecurityGroupRules reads back no
description and the provider plans to set it again. The rule keeps the description it was created with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from landing_zone.local.patching import replaced, require

_RULE_PARAMS = (
    "self",
    "ec2_backend",
    "ip_protocol",
    "group_id",
    "from_port",
    "to_port",
    "ip_range",
    "source_group",
    "prefix_list_id",
    "is_egress",
    "tags",
)


@contextlib.contextmanager
def prefix_list_rule_descriptions() -> Iterator[None]:
    from moto.ec2.models.security_groups import SecurityGroupRule

    original_description = require(SecurityGroupRule, "description")

    def make(original: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            named = dict(zip(_RULE_PARAMS[1:], args, strict=False)) | kwargs
            self.vend_prefix_list_description = (named.get("prefix_list_id") or {}).get("Description")

        return __init__

    def description(self: Any) -> str | None:
        return self.ip_range.get("Description") or getattr(self, "vend_prefix_list_description", None)  # type: ignore[no-any-return]

    with replaced(SecurityGroupRule, "__init__", _RULE_PARAMS, make):
        SecurityGroupRule.description = property(description)  # type: ignore[assignment, method-assign]
        try:
            yield
        finally:
            SecurityGroupRule.description = original_description  # type: ignore[method-assign]
