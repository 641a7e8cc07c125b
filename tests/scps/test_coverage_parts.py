"""The coverage instrument's parts, each whole (scps/coverage.py): the SCPs it stacks on a staging account's path, the
request it probes with, its two negative controls (neuter and drop_statements change exactly what they say and
nothing else, and never the set they were given), its catalogue lookups' errors, and `python -m scps.coverage`'s
table, summary and exit status with and without a planted fault."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from scps import coverage
from scps.evaluate import Request
from scps.render import GuardrailSet, render
from vending.exceptions import InvalidRequest
from vending.layout import Layout, load_layout

FULL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def layout() -> Layout:
    return load_layout()


@pytest.fixture(scope="module")
def rendered(layout: Layout) -> GuardrailSet:
    return render(coverage.probe_layout(layout))


def _frozen(r: GuardrailSet) -> str:
    return json.dumps(
        {
            n: [p.name, p.description, p.kind, [[s.group, s.body, s.exempts_platform] for s in p.statements]]
            for n, p in r.policies.items()
        },
        sort_keys=True,
    )


def test_the_levels_are_the_staging_paths_scps_each_beside_full_aws_access(layout: Layout, rendered) -> None:
    probed = coverage.probe_layout(layout)
    tier = next(iter(layout.gpu_tiers))
    levels = coverage._scp_levels(probed, rendered, tier)
    parts = layout.ou_for_stage("staging").split("/")
    docs = lambda names: [FULL, *(rendered.policies[n].document for n in names)]  # noqa: E731
    expected = [[FULL]]  # the root
    expected += [docs(rendered.ou_policies.get("/".join(parts[:d]), ())) for d in range(1, len(parts) + 1)]
    expected += [docs([rendered.tier_policies[tier], rendered.team_policies[(f"coverage-{tier}", "staging")]])]
    assert levels == expected
    assert len(parts) == 2 and all(rendered.ou_policies.get("/".join(parts[:d])) for d in (1, 2)), parts


def test_an_ou_with_no_scp_of_its_own_is_a_level_of_full_aws_access_alone(layout: Layout, rendered) -> None:
    staging = layout.ou_for_stage("staging")
    bare = dataclasses.replace(rendered, ou_policies={k: v for k, v in rendered.ou_policies.items() if k != staging})
    tier = next(iter(layout.gpu_tiers))
    assert coverage._scp_levels(coverage.probe_layout(layout), bare, tier)[2] == [FULL]


def test_the_probe_request_is_a_team_ci_call_with_the_accounts_tags_in_an_allowed_region(layout: Layout) -> None:
    request = coverage._request(layout, "inference", "ec2:RunInstances", {"ec2:InstanceType": "p5.48xlarge"})
    tags = {"team": "coverage-inference", "stage": "staging", "cost-center": "CC-0000"}
    assert request == Request(
        "ec2:RunInstances",
        "*",
        coverage.PRINCIPAL,
        {
            "aws:RequestedRegion": layout.organization.allowed_regions[0],
            **{f"aws:RequestTag/{k}": tags[k] for k in layout.organization.mandatory_tags},
            "ec2:InstanceType": "p5.48xlarge",
        },
    )


def test_a_mandatory_tag_the_probe_team_has_no_value_for_is_sent_as_x(layout: Layout) -> None:
    organization = layout.organization.model_copy(
        update={"mandatory_tags": [*layout.organization.mandatory_tags, "data-class"]}
    )
    wider = layout.model_copy(update={"organization": organization})
    assert coverage._request(wider, "inference", "ec2:RunInstances", {}).context["aws:RequestTag/data-class"] == "x"


def test_neuter_replaces_the_type_values_only_and_leaves_its_input_alone(rendered) -> None:
    before = _frozen(rendered)
    neutered = coverage.neuter(rendered)
    assert _frozen(rendered) == before  # the set it was given is untouched (a shallow copy would rewrite it)
    keys, replaced = set(coverage.FENCED_KEYS.values()), 0
    for name, policy in rendered.policies.items():
        got = neutered.policies[name]
        assert (got.name, got.description, got.kind) == (policy.name, policy.description, policy.kind)
        assert [(s.group, s.exempts_platform) for s in got.statements] == [
            (s.group, s.exempts_platform) for s in policy.statements
        ]
        for old, new in zip(policy.statements, got.statements, strict=True):
            expected = copy.deepcopy(old.body)
            for block in expected.get("Condition", {}).values():
                for k in block:
                    if k in keys:
                        block[k] = coverage.NEUTERED
                        replaced += 1
            assert new.body == expected, (name, old.sid)
    assert replaced >= len(rendered.tier_policies)  # the control: there were type values to replace


def test_drop_statements_deletes_the_named_statements_only(rendered) -> None:
    before = _frozen(rendered)
    dropped = coverage.drop_statements(rendered, {"DenyUntypedCapacity"})
    assert _frozen(rendered) == before
    removed = 0
    for name, policy in rendered.policies.items():
        got = dropped.policies[name]
        assert (got.name, got.description, got.kind) == (policy.name, policy.description, policy.kind)
        kept = [s for s in policy.statements if s.sid != "DenyUntypedCapacity"]
        removed += len(policy.statements) - len(kept)
        assert got.statements == tuple(kept)
    assert removed >= 1


def test_a_catalogue_pattern_that_names_nothing_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequest, match=r"catalogue pattern nosuchservice:Create\* matches no action"):
        coverage.catalogue_matching(("nosuchservice:Create*",))
    assert coverage.catalogue_matching(("ec2:RunInstances",)) == ["ec2:RunInstances"]


def test_a_row_reads_out_whole() -> None:
    row = coverage.CoverageRow("k", "ec2:RunInstances", "fenced", "GpuTier")
    assert row.to_dict() == {"key": "k", "action": "ec2:RunInstances", "status": "fenced", "control": "GpuTier"}


def test_denied_in_every_tier_is_true_only_where_every_tier_denies(layout: Layout) -> None:
    # a commitment purchase is denied in every tier; an ordinary describe in none
    assert coverage.denied_in_every_tier(layout, "ec2:PurchaseReservedInstancesOffering")
    assert not coverage.denied_in_every_tier(layout, "ec2:DescribeInstances")
    # a statement that fences it taken away (the negative control): no longer denied everywhere
    rendered = render(coverage.probe_layout(layout))
    assert not coverage.denied_in_every_tier(
        layout, "ec2:PurchaseReservedInstancesOffering", coverage.drop_statements(rendered, {"DenyUntypedCapacity"})
    )


@pytest.fixture(scope="module")
def printed(layout: Layout) -> dict[str, tuple[int, str]]:
    """`python -m scps.coverage` as it ships, then with each negative control."""
    import contextlib
    import io

    out: dict[str, tuple[int, str]] = {}
    for name, argv in (("plain", []), ("neuter", ["--neuter"]), ("drop", ["--drop=DenyUntypedCapacity"])):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = coverage.main(argv)
        out[name] = (code, buffer.getvalue())
    return out


def test_the_table_prints_every_row_and_the_counts(layout: Layout, printed) -> None:
    code, text = printed["plain"]
    rows = coverage.coverage(layout)
    lines = text.splitlines()
    width = max(len(r.action) for r in rows)
    assert lines[: len(rows)] == [f"{r.key:58} {r.action:{width}} {r.status:9} {r.control}" for r in rows]
    counts = {s: sum(r.status == s for r in rows) for s in ("fenced", "open", "bypass", "UNFENCED")}
    assert counts["UNFENCED"] == 0 and counts["fenced"] > 0
    assert lines[len(rows) :] == [
        "",
        f"{len(rows)} rows: {counts['fenced']} fenced, {counts['open']} open, {counts['bypass']} bypass, 0 UNFENCED",
    ]
    assert code == 0


def test_the_neutered_table_fails_and_says_it_is_a_negative_control(printed) -> None:
    code, text = printed["neuter"]
    assert code == 1
    assert (
        text.splitlines()[-1] == f"(negative control: every tier condition value replaced with {coverage.NEUTERED!r})"
    )
    summary = text.splitlines()[-2]
    assert summary.endswith("UNFENCED") and not summary.endswith(" 0 UNFENCED")


def test_the_table_with_a_statement_dropped_fails_and_names_it(printed) -> None:
    code, text = printed["drop"]
    assert code == 1
    assert text.splitlines()[-1] == "(negative control: statements ['DenyUntypedCapacity'] deleted)"
    assert "(negative control: every tier" not in text


def _blanket_deny(rendered: GuardrailSet, tier_policy: str, action: str) -> GuardrailSet:
    """A planted fault: the tier policy also denies `action` whatever its type (so the type is not what decides)."""
    from scps.render import RenderedPolicy, Statement

    old = rendered.policies[tier_policy]
    body = {"Sid": "PlantedBlanketDeny", "Effect": "Deny", "Action": action, "Resource": "*"}
    planted = RenderedPolicy(old.name, old.description, old.kind, (*old.statements, Statement("planted", body, True)))
    return dataclasses.replace(rendered, policies={**rendered.policies, tier_policy: planted})


def test_each_row_names_what_decided_it(layout: Layout, rendered) -> None:
    rows = {(r.key, r.action): r for r in coverage.coverage(layout, rendered)}
    # a typed row: the statements that denied the accelerated request in each tier, sorted, joined
    assert rows[("ec2:InstanceType", "ec2:AllocateHosts")].control == (
        "GpuTierInferenceEc2, GpuTierNoneEc2, GpuTierTrainingEc2"
    )
    # a read or end of capacity: open, for that reason
    opened = [r for r in rows.values() if r.status == "open"]
    assert opened and all(r.control == coverage.NO_CAPACITY for r in opened)
    # an untyped row: the statements that denied it, each once
    untyped = rows[("(commitment)", "ec2:PurchaseReservedInstancesOffering")]
    assert (untyped.status, untyped.control) == ("fenced", "DenyUntypedCapacity")


def test_the_negative_controls_rows_say_what_got_through(layout: Layout, rendered) -> None:
    neutered = {(r.key, r.action): r for r in coverage.coverage(layout, coverage.neuter(rendered))}
    run = neutered[("ec2:InstanceType", "ec2:RunInstances")]
    values = {t: coverage._ec2_outside(layout, t) for t in layout.gpu_tiers}
    assert run.control == "; ".join(f"tier {t}: ec2:InstanceType={values[t]} allowed" for t in layout.gpu_tiers)
    dropped = {
        (r.key, r.action): r
        for r in coverage.coverage(layout, coverage.drop_statements(rendered, {"DenyUntypedCapacity"}))
    }
    bought = dropped[("(commitment)", "ec2:PurchaseReservedInstancesOffering")]
    assert (bought.status, bought.control) == ("UNFENCED", f"allowed in tiers {sorted(layout.gpu_tiers)}")


def test_a_deny_whatever_the_type_is_not_counted_as_a_fence(layout: Layout, rendered) -> None:
    # GIVEN every tier policy also denying RunInstances outright (planted): the accelerated request is denied, but so
    # is the ordinary one, so the type is not the cause
    planted = rendered
    for tier in layout.gpu_tiers:
        planted = _blanket_deny(planted, rendered.tier_policies[tier], "ec2:RunInstances")
    rows = {(r.key, r.action): r for r in coverage.coverage(layout, planted)}
    run = rows[("ec2:InstanceType", "ec2:RunInstances")]
    # THEN the row is UNFENCED, with every tier's reason
    assert run.status == "UNFENCED"
    assert run.control == "; ".join(
        f"tier {t}: the ordinary request is denied too (PlantedBlanketDeny), so the type is no cause"
        for t in layout.gpu_tiers
    )
    # AND the control: without the planted statement the same row is fenced
    assert {(r.key, r.action): r for r in coverage.coverage(layout, rendered)}[run.key, run.action].status == "fenced"


def test_the_command_reads_its_arguments_and_the_layout_it_is_given(monkeypatch, tmp_path, layout: Layout) -> None:
    import contextlib
    import io

    # GIVEN a copy of the packaged layout file, named on the command line
    import yaml

    from vending.layout import DEFAULT_LAYOUT

    data = yaml.safe_load(DEFAULT_LAYOUT.read_text(encoding="utf-8"))
    path = tmp_path / "layout.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    # WHEN run as `python -m scps.coverage <layout> --neuter` (sys.argv, the module's own entry)
    monkeypatch.setattr("sys.argv", ["scps.coverage", str(path), "--neuter"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = coverage.main()
    # THEN the file is the layout read (a missing one is an error) and the flag after it is honoured
    assert code == 1 and "negative control: every tier condition value" in out.getvalue()
    monkeypatch.setattr("sys.argv", ["scps.coverage", str(tmp_path / "missing.yaml")])
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        coverage.main()
