"""`vend`: the command line for platform admins. Each command group lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from vending.cli.hooks import LocalHooks
from vending.exceptions import VendingError

# Each module exposes register(subparsers); its parsers set `func` (args -> exit code).
COMMAND_MODULES = (
    "vending.cli.requests",
    "vending.cli.team",
    "vending.cli.guardrails",
    "vending.cli.audit",
    "vending.cli.drift",
    "vending.cli.api",
    "vending.cli.pipeline",
    "vending.cli.changes",  # adds `request update|approve` to the group vending.cli.requests registers
    "vending.cli.account",
    "vending.cli.costs",
    "vending.cli.spend",  # the spend fence: status, thaw, approve (vending.spend.fence)
    "vending.cli.github",
    "vending.cli.platform",
)


def build_parser(extra_modules: Sequence[ModuleType] = (), hooks: LocalHooks | None = None) -> argparse.ArgumentParser:
    """The parser; the deployment layer (landing_zone.cli) adds its commands and the emulator hooks."""
    parser = argparse.ArgumentParser(prog="vend", description="Account vending and landing zone for LLM teams")
    parser.set_defaults(hooks=hooks or LocalHooks())
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (*(importlib.import_module(name) for name in COMMAND_MODULES), *extra_modules):
        module.register(subparsers)
    return parser


def main(
    argv: list[str] | None = None, extra_modules: Sequence[ModuleType] = (), hooks: LocalHooks | None = None
) -> int:
    args = build_parser(extra_modules, hooks).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VendingError as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
