"""Wall time per pipeline stage for one stack against the embedded emulator (default shared/staging/networking).

    VEND_TF_PROVIDER_MIRROR=/path/to/mirror .venv/bin/python benchmarks/pipeline_stages.py [--stack ...] [--json]

Starts moto in server mode, vends a member account (assume-role credentials) with a versioned state bucket, runs
fmt → init → validate → plan → policy → approval → apply and prints each stage's seconds. Runs twice by default:
the first apply creates everything, the second shows the cost of a no-change run (plan-only refresh of the state).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from landing_zone.local.pipeline_account import start_emulated_account  # noqa: E402
from vending.pipeline.runner import PipelineSpec, run_pipeline  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="shared/staging/networking", help="<team>/<stage>/<stack>")
    parser.add_argument("--regions", default="us-east-1,us-west-2", help="comma-separated regions variable")
    parser.add_argument("--gpu-tier", default="none")
    parser.add_argument("--cost-center", default="CC-0000")
    parser.add_argument("--runs", type=int, default=2, help="runs against the same state (2nd = no changes)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)

    team, stage, _ = args.stack.split("/")
    started = time.monotonic()
    account = start_emulated_account(team=team, stage=stage)
    setup_seconds = time.monotonic() - started
    runs = []
    try:
        for _ in range(args.runs):
            spec = PipelineSpec(
                stack_dir=REPO / "terraform" / "environments" / args.stack,
                state_bucket=account.state_bucket,
                state_region=account.region,
                account_id=account.account_id,
                env=account.terraform_env(),
                variables={
                    "team": team,
                    "stage": stage,
                    "cost_center": args.cost_center,
                    "gpu_tier": args.gpu_tier,
                    "regions": args.regions.split(","),
                },
            )
            result = run_pipeline(spec)
            runs.append(
                {
                    "ok": result.ok,
                    "status": result.status,
                    "total_seconds": result.seconds,
                    "plan": {k: result.plan_summary.get(k) for k in ("add", "change", "destroy", "replace")},
                    "stages": {s.name: s.seconds for s in result.stages},
                    "message": result.message,
                }
            )
            if not result.ok:
                break
    finally:
        account.stop()

    report = {"stack": args.stack, "emulator_setup_seconds": round(setup_seconds, 2), "runs": runs}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.stack} on the emulator (setup {setup_seconds:.1f}s)")
        for i, run in enumerate(runs, 1):
            print(f"run {i}: {run['status']} in {run['total_seconds']:.1f}s, plan {run['plan']}")
            for name, seconds in run["stages"].items():
                print(f"  {name:<9} {seconds:8.2f}s")
            if not run["ok"]:
                print(f"  {run['message']}")
    return 0 if runs and all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
