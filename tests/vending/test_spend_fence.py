"""vending.spend.fence on moto: readings over a cap freeze the account (record first, then the SCP, one notification),
the freeze survives a crash and a race, a thaw needs another principal, and bad input changes nothing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.model import ServiceModel
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from landing_zone.local.images import amazon_image
from scps.render import freeze_policy
from tests.organization_pages import all_policies
from tests.vending.conftest import OUTCOME_SOURCE, REGION
from vending.budgets import backstop_budget_document, freeze_budget_action
from vending.exceptions import InvalidRequest, SelfApproval, ThawNotFound
from vending.guardrails.account import apply_account_guardrails
from vending.layout import Layout, load_layout
from vending.spend.fence import (
    FROZEN_EVENT,
    THAWED_EVENT,
    approve_thaw,
    breach,
    ensure_freeze_policy,
    event_notifier,
    fence,
    request_thaw,
    stop_accelerated_instances,
)
from vending.spend.freezes import FreezeRecord, FreezeStatus, FreezeStore, freezes_table_definition
from vending.spend.reading import SpendReading

FREEZES = "vending-freezes"
T0 = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
OWNER = "arn:aws:iam::111111111111:role/PlatformAdmin"
APPROVER = "arn:aws:iam::111111111111:role/PlatformApprover"
Published = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def freezes(ddb: Any) -> FreezeStore:
    ddb.create_table(**freezes_table_definition(FREEZES))
    return FreezeStore(ddb, FREEZES)


@pytest.fixture
def notify(aws: None) -> Any:
    return event_notifier(boto3.client("events", region_name=REGION), bus="default", source=OUTCOME_SOURCE)


def _vend(org: Any, layout: Layout, team: str = "team-mlops", stage: str = "staging") -> str:
    spec = layout.team(team)
    assert spec is not None
    account = str(
        org.create_account(Email=layout.account_email(team, stage), AccountName=f"{team}-{stage}")[
            "CreateAccountStatus"
        ]["AccountId"]
    )
    apply_account_guardrails(org, layout, account_id=account, team=team, stage=stage, gpu_tier=spec.gpu_tier)
    return account


def _reading(
    account: str, hour: float, day: float, *, at: datetime = T0, team: str = "team-mlops", stage: str = "staging"
) -> SpendReading:
    return SpendReading(team, stage, account, f"{team}-{stage}", at, hour, day, {"ec2:p5.48xlarge": hour})


def _scps(org: Any, account: str) -> set[str]:
    return {
        p["Name"] for p in org.list_policies_for_target(TargetId=account, Filter="SERVICE_CONTROL_POLICY")["Policies"]
    }


def _frozen_events(published: Published) -> list[dict[str, Any]]:
    return [e for e in published() if e["detail-type"] == FROZEN_EVENT]


def test_spend_caps_come_from_the_tier_or_the_team_override(layout: Layout) -> None:
    # GIVEN the packaged layout THEN team-mlops has its own caps, team-backend its tier's
    mlops, backend = layout.spend_caps("team-mlops", "training"), layout.spend_caps("team-backend", "inference")
    assert mlops is not None and (mlops.hourly_usd, mlops.daily_usd) == (250, 3000)
    assert backend == layout.gpu_tiers["inference"].spend_caps
    assert layout.on_freeze("team-backend", "inference") == "keep_running"
    # AND a reading over either cap breaches it, at the cap it does not (a team may spend its cap)
    assert breach(_reading("1", 250.0, 250.0), mlops) is None
    assert breach(_reading("1", 250.01, 250.01), mlops) == ("hourly", 250, 250.01)
    assert breach(_reading("1", 10.0, 3000.5), mlops) == ("daily", 3000, 3000.5)


@pytest.mark.parametrize(
    ("caps", "message"),
    [
        ({"hourly_usd": -5, "daily_usd": 100}, "greater than 0"),
        ({"hourly_usd": 0, "daily_usd": 100}, "greater than 0"),
        ({"hourly_usd": 500, "daily_usd": 100}, "hourly_usd (500) is above daily_usd (100)"),
        ({"hourly_usd": 5}, "daily_usd"),
        ({"hourly_usd": 5, "daily_usd": 50, "monthly_usd": 9}, "monthly_usd"),
    ],
)
def test_spend_caps_bad_layout_is_refused_by_name(caps: dict[str, Any], message: str) -> None:
    # GIVEN a tier and a team override with bad caps WHEN the layout is validated THEN the error names the field
    for where in ("tier", "team"):
        data = load_layout().model_dump(mode="json")
        target = data["gpu_tiers"]["inference"] if where == "tier" else data["teams"][1]
        target["spend_caps"] = caps
        with pytest.raises(ValueError) as e:
            Layout.model_validate(data)
        assert "spend_caps" in str(e.value) and message in str(e.value), (where, str(e.value))
    data = load_layout().model_dump(mode="json")
    data["gpu_tiers"]["inference"]["on_freeze"] = "terminate"
    with pytest.raises(ValueError, match="on_freeze"):
        Layout.model_validate(data)


def test_fence_under_cap_never_freezes(org: Any, layout: Layout, freezes: FreezeStore, notify: Any) -> None:
    account = _vend(org, layout)
    # GIVEN readings at and under both caps WHEN fenced
    report = fence([_reading(account, 250.0, 3000.0), _reading(account, 0.0, 0.0)], layout, org, freezes, notify, T0)
    # THEN nothing is recorded or attached
    assert report.frozen == [] and report.under_cap == 2
    assert freezes.list() == [] and "vend-freeze" not in _scps(org, account)


def test_fence_freezes_records_first_attaches_and_notifies_once(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any, published: Published
) -> None:
    account = _vend(org, layout)
    # GIVEN a reading over team-mlops' hourly cap WHEN fenced
    report = fence([_reading(account, 300.0, 900.0)], layout, org, freezes, notify, T0, run_id="run-1")
    # THEN the freeze is recorded with the cap and the reading, vend-freeze is on the account beside its guardrails
    assert report.frozen == [account]
    record = freezes.get(account)
    assert record is not None and record.status == FreezeStatus.FROZEN and record.complete
    assert (record.cap, record.cap_usd, record.reading_usd, record.frozen_by) == ("hourly", 250, 300.0, "run-1")
    assert _scps(org, account) == {"FullAWSAccess", "vend-gpu-training", "vend-team-team-mlops-staging", "vend-freeze"}
    # AND the organization lacked vend-freeze (ApplyGuardrails does not make it): the fence made it as rendered
    (made,) = [p for p in all_policies(org, "SERVICE_CONTROL_POLICY") if p["Name"] == "vend-freeze"]
    content = org.describe_policy(PolicyId=made["Id"])["Policy"]["Content"]
    assert json.loads(content) == freeze_policy(layout).document
    # AND the owner and the platform are told once
    (event,) = _frozen_events(published)
    assert event["detail"]["notify"] == {"owner": "mlops-leads@example.com", "platform": True}
    assert event["detail"]["account_id"] == account and event["detail"]["cap"] == "hourly"
    # AND fencing the same readings again changes nothing and tells nobody again
    again = fence([_reading(account, 320.0, 950.0)], layout, org, freezes, notify, T0 + timedelta(minutes=5))
    assert again.already_frozen == [account] and again.frozen == []
    assert _frozen_events(published) == []


def test_fence_race_makes_one_freeze_and_one_notification(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any, published: Published
) -> None:
    account = _vend(org, layout)
    barrier = threading.Barrier(2)
    reports: list[Any] = []
    # GIVEN two fences that read "not frozen" at the same moment (the barrier holds both after their read)
    original_get = FreezeStore.get

    def get_then_wait(self: FreezeStore, account_id: str) -> FreezeRecord | None:
        found = original_get(self, account_id)
        barrier.wait(timeout=10)
        return found

    def run(name: str) -> None:
        store = FreezeStore(freezes._items.client, FREEZES)
        reports.append(fence([_reading(account, 400.0, 400.0)], layout, org, store, notify, T0, run_id=name))

    FreezeStore.get = get_then_wait  # type: ignore[method-assign]
    try:
        threads = [threading.Thread(target=run, args=(n,)) for n in ("fence-a", "fence-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        FreezeStore.get = original_get  # type: ignore[method-assign]
    # THEN exactly one wrote the freeze and the other lost the conditional write
    assert sorted(len(r.frozen) for r in reports) == [0, 1]
    assert sorted(len(r.lost_race) for r in reports) == [0, 1]
    (record,) = freezes.list()
    assert record.frozen_by in {"fence-a", "fence-b"} and record.complete
    # AND one notification went out, the SCP is attached once
    assert len(_frozen_events(published)) == 1
    assert "vend-freeze" in _scps(org, account)


def test_fence_completes_a_freeze_a_crash_left_unattached(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any, published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = _vend(org, layout)
    # GIVEN a fence that crashes right after its write (AttachPolicy fails: the process dies there)
    import vending.spend.fence as module

    def crash(*_a: Any, **_k: Any) -> bool:
        raise RuntimeError("killed between the write and the attach")

    monkeypatch.setattr(module, "attach_freeze", crash)
    with pytest.raises(RuntimeError):
        fence([_reading(account, 300.0, 300.0)], layout, org, freezes, notify, T0)
    record = freezes.get(account)
    assert record is not None and record.attached_at is None and "vend-freeze" not in _scps(org, account)
    monkeypatch.undo()
    # WHEN the next interval runs (a new process: only the record remembers) THEN it completes the freeze
    report = fence([_reading(account, 10.0, 310.0)], layout, org, freezes, notify, T0 + timedelta(minutes=5))
    assert report.completed == [account] and report.frozen == []
    done = freezes.get(account)
    assert done is not None and done.complete and done.freeze_id == record.freeze_id
    assert "vend-freeze" in _scps(org, account)
    assert len(_frozen_events(published)) == 1
    # AND an attachment AWS already has is success: AWS answers DuplicatePolicyAttachmentException (moto accepts a
    # second attach silently, so AWS's answer is stubbed), any other error is not
    policy = ensure_freeze_policy(org, layout)
    with Stubber(org) as stub:
        stub.add_client_error("attach_policy", "DuplicatePolicyAttachmentException")
        stub.add_client_error("attach_policy", "ConcurrentModificationException")
        assert module.attach_freeze(org, policy, account) is False
        with pytest.raises(ClientError):
            module.attach_freeze(org, policy, account)


def test_fence_stops_accelerated_instances_when_the_layout_says_stop(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any
) -> None:
    # GIVEN team-mlops with on_freeze: stop, a p5 and a t3 running in its region
    data = layout.model_dump(mode="json")
    data["teams"][2]["on_freeze"] = "stop"
    stopping = Layout.model_validate(data)
    account = _vend(org, stopping)
    ec2 = boto3.client("ec2", region_name=REGION)
    ami = amazon_image(ec2)
    p5 = ec2.run_instances(ImageId=ami, InstanceType="p5.48xlarge", MinCount=1, MaxCount=1)["Instances"][0]
    t3 = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
    calls: list[tuple[str, tuple[str, ...]]] = []

    def stop(record: FreezeRecord, regions: tuple[str, ...]) -> list[str]:
        calls.append((record.account_id, regions))
        return stop_accelerated_instances(lambda region: boto3.client("ec2", region_name=region), stopping, regions)

    # WHEN it is frozen
    fence([_reading(account, 300.0, 300.0)], stopping, org, freezes, notify, T0, stop=stop)
    # THEN the accelerated instance is stopped in the team's regions, the CPU one keeps running
    record = freezes.get(account)
    assert record is not None and record.stopped_instances == [p5["InstanceId"]] and record.complete
    assert calls == [(account, ("us-east-1", "us-west-2"))]
    states = {
        i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
    }
    assert states[p5["InstanceId"]] in {"stopping", "stopped"} and states[t3["InstanceId"]] == "running"


def test_thaw_self_approval_is_refused_and_another_approver_detaches(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any, published: Published
) -> None:
    account = _vend(org, layout)
    fence([_reading(account, 300.0, 300.0)], layout, org, freezes, notify, T0)
    published()
    # GIVEN a thaw filed by the platform admin
    filed = request_thaw(freezes, "team-mlops-staging", by=OWNER, session="alice", reason="runaway job killed", now=T0)
    assert filed.thaw_requested_by == OWNER
    # WHEN the same principal approves it (another session of the same role) THEN it is refused, nothing changes
    with pytest.raises(SelfApproval):
        approve_thaw(freezes, org, layout, "team-mlops-staging", by=f"{OWNER}", session="bob", now=T0, notify=notify)
    record = freezes.get(account)
    assert record is not None and record.status == FreezeStatus.FROZEN and "vend-freeze" in _scps(org, account)
    # WHEN another principal approves THEN the record is cleared and vend-freeze detached, and both are told
    thawed = approve_thaw(
        freezes,
        org,
        layout,
        "team-mlops-staging",
        by=APPROVER,
        session="carol",
        now=T0 + timedelta(minutes=30),
        notify=notify,
    )
    assert thawed.status == FreezeStatus.THAWED and thawed.thawed_by == APPROVER and thawed.detached_at
    assert "vend-freeze" not in _scps(org, account)
    assert [e["detail-type"] for e in published()] == [THAWED_EVENT]
    # AND a second approval finds nothing frozen
    with pytest.raises(ThawNotFound):
        approve_thaw(freezes, org, layout, "team-mlops-staging", by=APPROVER, session="carol", now=T0)


def test_thaw_forgives_the_spend_that_caused_it_but_not_a_new_runaway(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any
) -> None:
    account = _vend(org, layout)
    fence([_reading(account, 300.0, 300.0)], layout, org, freezes, notify, T0)
    request_thaw(freezes, account, by=OWNER, session=None, reason="fixed", now=T0)
    thaw_at = T0 + timedelta(minutes=20)
    approve_thaw(freezes, org, layout, account, by=APPROVER, session=None, now=thaw_at)
    # GIVEN the thawed account WHEN the same hour's spend is read again THEN it stays thawed (forgiven)
    soon = fence(
        [_reading(account, 300.0, 300.0, at=thaw_at + timedelta(minutes=5))], layout, org, freezes, notify, thaw_at
    )
    assert soon.in_grace == [account] and "vend-freeze" not in _scps(org, account)
    # WHEN a new hour after the thaw is over the cap again THEN it is frozen again (a new freeze id)
    later = thaw_at + timedelta(hours=1, minutes=5)
    again = fence([_reading(account, 260.0, 900.0, at=later)], layout, org, freezes, notify, later)
    assert again.frozen == [account] and "vend-freeze" in _scps(org, account)
    record = freezes.get(account)
    assert record is not None and record.status == FreezeStatus.FROZEN and record.thaw_requested_by is None


def test_thaw_bad_input_is_refused_and_changes_nothing(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any
) -> None:
    account = _vend(org, layout)
    # GIVEN nothing frozen WHEN a thaw is filed THEN the error says so
    with pytest.raises(ThawNotFound, match="is not frozen"):
        request_thaw(freezes, "team-mlops-staging", by=OWNER, session=None, reason="x", now=T0)
    fence([_reading(account, 300.0, 300.0)], layout, org, freezes, notify, T0)
    before = freezes.get(account)
    # WHEN a thaw names no reason, or is approved before anyone filed it, or is filed twice THEN each is refused
    with pytest.raises(InvalidRequest, match="reason"):
        request_thaw(freezes, "team-mlops-staging", by=OWNER, session=None, reason="  ", now=T0)
    with pytest.raises(ThawNotFound, match="no thaw"):
        approve_thaw(freezes, org, layout, "team-mlops-staging", by=APPROVER, session=None, now=T0)
    assert freezes.get(account) == before
    request_thaw(freezes, "team-mlops-staging", by=OWNER, session=None, reason="fixed", now=T0)
    with pytest.raises(InvalidRequest, match="already filed"):
        request_thaw(freezes, "team-mlops-staging", by=APPROVER, session=None, reason="again", now=T0)
    # AND the account is still frozen
    assert "vend-freeze" in _scps(org, account)


def test_cli_spend_bad_input_is_a_clear_error_and_changes_nothing(
    org: Any,
    layout: Layout,
    freezes: FreezeStore,
    notify: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vending.aws.identity import principal_from_arn
    from vending.cli import caller, main

    # The signed-in principal (moto's own caller identity is no IAM principal ARN)
    admin = principal_from_arn("arn:aws:sts::111111111111:assumed-role/PlatformAdmin/alice")
    monkeypatch.setattr(caller, "caller_principal", lambda _sts: admin)

    account = _vend(org, layout)
    fence([_reading(account, 300.0, 300.0)], layout, org, freezes, notify, T0)
    before = freezes.get(account)
    # GIVEN a malformed request id THEN argparse names it (exit 2)
    with pytest.raises(SystemExit) as e:
        main(["spend", "thaw", "Not A Request", "--reason", "x"])
    assert e.value.code == 2 and "request_id" in capsys.readouterr().err
    # GIVEN --by naming someone other than the signed caller THEN IdentityMismatch, nothing filed
    assert main(["spend", "thaw", "team-mlops-staging", "--reason", "x", "--by", APPROVER]) == 2
    assert "IdentityMismatch" in capsys.readouterr().err
    # GIVEN a request that is not frozen THEN ThawNotFound
    assert main(["spend", "thaw", "team-backend-staging", "--reason", "x"]) == 2
    assert "is not frozen" in capsys.readouterr().err
    # GIVEN no --reason THEN argparse refuses it
    with pytest.raises(SystemExit):
        main(["spend", "thaw", "team-mlops-staging"])
    assert "--reason" in capsys.readouterr().err
    assert freezes.get(account) == before
    # AND the filer cannot approve its own thaw from the CLI either
    assert main(["spend", "thaw", "team-mlops-staging", "--reason", "job fixed"]) == 0
    capsys.readouterr()
    assert main(["spend", "approve", "team-mlops-staging"]) == 2
    assert "SelfApproval" in capsys.readouterr().err
    assert "vend-freeze" in _scps(org, account)
    # AND the status lists the frozen account with its cap, reading and time
    assert main(["spend", "status", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["frozen"]
    assert row["thaw_requested_by"] == admin.arn
    assert main(["spend", "status"]) == 0
    table = capsys.readouterr().out
    assert "team-mlops-staging" in table and "hourly 250 USD" in table and "300.00 USD" in table
    assert (row["request_id"], row["cap"], row["reading_usd"], row["frozen_at"]) == (
        "team-mlops-staging",
        "hourly",
        300.0,
        T0.isoformat(),
    )


def test_budget_backstop_action_is_a_valid_apply_scp_policy_request() -> None:
    # moto 5.2 has no budget actions: the request is checked against botocore's Budgets model instead
    loader = boto3.session.Session()._session.get_component("data_loader")
    model = ServiceModel(loader.load_service_model("budgets", "service-2"), "budgets")
    validator = ParamValidator()
    action = freeze_budget_action(
        management_account_id="111111111111",
        account_id="222222222222",
        policy_id="p-abcd1234",
        execution_role_arn="arn:aws:iam::111111111111:role/VendingBudgetsAction",
        notify_email="platform@example.com",
    )
    # GIVEN the backstop's budget and action WHEN validated THEN both are well-formed requests
    report = validator.validate(action, model.operation_model("CreateBudgetAction").input_shape)
    assert not report.has_errors(), report.generate_report()
    budget = {"AccountId": "111111111111", "Budget": backstop_budget_document("222222222222", 25000)}
    assert not validator.validate(budget, model.operation_model("CreateBudget").input_shape).has_errors()
    # AND the action applies vend-freeze's id to the member account, automatically, at 100 % of actual spend
    assert action["ActionType"] == "APPLY_SCP_POLICY" and action["ApprovalModel"] == "AUTOMATIC"
    assert action["Definition"] == {"ScpActionDefinition": {"PolicyId": "p-abcd1234", "TargetIds": ["222222222222"]}}
    # AND a malformed one (no target) is refused by the same check: the check can fail
    broken = {**action, "Definition": {"ScpActionDefinition": {"PolicyId": "p-abcd1234"}}}
    assert validator.validate(broken, model.operation_model("CreateBudgetAction").input_shape).has_errors()
    # AND moto still lacks the API (when it gains it, this test should create the action on it instead)
    with pytest.raises((AttributeError, ClientError, NotImplementedError)):
        from moto import mock_aws

        with mock_aws():
            boto3.client("budgets", region_name="us-east-1").create_budget_action(**action)


def test_run_interval_meters_every_vended_account_and_fences(
    org: Any,
    layout: Layout,
    freezes: FreezeStore,
    store: Any,
    request_: Any,
    published: Published,
) -> None:
    from vending.lifecycle import Status
    from vending.spend.interval import run_interval

    # GIVEN team-mlops staging vended (its record READY with its account) and a meter reading it over its cap
    account = _vend(org, layout)
    store.reserve(request_, "vend-team-mlops-staging-a1")
    store.update(request_.request_id, status=Status.READY, step="RecordReady", account_id=account)
    asked: list[tuple[list[str], datetime]] = []

    def read(records: list[Any], at: datetime) -> list[SpendReading]:
        asked.append(([r.request_id for r in records], at))
        return [_reading(r.account_id, 400.0, 400.0, at=at) for r in records]

    # WHEN one interval runs
    report = run_interval(
        read=read,
        store=store,
        freezes=freezes,
        layout=layout,
        org=org,
        events=boto3.client("events", region_name=REGION),
        sts=boto3.client("sts", region_name=REGION),
        bus="default",
        source=OUTCOME_SOURCE,
        now=T0,
        run_id="interval-1",
    )
    # THEN the meter was asked for the vended account at the interval's time, and the account is frozen
    assert asked == [(["team-mlops-staging"], T0)]
    assert report.frozen == [account] and "vend-freeze" in _scps(org, account)
    assert [e["detail"]["account_id"] for e in _frozen_events(published)] == [account]


def test_fence_notification_lost_by_a_crash_is_sent_once_its_claim_is_stale(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any, published: Published
) -> None:
    account = _vend(org, layout)

    # GIVEN a fence that claims the notification and dies before publishing it
    def dies(_detail_type: str, _record: FreezeRecord) -> None:
        raise RuntimeError("killed between the claim and PutEvents")

    with pytest.raises(RuntimeError):
        fence([_reading(account, 300.0, 300.0)], layout, org, freezes, dies, T0, run_id="dead")
    record = freezes.get(account)
    assert record is not None and record.notify_claimed_by == "dead" and record.notified_at is None
    # WHEN the next interval runs while the claim is fresh THEN it does not notify (the claimer may still be at it)
    fence([_reading(account, 300.0, 300.0)], layout, org, freezes, notify, T0 + timedelta(minutes=5))
    assert _frozen_events(published) == []
    # WHEN a later interval finds the claim stale THEN it takes it over and notifies, once
    for minutes in (15, 20):
        fence([_reading(account, 300.0, 300.0)], layout, org, freezes, notify, T0 + timedelta(minutes=minutes))
    assert len(_frozen_events(published)) == 1
    done = freezes.get(account)
    assert done is not None and done.complete and done.notify_claimed_by == "fence"


def test_fence_skips_a_reading_of_an_account_it_cannot_place(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any
) -> None:
    # GIVEN a reading for a team neither the records nor the layout know WHEN fenced THEN it is skipped, not frozen
    stray = SpendReading("team-ghost", "staging", "999999999999", "team-ghost-staging", T0, 1e6, 1e6, {})
    report = fence([stray], layout, org, freezes, notify, T0)
    assert report.skipped == ["999999999999"] and freezes.list() == []


def test_fence_one_accounts_failure_does_not_spare_the_others(
    org: Any, layout: Layout, freezes: FreezeStore, notify: Any
) -> None:
    from vending.exceptions import FenceIncomplete

    # GIVEN two accounts over their caps, and Organizations throttling the attach of the first one only
    first, second = _vend(org, layout, "team-mlops", "staging"), _vend(org, layout, "team-backend", "staging")
    real_attach = org.attach_policy

    def throttled(**kwargs: Any) -> Any:
        if kwargs["TargetId"] == first:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "AttachPolicy")
        return real_attach(**kwargs)

    org.attach_policy = throttled
    readings = [_reading(first, 300.0, 300.0), _reading(second, 70.0, 70.0, team="team-backend")]
    # WHEN fenced THEN the interval says which account failed, and the other one is frozen all the same
    with pytest.raises(FenceIncomplete, match=first) as e:
        fence(readings, layout, org, freezes, notify, T0)
    assert e.value.report.frozen == [first, second]  # type: ignore[attr-defined]
    assert "vend-freeze" in _scps(org, second) and "vend-freeze" not in _scps(org, first)
    # AND the next interval completes the first
    org.attach_policy = real_attach
    assert fence(readings, layout, org, freezes, notify, T0 + timedelta(minutes=5)).completed == [first]
    assert "vend-freeze" in _scps(org, first)
