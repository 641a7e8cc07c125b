"""The installed `vend` command: the shipped CLI (vending.cli) plus the local emulator's commands and hooks."""

from __future__ import annotations

import sys

from landing_zone.local import cli as local_cli
from vending import cli


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, extra_modules=(local_cli,), hooks=local_cli.HOOKS)


if __name__ == "__main__":
    sys.exit(main())
