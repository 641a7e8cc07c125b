"""vending.pipeline.stacks and the intake preflight: a stack resolves from a committed folder or a template; a new team
gets bootstrap and networking rendered; what cannot resolve is refused naming `stacks` before anything exists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vending.exceptions import InvalidRequest, StackUnresolvable
from vending.intake import preflight
from vending.lifecycle import RequestStore
from vending.pipeline.stacks import (
    available_templates,
    render_stack,
    resolve_stack,
    stack_dir_for,
)
from vending.settings import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"


def test_available_templates_include_bootstrap_and_networking() -> None:
    assert {"bootstrap", "networking"} <= set(available_templates(TERRAFORM))


def test_resolve_stack_committed_folder() -> None:
    source = resolve_stack("team-mlops", "staging", "bootstrap", TERRAFORM)
    assert source.kind == "committed" and source.path == TERRAFORM / "environments/team-mlops/staging/bootstrap"


def test_resolve_stack_new_team_gets_template_unknown_stack_refused() -> None:
    assert resolve_stack("team-newcomer", "production", "networking", TERRAFORM).kind == "template"
    with pytest.raises(StackUnresolvable, match="kafka"):
        resolve_stack("team-newcomer", "staging", "kafka", TERRAFORM)


@pytest.mark.parametrize("stack", ["bootstrap", "networking"])
def test_render_stack_for_new_team_is_a_complete_stack(stack: str, tmp_path: Path) -> None:
    # GIVEN a team with no folder under terraform/environments
    source = resolve_stack("team-newcomer", "staging", stack, TERRAFORM)
    # WHEN its stack is rendered
    out = render_stack(source, TERRAFORM, tmp_path)
    # THEN it has the files a committed stack has, the boilerplate of the templates, and its own state key
    reference = TERRAFORM / "environments/team-backend/staging" / stack
    assert {p.name for p in out.iterdir()} == {p.name for p in reference.iterdir()}
    for name in ("main.tf", "providers.tf", "variables.tf", "versions.tf", "terraform.tfvars", ".terraform.lock.hcl"):
        assert out.joinpath(name).read_text() == reference.joinpath(name).read_text(), name
    key = f'key          = "team-newcomer/staging/{stack}/terraform.tfstate"'
    assert key in out.joinpath("backend.tf").read_text()
    # AND the stacks' relative module sources resolve from the rendered folder
    assert out.joinpath("../../../../modules/baseline/main.tf").resolve().is_file()


def test_stack_dir_for_committed_and_rendered() -> None:
    committed = TERRAFORM / "environments/team-mlops/staging/bootstrap"
    assert stack_dir_for("team-mlops/staging/bootstrap", TERRAFORM) == committed
    rendered = stack_dir_for("team-newcomer/staging/bootstrap", TERRAFORM)
    assert rendered.parts[-4:] == ("environments", "team-newcomer", "staging", "bootstrap")
    assert rendered.joinpath("main.tf").is_file()


def test_preflight_unresolvable_stack_named_nothing_written(
    store: RequestStore, make_request: Callable[..., Any]
) -> None:
    request = make_request(team="team-newcomer", stacks=["bootstrap", "networking", "kafka"])
    with pytest.raises(InvalidRequest) as caught:
        preflight(request, store, TERRAFORM)
    assert [d["field"] for d in caught.value.details] == ["stacks"]
    assert "kafka" in caught.value.details[0]["message"]
    assert store.list() == []


def test_preflight_new_team_with_template_stacks_passes(store: RequestStore, make_request: Callable[..., Any]) -> None:
    preflight(make_request(team="team-newcomer", stacks=["bootstrap", "networking"]), store, TERRAFORM)


def test_preflight_account_email_of_another_team_refused(store: RequestStore, make_request: Callable[..., Any]) -> None:
    # GIVEN another team's record whose account was adopted under the e-mail this request's account would get
    other = make_request(team="team-other")
    store.reserve(other, "vend-team-other-staging-a1")
    store.update(other.request_id, step="CreateAccount", account_email="aws+team-mlops-staging@example.com")
    # WHEN team-mlops asks for staging
    with pytest.raises(InvalidRequest) as caught:
        preflight(make_request(), store, TERRAFORM)
    # THEN it is refused naming the team and the owner of the e-mail
    assert [d["field"] for d in caught.value.details] == ["team"]
    assert "team-other" in caught.value.details[0]["message"]


def test_preflight_tier_and_regions_the_layout_lacks_are_named_each(
    store: RequestStore, make_request: Callable[..., Any]
) -> None:
    from vending.layout import cached_layout

    # GIVEN a layout without the request's GPU tier and with another region allow-list
    layout = cached_layout()
    request = make_request()
    narrower = layout.model_copy(
        update={
            "gpu_tiers": {k: v for k, v in layout.gpu_tiers.items() if k != request.gpu_tier},
            "organization": layout.organization.model_copy(update={"allowed_regions": ("ap-south-2",)}),
        }
    )
    # WHEN the request is checked against it THEN it is refused naming exactly those two fields, as fields
    with pytest.raises(InvalidRequest) as caught:
        preflight(request, store, TERRAFORM, narrower)
    assert [d["field"] for d in caught.value.details] == ["gpu_tier", "regions"]
    assert request.gpu_tier not in caught.value.details[0]["message"]
    assert str(list(request.regions)) in caught.value.details[1]["message"]
    # AND against the real layout the same request passes
    preflight(request, store, TERRAFORM, layout)


def test_preflight_records_of_the_same_team_or_without_a_saved_email_do_not_collide(
    store: RequestStore, make_request: Callable[..., Any]
) -> None:
    # GIVEN the same team's record for another stage, and another team's record that saved no account e-mail yet
    mine = make_request(stage="production")
    store.reserve(mine, "vend-team-mlops-production-a1")
    store.update(mine.request_id, step="CreateAccount", account_email="aws+team-mlops-staging@example.com")
    other = make_request(team="team-other")
    store.reserve(other, "vend-team-other-staging-a1")
    # WHEN team-mlops asks for staging THEN neither is another team's account under this e-mail
    preflight(make_request(), store, TERRAFORM)
