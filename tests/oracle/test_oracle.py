"""scps.evaluate.decide against an independent evaluator (iam-simulate, run by node) on the generated corpus.

GIVEN the corpus of tests/oracle/corpus.py WHEN each case is decided by both THEN they agree on allowed/denied, on
explicit versus implicit denial, and the policy type decide() names is one iam-simulate's analysis also blames.
The oracle must run: a machine without node/npm or without `scripts/setup.sh`'s install FAILS here (CI must not
silently skip the one independent check of the evaluator).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scps import evaluate
from scps.evaluate import Decision, Policies, Principal, Request
from tests.oracle import corpus

HERE = Path(__file__).resolve().parent
MIN_CASES = 10_000
REASONS = frozenset(
    {
        "allowed",
        "explicit_deny",
        "no_scp_allow",
        "no_rcp_allow",
        "no_identity_allow",
        "no_resource_allow",
        "no_boundary_allow",
        "no_session_allow",
    }
)
# For a denial, the analysis (iam-simulate's per-policy-type result) that must show the same thing.
_ORACLE_FIELD = {
    evaluate.SCP: "scp",
    evaluate.RCP: "rcp",
    evaluate.IDENTITY: "identity",
    evaluate.RESOURCE: "resource",
    evaluate.BOUNDARY: "boundary",
    evaluate.SESSION: "session",
}

Case = dict[str, Any]
Oracle = dict[str, Any]


def run_oracle(cases: list[Case]) -> list[Oracle]:
    """One node process for the whole corpus."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the IAM oracle cannot run (install Node.js 20+ and run scripts/setup.sh)")
    if not (HERE / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
        pytest.fail("tests/oracle/node_modules is missing: run scripts/setup.sh (npm ci of the pinned iam-simulate)")
    done = subprocess.run(
        [node, str(HERE / "decide.mjs")],
        input=json.dumps(corpus.oracle_input(cases)),
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE,
    )
    if done.returncode != 0:
        pytest.fail(f"the oracle failed ({done.returncode}):\n{done.stderr[-4000:]}")
    results: list[Oracle] = json.loads(done.stdout)
    errors = [r for r in results if "error" in r]
    assert not errors, f"iam-simulate raised on {len(errors)} cases, first: {errors[0]}"
    assert [r["id"] for r in results] == [c["id"] for c in cases]
    return results


# Keys AWS sets from the caller itself. iam-simulate needs them in the context; decide() is given the principal and
# must derive them (aws:PrincipalArn is the role's ARN for a role session), so the Python side does not get them.
DERIVED_KEYS = frozenset({"aws:PrincipalArn", "aws:PrincipalAccount"})


def to_request(case: Case) -> Request:
    r = case["request"]
    who = Principal(**r["principal"])
    context: dict[str, Any] = dict(r["context"])
    if who.service is None and who.federated is None:
        context = {k: v for k, v in context.items() if k not in DERIVED_KEYS}
    if case["id"] % 2 and context.get("aws:SecureTransport") in ("true", "false"):
        context["aws:SecureTransport"] = context["aws:SecureTransport"] == "true"  # the spec takes booleans too
    return Request(r["action"], r["resource"], who.arn, context, who)


def to_policies(case: Case) -> Policies:
    p = case["policies"]
    return Policies(
        identity=p["identity"],
        boundary=p["boundary"],
        session=p["session"],
        scps=p["scps"],
        rcps=p["rcps"],
        resource=p["resource"],
        resource_account=p["resource_account"],
        resource_kind=p["resource_kind"],
    )


def disagreement(decision: Decision, oracle: Oracle) -> str | None:
    """Why the two answers differ, or None when they agree."""
    if decision.allowed != oracle["allowed"]:
        return "outcome"
    if decision.allowed:
        return None
    explicit = decision.reason == "explicit_deny"
    if explicit != (oracle["result"] == "ExplicitlyDenied"):
        return "explicit versus implicit denial"
    blamed = oracle.get(_ORACLE_FIELD.get(decision.policy_kind, ""), None)
    if explicit:
        ok = blamed in ("ExplicitlyDenied", "DeniedForAccount")
    elif decision.policy_kind == evaluate.RESOURCE:
        ok = blamed not in ("Allowed", "AllowedForAccount")
    else:
        ok = blamed not in (None, "Allowed")
    return None if ok else f"decide() blames the {decision.policy_kind}, iam-simulate found it {blamed}"


def compare(cases: list[Case], oracle: list[Oracle]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Disagreements (case, both answers), and the distribution of decide()'s reasons. Looks decide up at call time
    so that a monkeypatched evaluator is the one compared."""
    decide: Callable[[Request, Policies], Decision] = evaluate.decide
    found = []
    reasons: Counter[str] = Counter()
    for case, answer in zip(cases, oracle, strict=True):
        decision = decide(to_request(case), to_policies(case))
        reasons[decision.reason] += 1
        why = disagreement(decision, answer)
        if why is not None:
            found.append({"why": why, "case": case, "decide": decision, "iam-simulate": answer})
    return found, reasons


def report(found: list[dict[str, Any]], limit: int = 5) -> str:
    lines = [f"{len(found)} disagreements; the first {min(limit, len(found))}:"]
    for d in found[:limit]:
        lines += [
            f"--- case {d['case']['id']} ({d['case']['group']}): {d['why']}",
            json.dumps(d["case"], indent=1),
            f"decide():      {d['decide']}",
            f"iam-simulate:  {json.dumps(d['iam-simulate'])}",
        ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return corpus.build()


@pytest.fixture(scope="module")
def oracle(cases: list[Case]) -> list[Oracle]:
    return run_oracle(cases)


@pytest.fixture(scope="module")
def honest(cases: list[Case], oracle: list[Oracle]) -> tuple[list[dict[str, Any]], Counter[str]]:
    return compare(cases, oracle)


def test_oracle_corpus_is_large_and_varied(
    cases: list[Case], oracle: list[Oracle], honest: tuple[list[dict[str, Any]], Counter[str]]
) -> None:
    # GIVEN the generated corpus WHEN decide() runs over it THEN it is big, and every outcome and reason is common
    _, reasons = honest
    print("decide() reasons:", dict(sorted(reasons.items())))
    print("iam-simulate results:", dict(Counter(o["result"] for o in oracle)))
    assert len(cases) >= MIN_CASES
    assert set(reasons) == REASONS, f"reasons seen: {sorted(reasons)}; expected {sorted(REASONS)}"
    assert min(reasons.values()) >= 20, reasons
    results = Counter(o["result"] for o in oracle)
    assert results["Allowed"] >= 1000 and results["ExplicitlyDenied"] >= 1000 and results["ImplicitlyDenied"] >= 1000


def test_oracle_agrees_with_decide(honest: tuple[list[dict[str, Any]], Counter[str]]) -> None:
    # GIVEN the corpus WHEN decided by scps.evaluate.decide and by iam-simulate THEN no case differs
    found, _ = honest
    assert not found, report(found)


def _flip_scp_denies(decide: Callable[[Request, Policies], Decision]) -> Callable[[Request, Policies], Decision]:
    def faulty(request: Request, policies: Policies) -> Decision:
        d = decide(request, policies)
        return Decision(True, "allowed", "") if d.reason == "explicit_deny" and d.policy_kind == evaluate.SCP else d

    return faulty


def _ignore_boundaries(decide: Callable[[Request, Policies], Decision]) -> Callable[[Request, Policies], Decision]:
    return lambda request, policies: decide(request, replace(policies, boundary=None))


@pytest.mark.parametrize("fault", [_flip_scp_denies, _ignore_boundaries], ids=["flip-scp-denies", "ignore-boundaries"])
def test_oracle_catches_a_planted_fault(
    cases: list[Case],
    oracle: list[Oracle],
    monkeypatch: pytest.MonkeyPatch,
    fault: Callable[[Callable[[Request, Policies], Decision]], Callable[[Request, Policies], Decision]],
) -> None:
    # GIVEN an evaluator with a planted fault WHEN compared with the oracle THEN the comparison reports it
    monkeypatch.setattr(evaluate, "decide", fault(evaluate.decide))
    found, _ = compare(cases, oracle)
    assert len(found) >= 20, f"a planted fault went unnoticed ({len(found)} disagreements)"
