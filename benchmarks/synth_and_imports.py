"""Synth time of the CDK app and import time of each Lambda handler module.

Import time comes from `python -X importtime -c "import vending.handlers.<x>"`: the cumulative microseconds of the
handler module itself (the top-level line), i.e. roughly what a cold start pays before the handler runs.

    python benchmarks/synth_and_imports.py [--json] [--skip-synth]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from vending.functions import FUNCTIONS  # noqa: E402

LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S.*)$")


def import_time_us(module: str) -> int:
    """Cumulative import time (µs) of `module`, measured in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in result.stderr.splitlines():
        found = LINE.match(line)
        if found and found.group(3).strip() == module:
            return int(found.group(2))
    raise RuntimeError(f"no importtime line for {module}")


def synth_seconds() -> float:
    """Wall time of `python app.py` (a fresh process: jsii start-up, bundling, cdk-nag) into a scratch outdir."""
    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "app.py"],
            cwd=REPO_ROOT,
            env={**os.environ, "CDK_OUTDIR": outdir},
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--skip-synth", action="store_true", help="only measure the handler imports")
    args = parser.parse_args(argv)

    modules = sorted({spec.handler.rsplit(".", 1)[0] for spec in FUNCTIONS})
    imports: dict[str, int | str] = {}
    for module in modules:
        try:
            imports[module] = import_time_us(module)
        except (subprocess.CalledProcessError, RuntimeError) as e:
            imports[module] = f"error: {getattr(e, 'stderr', '') or e}".strip()[-300:]
    synth = None if args.skip_synth else round(synth_seconds(), 2)

    if args.json:
        print(json.dumps({"synth_seconds": synth, "import_time_us": imports}, indent=2))
        return 0
    if synth is not None:
        print(f"synth (python app.py, incl. cdk-nag): {synth:.2f} s")
    width = max(len(m) for m in modules)
    print(f"{'handler module'.ljust(width)}  cumulative import (µs)")
    for module, value in sorted(imports.items(), key=lambda kv: -kv[1] if isinstance(kv[1], int) else 0):
        print(f"{module.ljust(width)}  {value:>10}" if isinstance(value, int) else f"{module.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
