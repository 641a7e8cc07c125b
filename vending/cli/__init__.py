"""`vend`: the command line for platform admins. Each command group lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys

from vending.exceptions import VendingError

# Each module exposes register(subparsers); its parsers set `func` (args -> exit code).
COMMAND_MODULES = (
    "vending.cli.requests",
    "vending.cli.local",
    "vending.cli.guardrails",
    "vending.cli.audit",
    "vending.cli.api",
    "vending.cli.pipeline",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vend", description="Account vending and landing zone for LLM teams")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VendingError as e:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
