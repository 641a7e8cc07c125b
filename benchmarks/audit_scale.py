"""Guardrail audit at scale on an emulated organization: wall time, Organizations calls per account, findings.

    .venv/bin/python benchmarks/audit_scale.py --accounts 5000 [--json]

Setup (building N accounts in moto) is timed apart from the audit and goes straight to moto's backend: through the
API it would cost 4 calls per account and minutes of emulator time that say nothing about the audit. The vending
records (the audit's intent) are written to a moto DynamoDB requests table with BatchWriteItem. The audit itself
goes through boto3 like in AWS, with moto made AWS-like (20 targets a page for ListTargetsForPolicy, see
landing_zone/local/organizations.py): the records are read in bulk (one paged Scan, counted apart) and every
Organizations call is counted by a botocore event hook.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from moto import mock_aws

from landing_zone.local.organizations import aws_like_organizations
from scps.render import render
from vending.guardrails.audit import audit_organization
from vending.guardrails.orgapi import ApiCallCounter
from vending.guardrails.reconcile import reconcile_organization
from vending.layout import STAGES, load_layout
from vending.lifecycle import RequestRecord, RequestStore, Status

TABLE = "vending-requests"

DRIFT_PER_ACCOUNT_TYPE = 10
FOREIGN = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}'


@contextlib.contextmanager
def _no_iam_roles() -> Iterator[None]:
    """moto builds a whole IAM backend per created account (for its access role); the audit never reads IAM."""
    import moto.iam

    class _Stub:
        def __getitem__(self, _key: str) -> Any:
            return self

        def create_role(self, **_kwargs: Any) -> None:
            return None

    real = moto.iam.iam_backends
    moto.iam.iam_backends = _Stub()  # type: ignore[assignment]
    try:
        yield
    finally:
        moto.iam.iam_backends = real


def _record(team: Any, stage: str, i: int, account_id: str) -> RequestRecord:
    request = {
        "team": team.slug,
        "stage": stage,
        "owner_email": team.owner_email,
        "cost_center": team.cost_center,
        "gpu_tier": team.gpu_tier,
        "regions": list(team.regions),
        "stacks": list(team.stacks),
        "repository": team.repository,
    }
    return RequestRecord(
        request_id=f"{team.slug}-{stage}-{i}",
        team=team.slug,
        stage=stage,
        status=Status.READY,
        request=request,
        account_id=account_id,
        account_email=f"aws+{team.slug}-{stage}-{i}@x.io",
    )


def _store_records(records: list[RequestRecord]) -> None:
    """Setup only: the items RequestStore writes, 25 to a BatchWriteItem."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "request_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "request_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table = RequestStore(ddb, TABLE)._items  # the store's own item format
    items = [table.to_item(r) for r in records]
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]})


def build(n: int) -> set[tuple[str, str]]:
    """An org of n team accounts over the stage OUs with their vending records, reconciled, then drift injected;
    returns the injected (type, target) set."""
    layout = load_layout()
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    reconcile_organization(org, layout, dry_run=False)  # OU tree, policies, OU attachments
    from moto.organizations.models import organizations_backends

    backend = organizations_backends[org.describe_organization()["Organization"]["MasterAccountId"]]["aws"]
    ous = {path: ou.id for ou in backend.ou for path in [_path(backend, ou)]}
    policies = {p.name: p for p in backend.policies}
    teams = list(layout.teams)
    team_policies = render(layout).team_policies
    accounts, records = [], []
    with _no_iam_roles():
        for i in range(n):
            team, stage = teams[i % len(teams)], STAGES[(i // len(teams)) % 2]
            status = backend.create_account(
                AccountName=f"{team.slug}-{i}",
                Email=f"aws+{team.slug}-{stage}-{i}@x.io",
                Tags=[
                    {"Key": "team", "Value": team.slug},
                    {"Key": "stage", "Value": stage},
                    {"Key": "cost-center", "Value": team.cost_center},
                    {"Key": "gpu-tier", "Value": team.gpu_tier},
                ],
            )
            account = backend.get_account_by_id(status["CreateAccountStatus"]["AccountId"])
            account.parent_id = ous[layout.ou_for_stage(stage)]
            backend.attach_policy(PolicyId=policies[f"vend-gpu-{team.gpu_tier}"].id, TargetId=account.id)
            if (team.slug, stage) in team_policies:  # the per-team policy (regions, team tag) of the account's stage
                backend.attach_policy(PolicyId=policies[team_policies[(team.slug, stage)]].id, TargetId=account.id)
            accounts.append((account, team, stage))
            records.append(_record(team, stage, i, account.id))
    injected: set[tuple[str, str]] = set()
    k = DRIFT_PER_ACCOUNT_TYPE
    picks = iter(accounts[:: max(1, n // (8 * k + 1))])
    legacy = org.create_policy(Name="legacy-deny", Description="", Type="SERVICE_CONTROL_POLICY", Content=FOREIGN)[
        "Policy"
    ]["PolicySummary"]["Id"]
    unknown: set[str] = set()
    for _ in range(k):
        account, team, stage = next(picks)
        account.parent_id = backend.ou[0].id  # moved to the root
        injected.add(("account_outside_managed_ou", f"account:{account.id}"))
        account, team, stage = next(picks)
        other = STAGES[1 - STAGES.index(stage)]
        account.parent_id = ous[layout.ou_for_stage(other)]
        injected.add(("account_in_wrong_ou", f"account:{account.id}"))
        account, team, stage = next(picks)
        account.parent_id = ous["Platform"]
        injected.add(("team_account_outside_workloads", f"account:{account.id}"))
        account, team, stage = next(picks)
        account.tags.pop("cost-center")
        injected.add(("missing_account_tags", f"account:{account.id}"))
        account, team, stage = next(picks)
        account.tags["gpu-tier"] = "training" if team.gpu_tier != "training" else "none"
        injected.add(("tag_drift", f"account:{account.id}"))
        account, team, stage = next(picks)
        org.attach_policy(PolicyId=legacy, TargetId=account.id)
        injected.add(("unexpected_attachment", f"account:{account.id}"))
        account, team, stage = next(picks)
        org.detach_policy(PolicyId=policies[f"vend-gpu-{team.gpu_tier}"].id, TargetId=account.id)
        injected.add(("missing_attachment", f"account:{account.id}"))
        account, team, stage = next(picks)
        unknown.add(account.id)  # its record is lost: an account nobody vended, in a workload OU
        injected.add(("unknown_account", f"account:{account.id}"))
    org.update_policy(PolicyId=policies["vend-gpu-none"].id, Content=FOREIGN)
    injected.add(("policy_drift", "policy:vend-gpu-none"))
    org.attach_policy(PolicyId="p-FullAWSAccess", TargetId=ous["Suspended"])
    injected.add(("full_aws_access_misplaced", "ou:Suspended"))
    _store_records([r for r in records if r.account_id not in unknown])
    return injected


def _path(backend: Any, ou: Any) -> str:
    parts = []
    while ou.type != "ROOT":
        parts.append(ou.name)
        ou = next(o for o in backend.ou if o.id == ou.parent_id)
    return "/".join(reversed(parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(var, "testing")
    with mock_aws(), aws_like_organizations():
        started = time.perf_counter()
        injected = build(args.accounts)
        setup = time.perf_counter() - started
        layout = load_layout()
        audit_client = boto3.client("organizations", region_name="us-east-1")
        counter = ApiCallCounter().attach(audit_client)
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb_counter = ApiCallCounter().attach(ddb)
        started = time.perf_counter()
        records = RequestStore(ddb, TABLE).list()  # what the handler does: one paged Scan
        records_seconds = time.perf_counter() - started
        report = audit_organization(audit_client, layout, records=records, counter=counter)
    found = {(f.type, f.target) for f in report.findings}
    result = {
        "accounts": report.accounts,
        "records": len(records),
        "seconds": round(report.seconds, 2),
        "records_seconds": round(records_seconds, 2),
        "api_calls_per_account": round(counter.total / max(report.accounts, 1), 3),
        "organizations_calls": counter.total,
        "dynamodb_calls": ddb_counter.to_dict()["by_operation"],
        "findings_found": len(report.findings),
        "findings_injected": len(injected),
    }
    missed, invented = sorted(injected - found), sorted(found - injected)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"setup {setup:.1f}s (not part of the audit)")
        print(json.dumps({**result, "api_calls": counter.to_dict(), "missed": missed, "invented": invented}, indent=2))
    print(
        f"setup_seconds={setup:.1f} missed={len(missed)} invented={len(invented)} "
        f"calls={counter.to_dict()['by_operation']}",
        file=sys.stderr,
    )
    return 0 if not missed and not invented else 1


if __name__ == "__main__":
    sys.exit(main())
