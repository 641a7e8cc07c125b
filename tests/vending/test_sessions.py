"""Sessions share one botocore data loader (parsed JSON) but never credentials."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.handlers

from vending.aws import sessions


def test_new_sessions_share_the_loader_and_keep_their_own_credentials() -> None:
    # GIVEN two sessions for two different principals
    a = sessions.new_session(aws_access_key_id="AKIDA", aws_secret_access_key="a", region_name="us-east-1")
    b = sessions.new_session(aws_access_key_id="AKIDB", aws_secret_access_key="b", region_name="eu-west-1")

    # THEN the parsed botocore data is shared: the second client is built without reading the JSON again
    loader = a._session.get_component("data_loader")
    assert loader is b._session.get_component("data_loader") is sessions._LOADER
    a.client("organizations")
    cached = dict(loader._cache)
    b.client("organizations")
    assert loader._cache.keys() == cached.keys()
    # AND the credentials and regions stay each session's own
    assert a.get_credentials().access_key == "AKIDA" and b.get_credentials().access_key == "AKIDB"
    assert (a.region_name, b.region_name) == ("us-east-1", "eu-west-1")


def test_search_paths_do_not_grow_with_each_session() -> None:
    # boto3 appends its data folder to the loader on every Session; a process making thousands must not leak.
    sessions.new_session()
    before = list(sessions._LOADER.search_paths)
    for _ in range(50):
        sessions.new_session()
    assert sessions._LOADER.search_paths == before
    assert len(before) == len(set(before))


def test_an_invocation_makes_one_client_per_service_and_the_next_invocation_its_own(monkeypatch: Any) -> None:
    from vending.context import Context

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # GIVEN one invocation's context
    first = Context()
    # WHEN it asks for a service's client twice (a route, then its store)
    # THEN it gets the one client, and another service gets another
    assert first.client("dynamodb") is first.store._items.client
    assert first.client("stepfunctions") is not first.client("dynamodb")
    # AND the next invocation builds its own, on its own session
    second = Context()
    assert second.client("dynamodb") is not first.client("dynamodb")
    assert second.session is not first.session


def _handlers(session: boto3.Session, event_name: str) -> list[Any]:
    emitter = session._session._events
    return list(emitter._emitter._handlers.prefix_search(emitter._alias_event_name(event_name)))


def _same(handler: Any) -> Any:
    """A handler's identity, except closures made per session (boto3's lazy_call, Powertools' user-agent
    initializer), which are the same by their function and what they captured."""
    cells = getattr(handler, "__closure__", None)
    if not cells:
        return handler
    return handler.__qualname__, tuple(c.cell_contents for c in cells if isinstance(c.cell_contents, str))


# Events of every kind botocore registers built-ins for, named as a client emits them.
EVENTS = [
    *sorted({spec[0] for spec in botocore.handlers.BUILTIN_HANDLERS}),
    "before-call.s3.PutObject",
    "before-parameter-build.ec2.RunInstances",
    "needs-retry.sts.AssumeRole",
    "choose-signer.cognito-identity.GetId",
    "after-call.iam.GetRole",
    "creating-resource-class.s3.Bucket",
]


def test_a_new_session_has_exactly_botocore_s_built_in_handlers_in_botocore_s_order() -> None:
    # GIVEN a stock boto3 session and one of ours (built-ins copied from a template, not registered again)
    stock = boto3.Session()
    ours = sessions.new_session()
    # THEN for every event a client emits, the same handlers run in the same order (first/last included)
    for event in EVENTS:
        assert list(map(_same, _handlers(ours, event))) == list(map(_same, _handlers(stock, event))), event


def test_a_handler_botocore_gains_later_is_in_the_next_session_and_sessions_do_not_share_handlers(
    monkeypatch: Any,
) -> None:
    sessions.new_session()  # the template for today's built-ins exists

    # GIVEN a built-in appended after it was made (as moto's in-process mock appends its stubber)
    def stub(**_: Any) -> None:
        return None

    monkeypatch.setattr(
        botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, ("before-send", stub)]
    )
    # THEN the next session has it
    first = sessions.new_session()
    assert stub in _handlers(first, "before-send.sts.AssumeRole")

    # AND a handler one session registers (the emulator records calls per invocation) is in no other session
    def recorder(**_: Any) -> None:
        return None

    first.events.register("before-call", recorder)
    assert recorder in _handlers(first, "before-call.sts.AssumeRole")
    assert recorder not in _handlers(sessions.new_session(), "before-call.sts.AssumeRole")
