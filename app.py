"""CDK app: the landing-zone stack, checked by cdk-nag (AwsSolutions) through CDK's Validations plugin API.

`python app.py` synthesizes to cdk.out/ (no CDK CLI needed); `cdk deploy` uses the same file through cdk.json.
Synthesis fails on any cdk-nag finding that is not acknowledged with a reason in landing_zone/cdk/.

Deployment parameters are CDK context values (cdk.json has placeholders; override with `-c key=value`):
  vending:platformAdminRoleArn   the CLI's role, created by the stack with the CLI's grants (landing_zone/cdk/roles.py);
                                 with PlatformApprover (approve route only), the only callers of the API
  vending:managementAccountId    the Organizations management account (organizations ARNs name it)
  vending:organizationId         o-xxxxxxxxxx
  vending:powertoolsLayerVersion version of the public AWSLambdaPowertoolsPythonV3-python312-arm64 layer
  vending:alarmEmail             optional e-mail subscription on the notifications topic
  vending:freezePolicyId         optional: vend-freeze's id (p-...) once `vend guardrails apply` made it; with it the
                                 stack adds the AWS Budgets backstop's execution role (landing_zone/cdk/roles.py)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

# jsii prints a banner for Node versions it no longer lists; synthesis works the same.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Environment, Tags, Validations
from cdk_nag import AwsSolutionsChecks

from landing_zone.cdk import LandingZoneStack, VendingConfig
from vending.layout import load_layout

CDK_JSON = Path(__file__).with_name("cdk.json")
STACK_NAME = "AccountVending"


def _context(app: App, key: str) -> Any:
    value = app.node.try_get_context(key)
    if value is None or value == "":
        return None
    return value


def config_from_context(app: App) -> VendingConfig:
    role = str(_context(app, "vending:platformAdminRoleArn") or "")
    management = str(_context(app, "vending:managementAccountId") or "")
    organization = str(_context(app, "vending:organizationId") or "")
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", role):
        raise ValueError(f"vending:platformAdminRoleArn must be an IAM role ARN, got {role!r}")
    if not re.fullmatch(r"\d{12}", management):
        raise ValueError(f"vending:managementAccountId must be a 12-digit account id, got {management!r}")
    if not re.fullmatch(r"o-[a-z0-9]{10,32}", organization):
        raise ValueError(f"vending:organizationId must look like o-xxxxxxxxxx, got {organization!r}")
    email = _context(app, "vending:alarmEmail")
    freeze = _context(app, "vending:freezePolicyId")
    if freeze is not None and not re.fullmatch(r"p-[0-9a-z_]{8,128}", str(freeze)):
        raise ValueError(f"vending:freezePolicyId must be an SCP id like p-xxxxxxxx, got {freeze!r}")
    return VendingConfig(
        platform_admin_role_arn=role,
        management_account_id=management,
        organization_id=organization,
        powertools_layer_version=int(_context(app, "vending:powertoolsLayerVersion") or 27),
        alarm_email=str(email) if email else None,
        freeze_policy_id=str(freeze) if freeze else None,
    )


def build_app(*, outdir: str | None = None, context: dict[str, Any] | None = None) -> tuple[App, LandingZoneStack]:
    # cdk.json's context is the default when run without the CLI; the CLI's own context (and -c) take precedence.
    defaults = json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {})
    outdir = outdir or os.environ.get("CDK_OUTDIR") or str(CDK_JSON.with_name("cdk.out"))
    app = App(outdir=outdir, context={**defaults, **(context or {})})
    config = config_from_context(app)
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    stack = LandingZoneStack(
        app,
        STACK_NAME,
        config=config,
        layout=load_layout(),
        env=Environment(account=account, region=region) if account and region else None,
        description="Account vending and landing zone for LLM teams (issue 5)",
    )
    Tags.of(stack).add("service", "account-vending")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
