"""vending.request before the model: the body's limits (size, UTF-8, depth counted outside strings) and the exact
problem each refusal reports (field and message are the API's contract with its callers). Written to kill the
mutation survivors of vending/request.py (benchmarks/mutation_survivors.md)."""

from __future__ import annotations

from typing import Any

import pytest

from vending import request as request_module
from vending.exceptions import InvalidRequest, RequestTooLarge
from vending.request import MAX_DEPTH, check_body, load_json, parse_request


def _details(error: InvalidRequest) -> list[dict[str, str]]:
    return list(error.details)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (["team-a"], "an array"),
        ("team-a", "a string"),
        (None, "null"),
        (True, "a boolean"),
        (7, "a number"),
        (7.5, "a number"),
        ({"team-a"}, "set"),
    ],
)
def test_parse_request_names_what_it_got_instead_of_an_object(data: Any, kind: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(data)
    assert str(caught.value) == "request: must be a JSON object"
    assert _details(caught.value) == [{"field": "request", "message": f"must be a JSON object, not {kind}"}]


def test_check_body_size_limit_is_inclusive_and_named() -> None:
    # GIVEN a body of exactly the limit, and one byte over (counted in UTF-8 bytes, not characters)
    assert check_body(b"x" * 10, max_bytes=10) == "x" * 10
    assert check_body("é" * 5, max_bytes=10) == "é" * 5
    with pytest.raises(RequestTooLarge) as caught:
        check_body("é" * 5 + "x", max_bytes=10)
    # THEN the refusal names the size and the limit
    assert str(caught.value) == "request: body is 11 bytes, over the 10-byte limit"
    assert _details(caught.value) == [{"field": "request", "message": "body over 10 bytes"}]


def test_load_json_applies_its_own_size_limit() -> None:
    with pytest.raises(RequestTooLarge):
        load_json(b'{"team": "team-a"}', max_bytes=8)
    assert load_json(b'{"team": "team-a"}', max_bytes=18) == {"team": "team-a"}


def test_check_body_none_is_the_empty_body() -> None:
    assert check_body(None) == ""
    with pytest.raises(InvalidRequest) as caught:
        load_json(None)
    assert _details(caught.value) == [{"field": "request", "message": "empty: expected a JSON object"}]
    assert str(caught.value) == "request: empty: expected a JSON object"


def test_check_body_refuses_bytes_that_are_not_utf8() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_body(b'{"a": "\xff"}')
    assert _details(caught.value) == [{"field": "request", "message": "body is not UTF-8 (byte 7)"}]


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_check_body_depth_limit_is_inclusive() -> None:
    assert check_body(_deep(MAX_DEPTH)) == _deep(MAX_DEPTH)
    assert check_body("{" * MAX_DEPTH + "}" * MAX_DEPTH)
    for body in (_deep(MAX_DEPTH + 1), "{" * (MAX_DEPTH + 1)):
        with pytest.raises(InvalidRequest) as caught:
            check_body(body)
        assert _details(caught.value) == [{"field": "request", "message": f"nested deeper than {MAX_DEPTH} levels"}]


def test_check_body_depth_goes_down_one_level_per_closing_bracket() -> None:
    # GIVEN MAX_DEPTH levels, one closed, two more opened: MAX_DEPTH + 1 deep
    for close in "]}":
        with pytest.raises(InvalidRequest):
            check_body("[" * MAX_DEPTH + close + "[[")
    # AND siblings at the limit are fine
    assert check_body("[" + _deep(MAX_DEPTH - 1) + "," + _deep(MAX_DEPTH - 1) + "]")


@pytest.mark.parametrize(
    "body",
    [
        '{"a": "' + "[" * (MAX_DEPTH + 3) + '"}',  # brackets inside a string are text
        '{"a": "\\"' + "{" * (MAX_DEPTH + 3) + '"}',  # an escaped quote does not end the string
    ],
)
def test_check_body_brackets_inside_strings_do_not_count(body: str) -> None:
    assert check_body(body) == body


@pytest.mark.parametrize(
    "body",
    [
        '["", ' + _deep(MAX_DEPTH) + "]",  # an empty string first: its closing quote ends it
        '["\\\\", ' + _deep(MAX_DEPTH) + "]",  # a string ending in an escaped backslash: the next quote ends it
        '["a"' + _deep(MAX_DEPTH) + "]",
    ],
)
def test_check_body_brackets_after_a_string_count_again(body: str) -> None:
    with pytest.raises(InvalidRequest):
        check_body(body)


def test_duplicate_key_is_named_with_its_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        load_json('{"team": "a", "team": "b"}')
    assert _details(caught.value) == [{"field": "team", "message": "given twice"}]


def test_problems_are_joined_field_by_field_with_semicolons() -> None:
    problems = [{"field": "a", "message": "one"}, {"field": "b", "message": "two"}]
    assert str(request_module.invalid(problems)) == "a: one; b: two"


def test_parse_request_recursion_is_bad_input_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a model validation that recurses too deep (a nested dict built in Python, never from a body)
    def too_deep(_: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(request_module.VendingRequest, "model_validate", too_deep)
    with pytest.raises(InvalidRequest) as caught:
        parse_request({"team": "team-a"})
    assert _details(caught.value) == [{"field": "request", "message": "nested too deeply"}]


def test_describe_errors_model_level_team_problem_is_named_on_team(detail: dict[str, Any]) -> None:
    # GIVEN a team whose production account e-mail is over Organizations' limit (a model-level check)
    with pytest.raises(InvalidRequest) as caught:
        parse_request({**detail, "team": "t" + "e" * 37, "stage": "production"})
    # THEN it is reported on `team`, without the check's own "team: " prefix
    [problem] = _details(caught.value)
    assert problem["field"] == "team" and problem["message"].startswith("account e-mail 'aws+t"), problem


def test_describe_errors_an_error_about_no_field_is_named_request() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        request_module.VendingRequest.model_validate("not an object")
    [problem] = request_module.describe_errors(caught.value)
    assert problem["field"] == "request" and problem["message"].startswith("Input should be"), problem


def test_check_body_counts_only_brackets_outside_strings() -> None:
    # GIVEN text outside strings that is not a bracket (not JSON: the parser names it, not the depth check)
    letters = "X" * (MAX_DEPTH + 2)
    with pytest.raises(InvalidRequest) as caught:
        load_json(letters)
    assert _details(caught.value)[0]["message"].startswith("not JSON: "), _details(caught.value)
    # AND such text does not lower the depth either
    with pytest.raises(InvalidRequest) as caught:
        check_body(letters + "[" * (MAX_DEPTH + 1))
    assert _details(caught.value) == [{"field": "request", "message": f"nested deeper than {MAX_DEPTH} levels"}]
