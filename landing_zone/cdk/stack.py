"""The landing-zone stack: vending functions, the AccountVending state machine, the API, events, data and alarms.

Everything here is derived from the single sources of truth: vending/functions.py (functions and their grants),
step_functions/account_vending.asl.json (the workflow), vending/onboarding.py (the onboarding event pattern),
docs/openapi.json (the API routes, generated from the powertools resolver), landing_zone/layout.yaml,
tools/versions.env (the pipeline's tool versions) and vending/portal/site/ (the hosted portal's files). Each concern
is a module of this package; this one composes them.
cdk-nag acknowledgements are made through `Validations.of(...).acknowledge` (cdk-nag 3) and every one is recorded
in `LandingZoneStack.acknowledgements` so that tests and reviewers can list them.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from landing_zone.cdk.api import build_api
from landing_zone.cdk.base import BaseStack, VendingConfig
from landing_zone.cdk.events import (
    build_onboarding,
    build_pipeline_callbacks,
    build_schedules_and_notifications,
    build_usage_capture,
)
from landing_zone.cdk.functions import Functions
from landing_zone.cdk.monitoring import build_monitoring
from landing_zone.cdk.pipeline import build_pipeline_project
from landing_zone.cdk.portal import build_portal_hosting, build_portal_sign_in, deploy_portal_site
from landing_zone.cdk.roles import (
    approver_role_arn,
    build_admin_role,
    build_approver_role,
    build_backstop_role,
    build_lead_roles,
    lead_role_arns,
    portal_role_arns,
)
from landing_zone.cdk.storage import build_storage
from landing_zone.cdk.workflow import build_lifecycle_state_machine, build_state_machine
from vending.layout import Layout


class LandingZoneStack(BaseStack):
    """Account vending for LLM teams; deploy in the Organizations management account (CreateAccount needs it)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: VendingConfig, layout: Layout, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, config=config, layout=layout, **kwargs)
        self.storage = build_storage(self)
        self.key, self.tables, self.topic = self.storage.key, self.storage.tables, self.storage.topic
        self.pipeline_project = build_pipeline_project(self, self.storage)
        built = Functions(self, self.storage, self.pipeline_project)
        self.functions = built.functions
        self.state_machine = build_state_machine(self, self.functions)
        self.lifecycle_state_machine = build_lifecycle_state_machine(self, self.functions)
        self.admin_role = build_admin_role(self, built.resource_arns, reports_key_arn=self.storage.key.key_arn)
        self.approver_role = build_approver_role(self, self.storage)
        self.backstop_role = build_backstop_role(self)
        # The portal's distribution comes before the API (which allows its origin) and refers to nothing of it.
        self.portal = build_portal_hosting(self, self.storage)
        self.functions["Api"].add_environment("VEND_PORTAL_ORIGIN", self.portal.origin)
        self.api = build_api(
            self,
            self.functions["Api"],
            approver_role_arn=approver_role_arn(),
            lead_role_arns=lead_role_arns(self),
            portal_origin=self.portal.origin,
            portal_role_arns=portal_role_arns(),
        )
        self.lead_roles = build_lead_roles(self, self.api.arn_for_execute_api())
        self.portal_sign_in = build_portal_sign_in(
            self, self.portal, api_arn=self.api.arn_for_execute_api(), lead_roles=self.lead_roles
        )
        deploy_portal_site(self, self.portal, self.portal_sign_in, self.api)
        self.onboarding = build_onboarding(self, self.storage, self.functions)
        build_schedules_and_notifications(self, self.storage, self.functions)
        build_pipeline_callbacks(self, self.pipeline_project.project_name, self.functions)
        build_usage_capture(self, self.storage, self.functions)
        build_monitoring(
            self,
            storage=self.storage,
            functions=self.functions,
            log_groups=built.log_groups,
            state_machine=self.state_machine,
            onboarding=self.onboarding,
        )
        self.setting_outputs = _setting_outputs(self, built.environment)


def _setting_outputs(stack: BaseStack, environment: dict[str, str]) -> dict[str, CfnOutput]:
    """The functions' VEND_* settings as outputs (description = the variable): the tables' names are generated, so
    the CLI learns them from here (README "Deploy to AWS" exports them)."""
    return {
        variable: CfnOutput(
            stack, "".join(part.capitalize() for part in variable.split("_")), value=value, description=variable
        )
        for variable, value in environment.items()
        if variable.startswith("VEND_")
    }
