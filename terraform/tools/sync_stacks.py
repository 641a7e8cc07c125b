"""Keep the stack boilerplate identical everywhere: copy terraform/templates/*.tf (and templates/<stack name>/*.tf)
into every stack folder and write its backend.tf (state key = the folder path). Run after changing a template;
tests/terraform checks it is in sync.

    .venv/bin/python terraform/tools/sync_stacks.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TERRAFORM = Path(__file__).resolve().parent.parent
TEMPLATES = TERRAFORM / "templates"
ENVIRONMENTS = TERRAFORM / "environments"

BACKEND = """terraform {{
  # bucket and region are the vended account's state bucket, given at `terraform init -backend-config=...`.
  # The key is this folder's path under terraform/environments; the pipeline runner passes the same value.
  backend "s3" {{
    key          = "{key}"
    use_lockfile = true
    encrypt      = true
  }}
}}
"""


def stack_dirs() -> list[Path]:
    return sorted(p.parent for p in ENVIRONMENTS.glob("*/*/*/main.tf"))


def expected_files(stack: Path) -> dict[str, str]:
    files = {t.name: t.read_text(encoding="utf-8") for t in sorted(TEMPLATES.glob("*.tf"))}
    # Stack-kind templates (templates/<stack name>/*.tf), e.g. the per-region providers of `networking`.
    files.update({t.name: t.read_text(encoding="utf-8") for t in sorted((TEMPLATES / stack.name).glob("*.tf"))})
    files["backend.tf"] = BACKEND.format(key=f"{stack.relative_to(ENVIRONMENTS).as_posix()}/terraform.tfstate")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report drift and exit 1 instead of writing")
    args = parser.parse_args(argv)
    drift = []
    for stack in stack_dirs():
        for name, text in expected_files(stack).items():
            path = stack / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                drift.append(path)
                if not args.check:
                    path.write_text(text, encoding="utf-8")
    for path in drift:
        print(("out of sync: " if args.check else "wrote ") + str(path.relative_to(TERRAFORM)))
    return 1 if args.check and drift else 0


if __name__ == "__main__":
    sys.exit(main())
