"""Sessions share one botocore data loader (parsed JSON) but never credentials."""

from __future__ import annotations

from typing import Any

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
