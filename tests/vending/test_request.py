"""vending.request: validation names every bad field at once; the id is team + stage; bootstrap runs first."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from vending.exceptions import InvalidRequest
from vending.request import execution_name, parse_request, request_id_for


def _fields(error: InvalidRequest) -> dict[str, str]:
    return {d["field"]: d["message"] for d in error.details}


@pytest.mark.parametrize(
    ("field", "value", "expected_field", "expected_text"),
    [
        ("team", "Team_MLOps", "team", "lowercase"),
        ("team", "ab", "team", "at least 3"),
        ("team", "team--x", "team", "single hyphens"),
        ("team", "team-x\n", "team", "lowercase"),
        ("owner_email", "a..b@example..com", "owner_email", "two periods"),
        ("owner_email", "a" * 60 + "@example.com", "owner_email", "at most 64"),
        ("owner_email", "Team <t@example.com>", "owner_email", "not an e-mail"),
        ("owner_email", "t\u00fc@example.com", "owner_email", "ASCII"),
        ("cost_center", "CC-\uff11\uff12\uff13\uff14", "cost_center", "ASCII digits"),
        ("cost_center", "CC-1234\n", "cost_center", "CC-1234"),
        ("repository", "example-org/..", "repository", "'..'"),
        ("repository", "example-org/.", "repository", "'.'"),
        ("repository", "-org/x", "repository", "owner"),
        ("repository", "a" * 40 + "/x", "repository", "owner"),
        ("repository", "org/" + "x" * 101, "repository", "1-100"),
        ("regions", "us-east-1", "regions", "tuple"),
        ("team", 7, "team", "string"),
        ("stage", "dev", "stage", "staging"),
        ("owner_email", "not-an-email", "owner_email", "not an e-mail"),
        ("cost_center", "1234", "cost_center", "CC-1234"),
        ("gpu_tier", "quantum", "gpu_tier", "not a GPU tier"),
        ("regions", ["ap-south-1"], "regions", "allow-list"),
        ("regions", ["us-east-1", "us-east-1"], "regions", "repeat"),
        ("regions", [], "regions", "at least 1"),
        ("stacks", ["bootstrap", "Database!"], "stacks", "stack name"),
        ("stacks", [], "stacks", "at least 1"),
        ("repository", "not a repo", "repository", "owner/repo"),
        ("repository", "https://github.com/example-org/x", "repository", "owner/repo"),
    ],
)
def test_parse_request_invalid_field_is_named(
    detail: dict[str, Any], field: str, value: Any, expected_field: str, expected_text: str
) -> None:
    # GIVEN a valid onboarding request with one bad field
    data = {**detail, field: value}
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_request(data)
    # THEN the error names exactly that field, with a message that says what is wrong
    problems = _fields(caught.value)
    assert list(problems) == [expected_field]
    assert expected_text in problems[expected_field]
    assert str(caught.value).startswith(f"{expected_field}: ")


def test_parse_request_unknown_extra_field_is_named(detail: dict[str, Any]) -> None:
    # GIVEN a request with a typo'd field name
    data = {**detail, "gpu_teir": "training"}
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_request(data)
    # THEN the typo is reported as an unknown field
    assert caught.value.details == [{"field": "gpu_teir", "message": "unknown field"}]


def test_parse_request_missing_field_is_named(detail: dict[str, Any]) -> None:
    # GIVEN a request without a repository
    data = {k: v for k, v in detail.items() if k != "repository"}
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_request(data)
    # THEN the missing field is named
    assert _fields(caught.value) == {"repository": "Field required"}


def test_parse_request_team_too_long_for_the_account_email_in_production(detail: dict[str, Any]) -> None:
    # GIVEN a 38-character team: its production account e-mail (aws+<team>-production@example.com) is 65 characters
    team = "t" + "e" * 37
    # WHEN it is parsed for staging and for production
    parse_request({**detail, "team": team, "stage": "staging"})
    with pytest.raises(InvalidRequest) as caught:
        parse_request({**detail, "team": team, "stage": "production"})
    # THEN only production is refused, naming the team and Organizations' 64-character limit
    assert list(_fields(caught.value)) == ["team"]
    assert "over 64 characters" in _fields(caught.value)["team"]


def test_parse_request_all_problems_reported_at_once() -> None:
    # GIVEN a request where every field is wrong and one is unknown
    data = {
        "team": "X",
        "stage": "qa",
        "owner_email": "nobody",
        "cost_center": "42",
        "gpu_tier": "h100",
        "regions": ["mars-north-1"],
        "stacks": ["Kafka"],
        "repository": "no",
        "colour": "blue",
    }
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_request(data)
    # THEN every field is listed in one error, and the message mentions each
    assert set(_fields(caught.value)) == {
        "team",
        "stage",
        "owner_email",
        "cost_center",
        "gpu_tier",
        "regions",
        "stacks",
        "repository",
        "colour",
    }
    for field in _fields(caught.value):
        assert f"{field}: " in str(caught.value)


def test_parse_request_non_object_is_rejected() -> None:
    # GIVEN a JSON array instead of an object
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_request(["team-mlops"])
    # THEN the error names the request itself
    assert "must be a JSON object" in str(caught.value)


def test_parse_request_region_item_error_names_the_index(detail: dict[str, Any]) -> None:
    # GIVEN a region that is not a string
    # WHEN it is parsed
    with pytest.raises(InvalidRequest) as caught:
        parse_request({**detail, "regions": ["us-east-1", 7]})
    # THEN the field path points at the bad item
    assert "regions.1" in _fields(caught.value)


def test_request_id_deterministic_from_team_and_stage(make_request: Callable[..., Any]) -> None:
    # GIVEN two requests for the same team and stage that differ in everything else
    first = make_request(gpu_tier="none", regions=["eu-west-1"], cost_center="CC-9999")
    second = make_request(stacks=["bootstrap", "eks"])
    # WHEN their ids are read
    # THEN they are the same request; another stage is another request
    assert first.request_id == second.request_id == request_id_for("team-mlops", "staging") == "team-mlops-staging"
    assert make_request(stage="production").request_id == "team-mlops-production"
    assert execution_name(first.request_id, 3) == "vend-team-mlops-staging-a3"


def test_request_bootstrap_stack_forced_first(make_request: Callable[..., Any]) -> None:
    # GIVEN stacks that list bootstrap last, or omit it, or repeat entries
    # WHEN the requests are parsed
    # THEN bootstrap always runs first, once, and the others keep their order
    assert make_request(stacks=["eks", "networking", "bootstrap"]).stacks == ("bootstrap", "eks", "networking")
    assert make_request(stacks=["cloudfront"]).stacks == ("bootstrap", "cloudfront")
    assert make_request(stacks=["networking", "networking"]).stacks == ("bootstrap", "networking")


def test_request_stacks_default_to_bootstrap(detail: dict[str, Any]) -> None:
    # GIVEN a request that does not name stacks
    data = {k: v for k, v in detail.items() if k != "stacks"}
    # WHEN it is parsed
    # THEN only the bootstrap stack runs
    assert parse_request(data).stacks == ("bootstrap",)


def test_request_normalises_email_and_refuses_whitespace(make_request: Callable[..., Any]) -> None:
    # GIVEN an e-mail in mixed case
    request = make_request(owner_email="MLOps-Leads@Example.COM")
    # WHEN parsed
    # THEN the e-mail is lower-cased; the home region is the first region
    assert request.owner_email == "mlops-leads@example.com"
    assert request.home_region == "us-east-1"
    # AND a team with surrounding spaces is refused, not silently trimmed
    with pytest.raises(InvalidRequest) as caught:
        make_request(team="  team-mlops ")
    assert list(_fields(caught.value)) == ["team"]


def test_request_api_gateway_body_is_a_valid_request(event_payload: Callable[[str], dict[str, Any]]) -> None:
    # GIVEN the body of a real API Gateway POST /requests event
    body = json.loads(event_payload("api_post_requests")["body"])
    # WHEN it is parsed
    request = parse_request(body)
    # THEN it is the production request of team-backend, bootstrap first, home region first listed
    assert request.request_id == "team-backend-production"
    assert request.stacks == ("bootstrap", "networking")
    assert request.home_region == "us-west-2"


def test_request_round_trips_through_json(make_request: Callable[..., Any]) -> None:
    # GIVEN a parsed request
    request = make_request(stacks=["eks", "bootstrap"])
    # WHEN it is dumped as the state machine carries it and parsed again
    again = parse_request(json.loads(json.dumps(request.model_dump(mode="json"))))
    # THEN nothing changes
    assert again == request


# --- properties: accepted iff valid by an independent oracle; nothing but InvalidRequest ever escapes -------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from vending.request import parse_body  # noqa: E402

ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz"
ASCII_DIGITS = "0123456789"
REPO_CHARS = ASCII_LOWER + ASCII_LOWER.upper() + ASCII_DIGITS + "._-"
OWNER_CHARS = ASCII_LOWER + ASCII_LOWER.upper() + ASCII_DIGITS + "-"
GOOD_REQUEST = {
    "team": "team-mlops",
    "stage": "staging",
    "owner_email": "mlops-leads@example.com",
    "cost_center": "CC-1003",
    "gpu_tier": "training",
    "regions": ["us-east-1"],
    "repository": "example-org/team-mlops-infra",
}
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _team_ok(team: str, stage: str = "staging") -> bool:
    return (
        3 <= len(team) <= 40
        and all(c in ASCII_LOWER + ASCII_DIGITS + "-" for c in team)
        and team[0] in ASCII_LOWER
        and team[-1] != "-"
        and "--" not in team
        and len(f"aws+{team}-{stage}@example.com") <= 64
        and len(f"{team}-{stage}") <= 50
    )


def _cost_center_ok(value: str) -> bool:
    digits = value[3:]
    return value[:3] == "CC-" and 4 <= len(digits) <= 6 and all(c in ASCII_DIGITS for c in digits)


def _repository_ok(value: str) -> bool:
    if value.count("/") != 1:
        return False
    owner, name = value.split("/")
    return (
        1 <= len(owner) <= 39
        and all(c in OWNER_CHARS for c in owner)
        and owner[0] != "-"
        and owner[-1] != "-"
        and "--" not in owner
        and 1 <= len(name) <= 100
        and all(c in REPO_CHARS for c in name)
        and name not in {".", ".."}
    )


def _accepted(data: Any) -> bool:
    try:
        parse_request(data)
    except InvalidRequest as e:
        assert e.details and all(d["field"] for d in e.details)
        return False
    return True


def _near(alphabet: str) -> st.SearchStrategy[str]:
    """Strings mostly from the valid alphabet, sometimes anything (Unicode digits, letters, controls)."""
    return st.text(st.one_of(st.sampled_from(alphabet), st.characters()), max_size=60)


@PROPS
@given(
    team=st.one_of(_near(ASCII_LOWER + ASCII_DIGITS + "-"), st.text(max_size=60)),
    stage=st.sampled_from(["staging", "production"]),
)
def test_property_team_accepted_iff_oracle(team: str, stage: str) -> None:
    assert _accepted({**GOOD_REQUEST, "team": team, "stage": stage}) == _team_ok(team, stage)


@PROPS
@given(st.one_of(st.builds(lambda d: "CC-" + d, _near(ASCII_DIGITS)), st.text(max_size=20)))
def test_property_cost_center_accepted_iff_oracle(value: str) -> None:
    assert _accepted({**GOOD_REQUEST, "cost_center": value}) == _cost_center_ok(value)


@PROPS
@given(
    st.one_of(
        st.builds(lambda o, n: f"{o}/{n}", _near(OWNER_CHARS), _near(REPO_CHARS)),
        st.builds(
            lambda o, n: f"{o}/{n}",
            st.text(OWNER_CHARS, min_size=1, max_size=45),
            st.text(REPO_CHARS, min_size=1, max_size=110),
        ),
        st.text(max_size=200),
    )
)
def test_property_repository_accepted_iff_oracle(value: str) -> None:
    assert _accepted({**GOOD_REQUEST, "repository": value}) == _repository_ok(value)


@PROPS
@given(
    local=st.text(ASCII_LOWER + ASCII_DIGITS, min_size=1, max_size=70),
    domain=st.text(ASCII_LOWER, min_size=1, max_size=20),
)
def test_property_plain_email_accepted_iff_short_enough(local: str, domain: str) -> None:
    # Plain dot-free ASCII addresses: valid exactly when Organizations' 64 characters hold.
    email = f"{local}@{domain}.com"
    assert _accepted({**GOOD_REQUEST, "owner_email": email}) == (len(email) <= 64)


@PROPS
@given(st.text(min_size=1, max_size=80))
def test_property_email_non_ascii_or_long_refused(value: str) -> None:
    if not value.isascii() or len(value) > 64 or "@" not in value:
        assert not _accepted({**GOOD_REQUEST, "owner_email": value})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)


@PROPS
@given(st.one_of(JSON, st.dictionaries(st.sampled_from([*GOOD_REQUEST, "stacks", "x"]), JSON, max_size=9)))
def test_property_any_json_value_only_invalid_request(value: Any) -> None:
    # Anything but a valid request is an InvalidRequest naming fields; nothing else is ever raised.
    _accepted(value)


@PROPS
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.integers(0, 20_000).map(lambda n: b"[" * n + b"]" * n),
    )
)
def test_property_any_body_only_invalid_request(body: bytes) -> None:
    try:
        parse_body(body)
    except InvalidRequest as e:
        assert e.details and all(d["field"] for d in e.details)
