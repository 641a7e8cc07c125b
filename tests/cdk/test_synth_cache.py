"""The synthesis cache the cdk tests share (tests/cdk/synth_cache.py) may never hand out a stale assembly: any change
to what synthesis reads is a new key, and nothing a test does to its copy reaches the cache."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cdk.synth_cache import source_key, synthesized_into


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("ignored/\n")
    (root / "app.py").write_text("STACK = 'one'\n")
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    return root


class Synth:
    """A stand-in synthesis: writes the tree's app.py into the assembly and counts its runs."""

    def __init__(self, repo: Path) -> None:
        self.repo, self.runs = repo, 0

    def __call__(self, outdir: Path) -> dict[str, Any]:
        self.runs += 1
        outdir.mkdir(parents=True)
        (outdir / "template.json").write_text((self.repo / "app.py").read_text())
        return {"run": self.runs}


def test_key_changes_with_every_file_synthesis_can_read_and_not_with_ignored_ones(repo: Path) -> None:
    before = source_key(repo)
    assert before is not None and source_key(repo) == before
    (repo / "ignored").mkdir()
    (repo / "ignored" / "scratch.txt").write_text("x")
    assert source_key(repo) == before, "an ignored file is not read by synthesis"
    (repo / "app.py").write_text("STACK = 'two'\n")  # a tracked file edited, not committed
    edited = source_key(repo)
    assert edited != before
    (repo / "new_module.py").write_text("")  # a new file git does not ignore, not added yet
    assert source_key(repo) not in {before, edited}
    assert source_key(repo, variant='{"vending:freezePolicyId": "p-1"}') != source_key(repo)


def test_one_synthesis_per_key_and_each_caller_gets_its_own_copy(repo: Path, tmp_path: Path) -> None:
    synth, cache = Synth(repo), tmp_path / "cache"
    first = synthesized_into(tmp_path / "a", repo, synth, root=cache)
    second = synthesized_into(tmp_path / "b", repo, synth, root=cache)
    assert synth.runs == 1 and first == second == {"run": 1}
    # a test writing into its copy changes nothing the next caller gets
    (tmp_path / "a" / "template.json").write_text("tampered")
    (tmp_path / "b" / ".terraform").mkdir()
    synthesized_into(tmp_path / "c", repo, synth, root=cache)
    assert (tmp_path / "c" / "template.json").read_text() == "STACK = 'one'\n"
    assert not (tmp_path / "c" / ".terraform").exists()


def test_negative_control_a_changed_tree_is_synthesized_again(repo: Path, tmp_path: Path) -> None:
    synth, cache = Synth(repo), tmp_path / "cache"
    synthesized_into(tmp_path / "a", repo, synth, root=cache)
    (repo / "app.py").write_text("STACK = 'two'\n")
    assert synthesized_into(tmp_path / "b", repo, synth, root=cache) == {"run": 2}
    assert (tmp_path / "b" / "template.json").read_text() == "STACK = 'two'\n"


def test_outside_a_git_checkout_every_call_synthesizes(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "app.py").write_text("STACK = 'one'\n")
    synth = Synth(plain)
    assert source_key(plain) is None
    synthesized_into(tmp_path / "a", plain, synth, root=tmp_path / "cache")
    synthesized_into(tmp_path / "b", plain, synth, root=tmp_path / "cache")
    assert synth.runs == 2 and not (tmp_path / "cache").exists()


def test_a_synthesis_that_fails_leaves_nothing_a_later_caller_would_take(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"

    def failing(outdir: Path) -> dict[str, Any]:
        outdir.mkdir(parents=True)
        (outdir / "template.json").write_text("half")
        raise RuntimeError("cdk-nag finding")

    with pytest.raises(RuntimeError, match="cdk-nag finding"):
        synthesized_into(tmp_path / "a", repo, failing, root=cache)
    synth = Synth(repo)
    assert synthesized_into(tmp_path / "b", repo, synth, root=cache) == {"run": 1}
    assert (tmp_path / "b" / "template.json").read_text() == "STACK = 'one'\n"
