"""vending.guardrails.snapshot whole: one read of an organization (OU paths, member accounts with their tags, SCPs and
tag policies with targets and contents) and the canonical form drift is judged in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scps.render import FULL_AWS_ACCESS
from tests.guardrails.conftest import Throttling, ou_id
from vending.guardrails.orgapi import ApiCallCounter, Backoff
from vending.guardrails.snapshot import OrgSnapshot, Policy, normalise, read_snapshot, same_content
from vending.layout import Layout

DENY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]}
TAGS = {"tags": {"team": {"tag_key": {"@@assign": "team"}}}}


@pytest.fixture
def planted(org: Any, layout: Layout) -> dict[str, Any]:
    """Two member accounts in two OUs (one tagged), an SCP on one of them and on an OU, a tag policy on the other."""
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    staging, platform = ou_id(org, "Workloads/Staging"), ou_id(org, "Platform")
    accounts = {}
    for name, parent in (("one", staging), ("two", platform)):
        account = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=parent)
        accounts[name] = account
    org.tag_resource(ResourceId=accounts["one"], Tags=[{"Key": "team", "Value": "t"}, {"Key": "stage", "Value": "s"}])
    scp = org.create_policy(Name="vend-x", Description="d", Type="SERVICE_CONTROL_POLICY", Content=json.dumps(DENY))[
        "Policy"
    ]["PolicySummary"]["Id"]
    for target in (accounts["one"], staging):
        org.attach_policy(PolicyId=scp, TargetId=target)
    org.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    tag = org.create_policy(Name="vend-tags", Description="d", Type="TAG_POLICY", Content=json.dumps(TAGS))["Policy"][
        "PolicySummary"
    ]["Id"]
    org.attach_policy(PolicyId=tag, TargetId=accounts["two"])
    return {"root": root, "staging": staging, "platform": platform, "scp": scp, "tag": tag, **accounts}


def test_the_snapshot_holds_the_whole_organization(org: Any, layout: Layout, planted: dict[str, Any]) -> None:
    snap = read_snapshot(org, backoff=Backoff(sleep=lambda _s: None), concurrency=2)

    management = org.describe_organization()["Organization"]["MasterAccountId"]
    assert (snap.root_id, snap.management_account_id, snap.scp_enabled) == (planted["root"], management, True)
    assert snap.ou_paths[planted["root"]] == ""
    assert sorted(snap.ou_paths.values()) == sorted(["", *(ou.path for ou in layout.ous)])
    assert snap.ou_ids["Workloads/Staging"] == planted["staging"] and snap.ou_ids["Platform"] == planted["platform"]
    # member accounts only (the management account is never in it), each with its parent and tags
    assert management not in snap.accounts
    one, two = snap.accounts[planted["one"]], snap.accounts[planted["two"]]
    assert (one.name, one.email, one.parent_id, one.tags) == (
        "one",
        "one@example.com",
        planted["staging"],
        {"team": "t", "stage": "s"},
    )
    assert (two.name, two.email, two.parent_id, two.tags) == ("two", "two@example.com", planted["platform"], {})
    # every SCP with its targets; contents for all but AWS's FullAWSAccess
    assert snap.policies["vend-x"] == Policy(
        planted["scp"], "vend-x", False, json.dumps(DENY), {planted["one"], planted["staging"]}
    )
    full = snap.policies[FULL_AWS_ACCESS]
    assert full.aws_managed and full.content is None and planted["root"] in full.targets
    assert snap.attached(planted["one"]) == {FULL_AWS_ACCESS, "vend-x"}
    assert snap.attachments()[planted["staging"]] == {FULL_AWS_ACCESS, "vend-x"}
    assert planted["two"] not in {t for p in snap.policies.values() if p.name == "vend-x" for t in p.targets}
    # and the tag policies, read and enabled
    assert (snap.tag_policies_read, snap.tag_policy_enabled) == (True, True)
    assert snap.tag_policies == {
        "vend-tags": Policy(planted["tag"], "vend-tags", False, json.dumps(TAGS), {planted["two"]})
    }


def test_what_the_snapshot_leaves_out_when_asked(org: Any, planted: dict[str, Any]) -> None:
    counter = ApiCallCounter().attach(org)

    snap = read_snapshot(org, tags=False, describe=False, tag_policies=False)

    assert all(a.tags == {} for a in snap.accounts.values())
    assert all(p.content is None for p in snap.policies.values()) and snap.policies["vend-x"].targets
    assert (snap.tag_policies_read, snap.tag_policies) == (False, {})
    assert snap.tag_policy_enabled  # the root says so whether or not the policies are read
    assert not {"DescribePolicy", "ListTagsForResource"} & set(counter.calls)
    assert counter.calls["ListPolicies"] == 1  # SCPs only


def test_an_organization_without_scps_enabled(org: Any) -> None:
    snap = read_snapshot(org)
    assert (snap.scp_enabled, snap.tag_policy_enabled) == (False, False)
    assert FULL_AWS_ACCESS in snap.policies  # listed before SCPs are enabled: it is attached from the start


def test_normalise_ignores_order_whitespace_and_single_values() -> None:
    a = '{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": ["ec2:*"], "Resource": "*"}}'
    b = {
        "Statement": [{"Resource": ["*"], "Action": "ec2:*", "Effect": "Deny"}],
        "Version": "2012-10-17",
    }
    assert normalise(a) == normalise(b)
    assert normalise({"k": ["b", "a"]}) == normalise({"k": ["a", "b"]}) == {"k": ["a", "b"]}
    assert normalise({"k": [{"b": 1}, {"a": 2}]}) == {"k": [{"a": 2}, {"b": 1}]}
    assert normalise({"k": [["x"]]}) == {"k": "x"}  # a list of one value is that value, at every depth
    assert normalise("not json {") == "not json {"
    assert normalise('"text"') == "text"
    assert normalise({"Statement": {"Effect": "Deny"}}) == {"Statement": {"Effect": "Deny"}}  # only texts are lifted
    # (controls: a different value, a second statement and another list are drift)
    assert normalise({"k": ["a"]}) != normalise({"k": ["a", "b"]})
    assert normalise(a) != normalise(a.replace("Deny", "Allow"))
    assert normalise({"k": ["a", "b"]}) != normalise({"k": ["a", "c"]})


def test_same_content_needs_both_contents() -> None:
    assert same_content('{"a": [1]}', '{"a": 1}')
    assert not same_content(None, None) and not same_content("{}", None) and not same_content(None, "{}")
    assert not same_content('{"a": 1}', '{"a": 2}')


def test_attachments_group_targets_by_policy_name() -> None:
    snap = OrgSnapshot(
        "r-1",
        "1",
        True,
        {"r-1": "", "ou-1": "Workloads"},
        {},
        {
            "a": Policy("p-a", "a", False, targets={"t1", "t2"}),
            "b": Policy("p-b", "b", False, targets={"t2"}),
            "c": Policy("p-c", "c", False),
        },
    )
    assert snap.attachments() == {"t1": {"a"}, "t2": {"a", "b"}}
    assert snap.attached("t2") == {"a", "b"} and snap.attached("t3") == set()
    assert snap.ou_ids == {"": "r-1", "Workloads": "ou-1"}
    assert (snap.tag_policies_read, snap.tag_policy_enabled, snap.tag_policies) == (False, False, {})


class _Answers:
    """The org client, with ListAccountsForParent and ListPolicies answers edited as Organizations may give them."""

    def __init__(self, org: Any, *, extra_root_accounts: list[dict[str, Any]], aws_managed: dict[str, bool]) -> None:
        self.org, self.extra, self.aws_managed = org, extra_root_accounts, aws_managed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.org, name)

    def list_accounts_for_parent(self, **kwargs: Any) -> Any:
        page = self.org.list_accounts_for_parent(**kwargs)
        if kwargs["ParentId"] == self.org.list_roots()["Roots"][0]["Id"]:
            page["Accounts"] = [*page["Accounts"], *self.extra]
        return page

    def list_policies(self, **kwargs: Any) -> Any:
        page = self.org.list_policies(**kwargs)
        for p in page["Policies"]:
            if p["Name"] in self.aws_managed:
                p["AwsManaged"] = self.aws_managed[p["Name"]]
        return page


def test_only_active_accounts_are_read_and_missing_fields_read_as_empty(org: Any, planted: dict[str, Any]) -> None:
    # GIVEN the root listing a suspended account, one listed without a status, name or e-mail, and a pending closure
    extra = [
        {"Id": "555555555555", "Name": "gone", "Email": "gone@x", "Status": "SUSPENDED"},
        {"Id": "666666666666"},
        {"Id": "777777777777", "Name": "closing", "Email": "c@x", "Status": "PENDING_CLOSURE"},
    ]
    snap = read_snapshot(_Answers(org, extra_root_accounts=extra, aws_managed={}), tags=False, tag_policies=False)
    # THEN only the active ones are members of the snapshot (no status reads as active), with empty name and e-mail
    assert "555555555555" not in snap.accounts and "777777777777" not in snap.accounts
    bare = snap.accounts["666666666666"]
    assert (bare.name, bare.email, bare.parent_id) == ("", "", planted["root"])
    assert {planted["one"], planted["two"]} <= set(snap.accounts)


def test_aws_managed_flags_are_read_for_tag_policies_and_only_aws_full_access_goes_undescribed(
    org: Any, planted: dict[str, Any]
) -> None:
    # GIVEN the tag policy listed as AWS managed, and FullAWSAccess listed as a customer's own policy of that name
    answers = _Answers(org, extra_root_accounts=[], aws_managed={"vend-tags": True, FULL_AWS_ACCESS: False})
    snap = read_snapshot(answers, tags=False)
    # THEN the flag is the listing's, and a customer policy named FullAWSAccess is described like any other
    assert snap.tag_policies["vend-tags"].aws_managed is True
    assert snap.policies[FULL_AWS_ACCESS].aws_managed is False
    assert snap.policies[FULL_AWS_ACCESS].content is not None
    # AND as listed by Organizations (AWS managed), FullAWSAccess is not described, the tag policy is a customer's
    plain = read_snapshot(org, tags=False)
    assert plain.policies[FULL_AWS_ACCESS].content is None and plain.tag_policies["vend-tags"].aws_managed is False


@pytest.mark.parametrize(
    ("operation", "name"),
    [
        ("describe_organization", "DescribeOrganization"),
        ("list_roots", "ListRoots"),
        ("describe_policy", "DescribePolicy"),
    ],
)
def test_a_throttled_read_is_named(org: Any, planted: dict[str, Any], operation: str, name: str) -> None:
    from vending.exceptions import OrganizationsThrottled

    with pytest.raises(OrganizationsThrottled, match=rf"^{name}: TooManyRequestsException$"):
        read_snapshot(Throttling(org, operation), backoff=Backoff(attempts=1))


def test_a_root_listed_without_policy_types_reads_as_none_enabled(org: Any, planted: dict[str, Any]) -> None:
    class Bare(_Answers):
        def list_roots(self, **kwargs: Any) -> Any:
            roots = self.org.list_roots(**kwargs)
            for root in roots["Roots"]:
                root.pop("PolicyTypes", None)
            return roots

    snap = read_snapshot(Bare(org, extra_root_accounts=[], aws_managed={}), tags=False)
    assert (snap.scp_enabled, snap.tag_policy_enabled) == (False, False)
    assert snap.root_id == planted["root"]
