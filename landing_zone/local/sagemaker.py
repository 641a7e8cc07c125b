"""SageMaker as AWS answers it: moto validates endpoint-configuration instance types against a list frozen years ago
(no ml.g5, ml.g6, ml.inf2, ml.p5), so every LLM endpoint the templates plan is refused. AWS accepts the types of its
own service model, which botocore ships: this patch validates against that list instead."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from landing_zone.local.patching import require


def aws_instance_types() -> frozenset[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return frozenset(model.shape_for("ProductionVariantInstanceType").enum)


@contextlib.contextmanager
def current_endpoint_instance_types() -> Iterator[frozenset[str]]:
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpointConfig

    original = require(FakeEndpointConfig, "validate_instance_type", ("self", "instance_type"))
    valid = aws_instance_types()

    def validate_instance_type(self: Any, instance_type: str) -> None:
        if instance_type not in valid:
            raise ValidationError(
                message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                "Member must satisfy enum value set of ProductionVariantInstanceType"
            )

    FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]
    try:
        yield valid
    finally:
        FakeEndpointConfig.validate_instance_type = original  # type: ignore[method-assign]


@contextlib.contextmanager
def models_keep_network_isolation() -> Iterator[None]:
    """moto's Model sets EnableNetworkIsolation to False whatever CreateModel asked, so DescribeModel reads back a model
    with its network open and the provider plans to replace it; SageMaker keeps the value given."""
    from moto.sagemaker.responses import SageMakerResponse

    from landing_zone.local.patching import replaced

    def make(original: Any) -> Any:
        def create_model(self: Any) -> Any:
            result = original(self)
            model = self.sagemaker_backend._models[self._get_param("ModelName")]
            model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
            return result

        return create_model

    with replaced(SageMakerResponse, "create_model", ("self",), make):
        yield
