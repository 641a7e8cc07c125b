"""vending.workflow and vending.layout: the execution state document and the layout it relies on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from vending.exceptions import InvalidWorkflowState
from vending.layout import Layout, load_layout
from vending.request import VendingRequest
from vending.workflow import WorkflowSettings, WorkflowState, execution_input


def test_workflow_state_input_event_parses(event_payload: Callable[[str], dict[str, Any]]) -> None:
    # GIVEN the recorded state-machine input document
    # WHEN it is parsed as the execution state
    state = WorkflowState.model_validate(event_payload("state_input"))
    # THEN the request, execution and settings come through and there is no account yet
    assert state.request.request_id == "team-mlops-staging"
    assert state.execution == "vend-team-mlops-staging-a1"
    assert state.settings == WorkflowSettings()
    with pytest.raises(InvalidWorkflowState, match="no account id"):
        state.account_id()


def test_workflow_state_keeps_unknown_keys(event_payload: Callable[[str], dict[str, Any]]) -> None:
    # GIVEN a state document after several steps (ResultPath keys this model does not declare)
    document = {
        **event_payload("state_input"),
        "placement": {"ou_id": "ou-1"},
        "account": {"account_id": "111122223333", "state": "SUCCEEDED"},
    }
    # WHEN it is parsed
    state = WorkflowState.model_validate(document)
    # THEN the account id is available and the other keys pass through
    assert state.account_id() == "111122223333"
    assert state.model_dump()["placement"] == {"ou_id": "ou-1"}


def test_execution_input_matches_recorded_event(
    request_: VendingRequest, event_payload: Callable[[str], dict[str, Any]]
) -> None:
    # GIVEN the request of the recorded onboarding event
    # WHEN the entry points build the execution input
    document = execution_input(request_, "vend-team-mlops-staging-a1")
    # THEN it is the recorded state-machine input
    assert document == event_payload("state_input")


def test_layout_stage_ous_and_emails(layout: Layout) -> None:
    # GIVEN the packaged layout
    # WHEN stage OUs and account e-mails are derived
    # THEN they follow layout.yaml
    assert layout.ou_for_stage("staging") == "Workloads/Staging"
    assert layout.ou_for_stage("production") == "Workloads/Production"
    assert layout.account_email("team-mlops", "staging") == "aws+team-mlops-staging@example.com"
    assert layout.tag_keys() == ("team", "stage", "cost-center", "gpu-tier")
    assert layout.team("team-mlops") is not None and layout.team("team-ghost") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["stage_ous"].update(staging="Workloads/Nope"), "stage_ous.staging"),
        (lambda d: d["ous"].append({"path": "Orphan/Child"}), "no parent entry"),
        (lambda d: d["teams"][0].update(gpu_tier="quantum"), "unknown tier"),
        (lambda d: d["teams"][0].update(regions=["ap-south-1"]), "not in the allow-list"),
        (lambda d: d["organization"].update(account_email_pattern="aws@example.com"), "{team}"),
        (lambda d: d["ous"].append({"path": "A/B/C/D/E/F"}), "nests 6 deep"),
    ],
)
def test_layout_rejects_inconsistent_file(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    # GIVEN layout.yaml with one inconsistency
    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "landing_zone" / "layout.yaml").read_text())
    change(data)
    path = tmp_path / "layout.yaml"
    path.write_text(yaml.safe_dump(data))
    # WHEN it is loaded
    # THEN validation names the problem
    with pytest.raises(ValidationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_layout(path)


def test_layout_with_a_python_tag_is_refused_before_anything_runs(tmp_path: Path) -> None:
    # GIVEN a layout file whose document asks YAML to build a Python object (a call, here)
    marker = tmp_path / "ran"
    text = (Path(__file__).resolve().parents[2] / "landing_zone" / "layout.yaml").read_text()
    path = tmp_path / "layout.yaml"
    touch = f"!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path [{str(marker)!r}]]"
    path.write_text(f"{text}\nexploit: {touch}\n")
    # WHEN it is loaded
    # THEN the safe loader (libyaml's or PyYAML's own) refuses the tag, and nothing was called
    with pytest.raises(yaml.constructor.ConstructorError, match="python/object/apply"):
        load_layout(path)
    assert not marker.exists()
