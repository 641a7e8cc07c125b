"""The signing-name index (landing_zone.local.authorization.calls) kept in a file: the file's answer is the models'
answer, and a file made from anything else, or broken, is not believed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from landing_zone.local.authorization import calls


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(calls.CACHE_DIR_ENV, str(tmp_path))
    calls._signing_index.cache_clear()
    yield tmp_path
    calls._signing_index.cache_clear()


@pytest.fixture
def few_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader lists three services: an index of three models, not 466 (3 CPU s each time it is made)."""
    import botocore.loaders

    real = botocore.loaders.Loader.list_available_services
    monkeypatch.setattr(
        botocore.loaders.Loader,
        "list_available_services",
        lambda self, type_name: [n for n in real(self, type_name) if n in ("s3", "s3control", "sts")],
    )


def _file(cache: Path) -> Path:
    (path,) = cache.glob("signing-index-*.json")
    return path


def test_the_kept_index_is_the_models_index(cache: Path, few_models: None) -> None:
    # GIVEN no file WHEN the index is made THEN it is written, and it holds what the models say (s3control signs as s3)
    made = calls._signing_index()
    assert made == {"s3": ("s3", "s3control"), "sts": ("sts",)}
    kept = json.loads(_file(cache).read_text())
    assert {k: tuple(v) for k, v in kept["index"].items()} == made
    # AND a second process (the in-process cache cleared) reads the file: the same index
    calls._signing_index.cache_clear()
    assert calls._signing_index() == made


@pytest.mark.parametrize("damage", ["other-source", "not-json", "no-index"])
def test_a_file_not_made_from_these_models_is_made_again(cache: Path, few_models: None, damage: str) -> None:
    made = calls._signing_index()
    path = _file(cache)
    kept = json.loads(path.read_text())
    planted = {**kept, "index": {**kept["index"], "s3": ["planted"]}}
    if damage == "other-source":
        planted["source"] = kept["source"].replace("s3control", "s3kontrol")
        path.write_text(json.dumps(planted))
    elif damage == "not-json":
        path.write_text("{")
    else:
        path.write_text(json.dumps({"source": kept["source"]}))
    calls._signing_index.cache_clear()
    # WHEN the index is read again THEN it is the models' index, and the file is mended
    assert calls._signing_index() == made
    assert json.loads(path.read_text())["index"]["s3"] == ["s3", "s3control"]


def test_the_planted_file_is_believed_when_its_source_matches(cache: Path, few_models: None) -> None:
    # The control for the test above: a file whose source matches is read, not recomputed (else it proves nothing).
    calls._signing_index()
    path = _file(cache)
    kept = json.loads(path.read_text())
    path.write_text(json.dumps({**kept, "index": {**kept["index"], "s3": ["planted"]}}))
    calls._signing_index.cache_clear()
    assert calls._signing_index()["s3"] == ("planted",)
