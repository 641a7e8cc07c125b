"""A team's stack run with the platform's (SCP-exempt) access role may load only providers that run no code of the
stack's choosing, and may carry no provisioner anywhere in its configuration (vending.pipeline.platform_guard)."""

from __future__ import annotations

from pathlib import Path

from vending.pipeline.platform_guard import PLATFORM_RUN_PROVIDERS, provider_refusals, provisioner_refusals
from vending.settings import REPO_ROOT

LOCK = """provider "{name}" {{
  version = "6.0.0"
  hashes = ["h1:x"]
}}
"""


def _lock(tmp_path: Path, *names: str) -> Path:
    (tmp_path / ".terraform.lock.hcl").write_text("".join(LOCK.format(name=n) for n in names), encoding="utf-8")
    return tmp_path


def test_every_committed_stack_passes_the_provider_check() -> None:
    stacks = [p.parent for p in (REPO_ROOT / "terraform" / "environments").glob("*/*/*/.terraform.lock.hcl")]
    assert stacks
    assert {str(s): provider_refusals(s) for s in stacks if provider_refusals(s)} == {}


def test_providers_that_run_code_are_refused(tmp_path: Path) -> None:
    stack = _lock(
        tmp_path,
        "registry.terraform.io/hashicorp/aws",
        "registry.terraform.io/hashicorp/external",
        "registry.terraform.io/hashicorp/null",
        "registry.terraform.io/evil/aws",
    )
    refused = provider_refusals(stack)
    assert len(refused) == 3
    assert all(any(n in r for n in ("external", "null", "evil/aws")) for r in refused)
    assert provider_refusals(_lock(tmp_path, *sorted(PLATFORM_RUN_PROVIDERS))) == []


def test_a_stack_without_a_lock_file_is_refused(tmp_path: Path) -> None:
    assert "lock file" in provider_refusals(tmp_path)[0]


def test_provisioners_in_any_module_are_refused() -> None:
    plan = {
        "configuration": {
            "root_module": {
                "resources": [{"address": "aws_s3_bucket.b"}],
                "module_calls": {
                    "app": {
                        "module": {
                            "resources": [
                                {
                                    "address": "terraform_data.x",
                                    "provisioners": [{"type": "local-exec", "expressions": {}}],
                                }
                            ],
                            "module_calls": {
                                "deep": {
                                    "module": {
                                        "resources": [
                                            {"address": "aws_instance.i", "provisioners": [{"type": "remote-exec"}]}
                                        ]
                                    }
                                }
                            },
                        }
                    }
                },
            }
        }
    }
    refused = provisioner_refusals(plan)
    assert refused == [
        "module.app.terraform_data.x: provisioner 'local-exec' would run as the platform's role",
        "module.app.module.deep.aws_instance.i: provisioner 'remote-exec' would run as the platform's role",
    ]
    assert provisioner_refusals({"configuration": {"root_module": {"resources": [{"address": "a.b"}]}}}) == []
