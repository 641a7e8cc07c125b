"""What every construct of the landing-zone stack shares: deployment parameters, names, ARN helpers, cdk-nag notes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Aws, Stack, Validations
from constructs import Construct, IConstruct

from step_functions import LIFECYCLE_STATE_MACHINE_NAME, STATE_MACHINE_NAME
from vending.layout import Layout
from vending.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
METRICS_NAMESPACE = "AccountVending"
SERVICE_NAME = "account-vending"


@dataclass(frozen=True, kw_only=True)
class VendingConfig:
    """Deployment parameters (CDK context values, see cdk.json and app.py)."""

    platform_admin_role_arn: str
    management_account_id: str
    organization_id: str
    powertools_layer_version: int
    alarm_email: str | None = None
    # vend-freeze's id (p-...), once `vend guardrails apply` has made it: the Budgets backstop's execution role may
    # attach exactly that policy, so without it the backstop is left out (VEND_BACKSTOP_ROLE_ARN empty).
    freeze_policy_id: str | None = None


class BaseStack(Stack):
    """The shared part of LandingZoneStack: config, settings, cdk-nag acknowledgements and ARN helpers."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: VendingConfig, layout: Layout, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.layout = layout
        self.acknowledgements: list[tuple[str, str, str]] = []  # (construct path, rule id, reason)
        self.settings = Settings.from_env()

    def acknowledge(self, construct: IConstruct, rule_id: str, reason: str) -> None:
        """Acknowledge one cdk-nag finding on one construct (and its children) with the reason it is acceptable."""
        Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))
        self.acknowledgements.append((construct.node.path, rule_id, reason))

    def arn(self, service: str, resource: str, *, region: str | None = None, account: str | None = None) -> str:
        return (
            f"arn:{Aws.PARTITION}:{service}:{Aws.REGION if region is None else region}:"
            f"{Aws.ACCOUNT_ID if account is None else account}:{resource}"
        )

    @property
    def state_machine_arn(self) -> str:
        # Built from the fixed name rather than a Ref: the state machine depends on the functions (substitutions),
        # so a Ref in a function's environment would be a dependency cycle.
        return self.arn("states", f"stateMachine:{STATE_MACHINE_NAME}")

    @property
    def lifecycle_state_machine_arn(self) -> str:
        return self.arn("states", f"stateMachine:{LIFECYCLE_STATE_MACHINE_NAME}")

    @property
    def lifecycle_executions_arn(self) -> str:
        return self.arn("states", f"execution:{LIFECYCLE_STATE_MACHINE_NAME}:*")

    @property
    def executions_arn(self) -> str:
        return self.arn("states", f"execution:{STATE_MACHINE_NAME}:*")

    @property
    def event_bus_arn(self) -> str:
        return self.arn("events", f"event-bus/{self.settings.event_bus_name}")

    @property
    def access_role_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:iam::*:role/{self.layout.organization.access_role_name}"

    def org_arns(self, kind: str) -> list[str]:
        mgmt, org = self.config.management_account_id, self.config.organization_id
        base = f"arn:{Aws.PARTITION}:organizations::{mgmt}"
        return {
            "account": [f"{base}:account/{org}/*"],
            "ou": [f"{base}:ou/{org}/ou-*"],
            "root": [f"{base}:root/{org}/r-*"],
            # SCPs and tag policies (vending.guardrails.tag_policies): the only policy types the platform writes.
            "policy": [f"{base}:policy/{org}/service_control_policy/p-*", f"{base}:policy/{org}/tag_policy/p-*"],
            "awspolicy": [f"arn:{Aws.PARTITION}:organizations::aws:policy/service_control_policy/p-*"],
        }[kind]

    def nag(self, value: str) -> str:
        """The text cdk-nag prints for a resource string: pseudo parameters as <AWS::X>, GetAtt/Ref as <Id.Attr>."""
        resolved = self.resolve(value)
        if isinstance(resolved, str):
            return resolved
        out = []
        for part in resolved["Fn::Join"][1]:
            if isinstance(part, str):
                out.append(part)
            elif "Ref" in part:
                out.append(f"<{part['Ref']}>")
            elif "Fn::GetAtt" in part:
                out.append(f"<{part['Fn::GetAtt'][0]}.{part['Fn::GetAtt'][1]}>")
            else:
                raise ValueError(f"cannot render {part} for a cdk-nag finding id")
        return "".join(out)
