"""ApplyGuardrails' result whole: every change it makes is named, in the order made, and each kind of drift on the
account's path is converged with exactly the change it needs (foreign policies and the freeze left alone)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scps.render import render
from tests.guardrails.conftest import Throttling, ou_id, policy_id
from vending.exceptions import GuardrailLimitExceeded, InvalidRequest
from vending.guardrails import apply_account_guardrails
from vending.layout import Layout

FOREIGN = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}'


def _placed(org: Any, path: str = "Workloads/Staging") -> str:
    account = org.create_account(Email="a@example.com", AccountName="a")["CreateAccountStatus"]["AccountId"]
    root = org.list_roots()["Roots"][0]["Id"]
    org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou_id(org, path))
    return account


def _apply(org: Any, layout: Layout, account: str, tier: str = "training") -> Any:
    return apply_account_guardrails(org, layout, account_id=account, team="team-mlops", stage="staging", gpu_tier=tier)


def _attached(org: Any, target: str) -> set[str]:
    pages = org.get_paginator("list_policies_for_target").paginate(TargetId=target, Filter="SERVICE_CONTROL_POLICY")
    return {p["Name"] for page in pages for p in page["Policies"]}


def test_the_first_apply_names_every_change_in_order(org: Any, layout: Layout) -> None:
    account = _placed(org)
    workloads, staging = ou_id(org, "Workloads"), ou_id(org, "Workloads/Staging")

    result = _apply(org, layout, account)

    assert result.to_dict() == {
        "account_id": account,
        "team": "team-mlops",
        "stage": "staging",
        "gpu_tier": "training",
        "ou_path": "Workloads/Staging",
        "ou_id": staging,
        "policies": [
            "FullAWSAccess",
            "vend-gpu-training",
            "vend-team-team-mlops-staging",
            *(f"vend-workloads-{i}" for i in (1, 2, 3)),
            *(f"vend-workloads-staging-{i}" for i in (1, 2, 3)),
        ],
        "changes": [
            "enable_policy_type SERVICE_CONTROL_POLICY",
            *(f"create_policy vend-workloads-{i}" for i in (1, 2, 3)),
            *(f"create_policy vend-workloads-staging-{i}" for i in (1, 2, 3)),
            "create_policy vend-gpu-training",
            "create_policy vend-team-team-mlops-staging",
            *(f"attach vend-workloads-{i} -> {workloads}" for i in (1, 2, 3)),
            *(f"attach vend-workloads-staging-{i} -> {staging}" for i in (1, 2, 3)),
            f"attach vend-gpu-training -> {account}",
            f"attach vend-team-team-mlops-staging -> {account}",
            "enable_policy_type TAG_POLICY",
            "create_tag_policy vend-tags",
            "create_tag_policy vend-tags-team-mlops",
            f"attach_tag_policy vend-tags -> {staging}",
            f"attach_tag_policy vend-tags-team-mlops -> {account}",
        ],
        "in_expected_ou": True,
    }
    # AND each policy was made with the rendered content and description
    rendered = render(layout)
    for name in ("vend-gpu-training", "vend-workloads-staging-1"):
        made = org.describe_policy(PolicyId=policy_id(org, name))["Policy"]
        assert json.loads(made["Content"]) == rendered.policies[name].document
        assert made["PolicySummary"]["Description"] == rendered.policies[name].description


def test_drift_on_the_path_is_converged_with_the_change_it_needs(org: Any, layout: Layout) -> None:
    # GIVEN an applied account, then: a policy's content and description edited by hand, an own stale tier policy
    # and a foreign policy on the account, the freeze on it, and FullAWSAccess detached from the stage OU
    account = _placed(org)
    _apply(org, layout, account)
    staging = ou_id(org, "Workloads/Staging")
    rendered = render(layout)
    org.update_policy(PolicyId=policy_id(org, "vend-gpu-training"), Content=FOREIGN, Description="edited")
    org.create_policy(Name="vend-gpu-none", Description="d", Type="SERVICE_CONTROL_POLICY", Content=FOREIGN)
    org.create_policy(Name="customer-own", Description="d", Type="SERVICE_CONTROL_POLICY", Content=FOREIGN)
    freeze = rendered.freeze_policy
    org.create_policy(
        Name=freeze, Description="d", Type="SERVICE_CONTROL_POLICY", Content=rendered.policies[freeze].content
    )
    org.detach_policy(PolicyId=policy_id(org, "vend-team-team-mlops-staging"), TargetId=account)
    for name in ("vend-gpu-none", "customer-own"):
        org.attach_policy(PolicyId=policy_id(org, name), TargetId=account)
    org.attach_policy(PolicyId=policy_id(org, freeze), TargetId=account)
    org.detach_policy(PolicyId=policy_id(org, "FullAWSAccess"), TargetId=staging)

    # WHEN ApplyGuardrails runs again
    result = _apply(org, layout, account)

    # THEN exactly these changes: the content and description put back, FullAWSAccess back on the OU; on the account
    # (at the 5-policy quota) FullAWSAccess off first, the team policy on, the stale tier policy off, FullAWSAccess back
    # last; the foreign policy and the freeze stay
    assert list(result.changes) == [
        "update_policy vend-gpu-training",
        f"attach FullAWSAccess -> {staging}",
        f"detach FullAWSAccess -> {account}",
        f"attach vend-team-team-mlops-staging -> {account}",
        f"detach vend-gpu-none -> {account}",
        f"attach FullAWSAccess -> {account}",
    ]
    assert _attached(org, account) == {
        "FullAWSAccess",
        "vend-gpu-training",
        "vend-team-team-mlops-staging",
        "customer-own",
        freeze,
    }
    restored = org.describe_policy(PolicyId=policy_id(org, "vend-gpu-training"))["Policy"]
    assert json.loads(restored["Content"]) == rendered.policies["vend-gpu-training"].document
    assert restored["PolicySummary"]["Description"] == rendered.policies["vend-gpu-training"].description
    assert "vend-gpu-none" not in result.policies and "customer-own" in result.policies and freeze in result.policies


def test_an_account_outside_its_stage_ou_is_reported_not_moved(org: Any, layout: Layout) -> None:
    account = _placed(org, "Workloads/Production")
    result = _apply(org, layout, account)
    assert result.in_expected_ou is False and result.ou_path == "Workloads/Staging"
    assert org.list_parents(ChildId=account)["Parents"][0]["Id"] == ou_id(org, "Workloads/Production")


def test_refusals_name_what_is_wrong(org: Any, layout: Layout) -> None:
    account = _placed(org)
    with pytest.raises(
        InvalidRequest, match=r"^unknown GPU tier 'gold'; the layout has \['inference', 'none', 'training'\]$"
    ):
        _apply(org, layout, account, tier="gold")
    management = org.describe_organization()["Organization"]["MasterAccountId"]
    with pytest.raises(InvalidRequest, match=r"^guardrails are never applied to the management account$"):
        _apply(org, layout, management)
    assert _attached(org, account) == {"FullAWSAccess"}  # nothing was attached by either


def _foreign(org: Any, account: str, count: int) -> None:
    for i in range(count):
        pid = org.create_policy(Name=f"customer-{i}", Description="d", Type="SERVICE_CONTROL_POLICY", Content=FOREIGN)[
            "Policy"
        ]["PolicySummary"]["Id"]
        org.attach_policy(PolicyId=pid, TargetId=account)


def test_a_tier_change_on_a_full_account_never_lifts_the_old_deny_while_anything_is_allowed(
    org: Any, layout: Layout
) -> None:
    # GIVEN an applied account carrying two foreign policies: five SCPs, the quota
    account = _placed(org)
    _apply(org, layout, account)
    _foreign(org, account, 2)
    # WHEN its tier changes (the new tier's policy needs a slot the old one holds)
    moved = _apply(org, layout, account, tier="inference")
    # THEN FullAWSAccess comes off first and goes back last: between the old tier's detach and the allow's return,
    # the account allows nothing (fail closed), never everything without a tier fence
    assert [c for c in moved.changes if c.endswith(account)] == [
        f"detach FullAWSAccess -> {account}",
        f"attach vend-gpu-inference -> {account}",
        f"detach vend-gpu-training -> {account}",
        f"attach FullAWSAccess -> {account}",
    ]
    assert _attached(org, account) == {
        "FullAWSAccess",
        "vend-gpu-inference",
        "vend-team-team-mlops-staging",
        "customer-0",
        "customer-1",
    }


def test_a_target_that_would_exceed_the_quota_is_refused_by_name(org: Any, layout: Layout) -> None:
    # GIVEN an applied account whose team policy was swapped for foreign ones up to the quota
    account = _placed(org)
    _apply(org, layout, account)
    org.detach_policy(PolicyId=policy_id(org, "vend-team-team-mlops-staging"), TargetId=account)
    _foreign(org, account, 3)
    # WHEN ApplyGuardrails runs THEN the missing team policy cannot be attached without removing a foreign one, which
    # is not its to remove: refused, naming the target, the policy and the quota
    with pytest.raises(
        GuardrailLimitExceeded,
        match=rf"^target {account}: cannot attach vend-team-team-mlops-staging: 5 SCPs attached, quota 5$",
    ):
        _apply(org, layout, account)
    assert _attached(org, account) == {"FullAWSAccess", "vend-gpu-training", "customer-0", "customer-1", "customer-2"}


def test_every_policy_that_cannot_be_attached_is_named_in_one_refusal(org: Any, layout: Layout) -> None:
    # GIVEN an applied account whose tier and team policies were swapped for four foreign ones (the quota)
    account = _placed(org)
    _apply(org, layout, account)
    for name in ("vend-gpu-training", "vend-team-team-mlops-staging"):
        org.detach_policy(PolicyId=policy_id(org, name), TargetId=account)
    _foreign(org, account, 4)
    # WHEN ApplyGuardrails runs THEN both missing policies are named, each with the quota, in one refusal
    with pytest.raises(GuardrailLimitExceeded) as refused:
        _apply(org, layout, account)
    assert str(refused.value) == (
        f"target {account}: cannot attach vend-gpu-training: 5 SCPs attached, quota 5; "
        "cannot attach vend-team-team-mlops-staging: 5 SCPs attached, quota 5"
    )


def test_tag_policy_drift_on_the_account_is_converged_without_touching_the_type(org: Any, layout: Layout) -> None:
    from vending.guardrails.orgapi import ApiCallCounter

    # GIVEN an applied account whose team tag policy was edited and which carries another team's as well
    account = _placed(org)
    _apply(org, layout, account)
    pages = org.get_paginator("list_policies").paginate(Filter="TAG_POLICY")
    ids = {p["Name"]: p["Id"] for page in pages for p in page["Policies"]}
    org.update_policy(PolicyId=ids["vend-tags-team-mlops"], Content='{"tags":{}}')
    other = render(layout).tag_policies["vend-tags-team-backend"]
    made = org.create_policy(Name="vend-tags-team-backend", Description="d", Type="TAG_POLICY", Content=other)
    org.attach_policy(PolicyId=made["Policy"]["PolicySummary"]["Id"], TargetId=account)
    counter = ApiCallCounter().attach(org)
    # WHEN ApplyGuardrails runs again
    result = _apply(org, layout, account)
    # THEN the content is put back and the other team's policy detached; the enabled type is not enabled again
    assert list(result.changes) == [
        "update_tag_policy vend-tags-team-mlops",
        f"detach_tag_policy vend-tags-team-backend -> {account}",
    ]
    content = org.describe_policy(PolicyId=ids["vend-tags-team-mlops"])["Policy"]["Content"]
    assert json.loads(content) == json.loads(render(layout).tag_policies["vend-tags-team-mlops"])
    on = org.list_policies_for_target(TargetId=account, Filter="TAG_POLICY")["Policies"]
    assert [p["Name"] for p in on] == ["vend-tags-team-mlops"]
    assert "EnablePolicyType" not in counter.calls


def test_a_team_the_layout_does_not_render_gets_the_org_wide_tag_policy_only(org: Any, layout: Layout) -> None:
    account = _placed(org)
    result = apply_account_guardrails(
        org, layout, account_id=account, team="team-unlisted", stage="staging", gpu_tier="none"
    )
    staging = ou_id(org, "Workloads/Staging")
    assert [c for c in result.changes if "tag_polic" in c] == [
        "create_tag_policy vend-tags",
        f"attach_tag_policy vend-tags -> {staging}",
    ]
    assert org.list_policies_for_target(TargetId=account, Filter="TAG_POLICY")["Policies"] == []


def test_tag_policies_are_enabled_where_only_scps_were(org: Any, layout: Layout) -> None:
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    result = _apply(org, layout, _placed(org))
    assert "enable_policy_type SERVICE_CONTROL_POLICY" not in result.changes
    assert "enable_policy_type TAG_POLICY" in result.changes


class ThrottlingTagPolicies(Throttling):
    """DescribePolicy throttled for tag policies only (the SCPs are described first)."""

    def __init__(self, org: Any) -> None:
        super().__init__(org, "")

    def describe_policy(self, PolicyId: str) -> Any:
        described = self.org.describe_policy(PolicyId=PolicyId)
        if described["Policy"]["PolicySummary"]["Type"] == "TAG_POLICY":
            return Throttling(self.org, "describe_policy").describe_policy(PolicyId=PolicyId)
        return described


def _tag_policy_id(org: Any, name: str) -> str:
    pages = org.get_paginator("list_policies").paginate(Filter="TAG_POLICY")
    return next(p["Id"] for page in pages for p in page["Policies"] if p["Name"] == name)


@pytest.mark.parametrize(
    ("operation", "drift", "name"),
    [
        ("describe_policy", "none", "DescribePolicy vend-tags"),
        ("update_policy", "edited", "UpdatePolicy vend-tags-team-mlops"),
        ("attach_policy", "detached", "AttachPolicy vend-tags-team-mlops"),
        ("detach_policy", "foreign", "DetachPolicy vend-tags-team-backend"),
    ],
)
def test_a_throttled_tag_policy_call_is_named_in_the_error(
    org: Any, layout: Layout, operation: str, drift: str, name: str
) -> None:
    from vending.exceptions import OrganizationsThrottled
    from vending.guardrails.orgapi import Backoff

    # GIVEN an applied account and one drift that needs the call (none: the policies are only read)
    account = _placed(org)
    _apply(org, layout, account)
    mlops = _tag_policy_id(org, "vend-tags-team-mlops")
    if drift == "edited":
        org.update_policy(PolicyId=mlops, Content='{"tags":{}}')
    elif drift == "detached":
        org.detach_policy(PolicyId=mlops, TargetId=account)
    elif drift == "foreign":
        other = render(layout).tag_policies["vend-tags-team-backend"]
        made = org.create_policy(Name="vend-tags-team-backend", Description="d", Type="TAG_POLICY", Content=other)
        org.attach_policy(PolicyId=made["Policy"]["PolicySummary"]["Id"], TargetId=account)
    # WHEN that call is throttled past its one attempt THEN the error names the call and the policy
    with pytest.raises(OrganizationsThrottled, match=rf"^{name}: TooManyRequestsException$"):
        apply_account_guardrails(
            Throttling(org, operation) if operation != "describe_policy" else ThrottlingTagPolicies(org),
            layout,
            account_id=account,
            team="team-mlops",
            stage="staging",
            gpu_tier="training",
            backoff=Backoff(attempts=1, sleep=lambda _: None),
        )


def test_a_root_listed_without_policy_types_has_tag_policies_enabled(org: Any, layout: Layout) -> None:
    from vending.guardrails.orgapi import Backoff
    from vending.guardrails.tag_policies import apply_account_tag_policies

    # GIVEN a root as a ListRoots answer may list it: no PolicyTypes at all
    account = _placed(org)
    root = {"Id": org.list_roots()["Roots"][0]["Id"]}
    staging = ou_id(org, "Workloads/Staging")
    # WHEN the account's tag policies are applied THEN the type is enabled first, as for a root with none enabled
    changes = apply_account_tag_policies(
        org, render(layout), Backoff(attempts=1), root=root, ou_id=staging, account_id=account, team="team-mlops"
    )
    assert changes[0] == "enable_policy_type TAG_POLICY"
    assert "TAG_POLICY" in {t["Type"] for t in org.list_roots()["Roots"][0]["PolicyTypes"] if t["Status"] == "ENABLED"}


@pytest.mark.parametrize(
    ("operation", "drift", "name"),
    [
        ("describe_organization", "", "DescribeOrganization"),
        ("list_roots", "", "ListRoots"),
        ("describe_policy", "applied", "DescribePolicy vend-workloads-1"),
        ("update_policy", "edited", "UpdatePolicy vend-gpu-training"),
        ("attach_policy", "", "attach vend-workloads-1 ou-[a-z0-9-]+"),
        ("list_parents", "applied", "ListParents [0-9]{12}"),
    ],
)
def test_a_throttled_call_of_apply_is_named_in_the_error(
    org: Any, layout: Layout, operation: str, drift: str, name: str
) -> None:
    from vending.exceptions import OrganizationsThrottled
    from vending.guardrails.orgapi import Backoff

    account = _placed(org)
    if drift:
        _apply(org, layout, account)
    if drift == "edited":
        org.update_policy(PolicyId=policy_id(org, "vend-gpu-training"), Content=FOREIGN)
    with pytest.raises(OrganizationsThrottled, match=rf"^{name}: TooManyRequestsException$"):
        apply_account_guardrails(
            Throttling(org, operation),
            layout,
            account_id=account,
            team="team-mlops",
            stage="staging",
            gpu_tier="training",
            backoff=Backoff(attempts=1),
        )


def test_apply_gives_up_after_four_throttled_attempts(
    org: Any, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vending.exceptions import OrganizationsThrottled
    from vending.guardrails import orgapi

    # GIVEN DescribeOrganization always throttled (and no waiting between attempts)
    monkeypatch.setattr(orgapi.random, "uniform", lambda _a, _b: 0.0)
    calls = []

    class Counting(Throttling):
        def describe_organization(self, **kwargs: Any) -> Any:
            calls.append(kwargs)
            return Throttling(self.org, "describe_organization").describe_organization(**kwargs)

    # WHEN ApplyGuardrails runs with its own backoff THEN it tries four times, then hands the retry to its caller
    with pytest.raises(OrganizationsThrottled):
        _apply(Counting(org, ""), layout, _placed(org))
    assert len(calls) == 4


def test_scps_are_enabled_where_only_tag_policies_were(org: Any, layout: Layout) -> None:
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    result = _apply(org, layout, _placed(org))
    assert "enable_policy_type SERVICE_CONTROL_POLICY" in result.changes
    assert "enable_policy_type TAG_POLICY" not in result.changes


def test_a_root_listed_without_policy_types_is_taken_as_none_enabled(org: Any, layout: Layout) -> None:
    class Bare(Throttling):
        def list_roots(self, **kwargs: Any) -> Any:
            roots = self.org.list_roots(**kwargs)
            for root in roots["Roots"]:
                root.pop("PolicyTypes", None)
            return roots

    result = _apply(Bare(org, ""), layout, _placed(org))
    assert result.changes[0] == "enable_policy_type SERVICE_CONTROL_POLICY"
    assert "enable_policy_type TAG_POLICY" in result.changes


def test_an_ou_that_forbids_full_aws_access_loses_it_and_keeps_foreign_policies(org: Any, layout: Layout) -> None:
    # GIVEN a layout that forbids FullAWSAccess on Workloads, which carries it and a customer's own policy
    guardrails = layout.guardrails.model_copy(update={"deny_full_aws_access": ("Workloads",)})
    fenced = layout.model_copy(update={"guardrails": guardrails})
    account = _placed(org)
    workloads = ou_id(org, "Workloads")
    made = org.create_policy(Name="customer-own", Description="d", Type="SERVICE_CONTROL_POLICY", Content=FOREIGN)
    org.enable_policy_type(RootId=org.list_roots()["Roots"][0]["Id"], PolicyType="SERVICE_CONTROL_POLICY")
    org.attach_policy(PolicyId=made["Policy"]["PolicySummary"]["Id"], TargetId=workloads)
    # WHEN ApplyGuardrails runs THEN FullAWSAccess comes off Workloads (after its own policies are on), the customer's
    # stays, and the stage OU and the account keep FullAWSAccess
    result = _apply(org, fenced, account)
    on_workloads = [c for c in result.changes if c.endswith(workloads)]
    assert on_workloads[-1] == f"detach FullAWSAccess -> {workloads}"
    assert _attached(org, workloads) == {"customer-own", *render(fenced).ou_policies["Workloads"]}
    assert "FullAWSAccess" in _attached(org, ou_id(org, "Workloads/Staging")) & _attached(org, account)


def test_a_stage_ou_the_render_gives_no_scp_of_its_own_keeps_full_aws_access_only(
    org: Any, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from vending.guardrails import account as account_module

    # GIVEN a rendering with no OU-level SCP for the stage OU
    def without_staging(layout: Layout) -> Any:
        r = render(layout)
        return dataclasses.replace(r, ou_policies={k: v for k, v in r.ou_policies.items() if k != "Workloads/Staging"})

    monkeypatch.setattr(account_module, "render", without_staging)
    account = _placed(org)
    # WHEN ApplyGuardrails runs THEN the stage OU is left with FullAWSAccess alone, and the account is fenced as usual
    result = _apply(org, layout, account)
    assert _attached(org, ou_id(org, "Workloads/Staging")) == {"FullAWSAccess"}
    assert result.in_expected_ou and result.ou_id == ou_id(org, "Workloads/Staging")
    assert _attached(org, account) == {"FullAWSAccess", "vend-gpu-training", "vend-team-team-mlops-staging"}
