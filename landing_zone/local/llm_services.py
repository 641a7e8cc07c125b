"""The services the LLM workload templates call, completed where moto falls short: SageMaker's instance types, EKS
(add-ons, access entries, Pod Identity, the cluster security group), Bedrock guardrails, knowledge-base data
sources and invocation-logging destinations, OpenSearch Serverless policies and collections. One context manager,
entered by every emulator."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from landing_zone.local.aoss import aoss_completed
from landing_zone.local.bedrock import data_sources_added, guardrails_added, invocation_logging_validated
from landing_zone.local.ec2 import prefix_list_rule_descriptions
from landing_zone.local.eks import eks_completed
from landing_zone.local.sagemaker import current_endpoint_instance_types, models_keep_network_isolation


@contextlib.contextmanager
def llm_services_completed() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        stack.enter_context(current_endpoint_instance_types())
        stack.enter_context(models_keep_network_isolation())
        stack.enter_context(prefix_list_rule_descriptions())
        stack.enter_context(eks_completed())
        stack.enter_context(guardrails_added())
        stack.enter_context(data_sources_added())
        stack.enter_context(invocation_logging_validated())
        stack.enter_context(aoss_completed())
        yield
