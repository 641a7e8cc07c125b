"""Re-check named mutants of a kept mutmut folder against a few test files: quicker than `mutmut run <names>`.

    python benchmarks/mutation.py --modules scps/evaluate.py --keep /tmp/mut-evaluate --max-children 1
    python benchmarks/mutation_recheck.py /tmp/mut-evaluate names.txt tests/scps/test_evaluate_*.py [--json out]

`mutmut run <names>` runs, per mutant, every test of mutation.py's TESTS selection that reached the mutated function;
a survivor of scps/evaluate.py thus costs a whole tests/scps run (about 45 s on the shared 2 cores). This runs only the
given test files, in one process that forks per mutant (as mutmut does) with MUTANT_UNDER_TEST set, stops at the first
failure (-x) and gives each mutant 120 s (`--timeout`: a mutant that loops forever costs that much; keep it well above
the files' passing run, since a timeout counts as killed, as mutmut counts it). A mutant these files kill is killed
by mutmut's selection too (they are part of it, and a test that kills a mutant reached its function); one they do not
kill may still be killed by the rest.

Like mutmut, it cannot activate a mutant of code that runs only at import (e.g. a table built by calling a function):
the module is imported once, before the forks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

TIMEOUT_SECONDS = 120


def recheck(
    scratch: Path,
    names: list[str],
    tests: list[str],
    preload: Sequence[str] = (),
    progress: Path | None = None,
    timeout: int = TIMEOUT_SECONDS,
) -> dict[str, str]:
    sys.path.insert(0, str(scratch / "mutants"))  # the mutated tree first, before the editable install
    import pytest

    # Modules no mutant changes (e.g. a reference data set a test reads) imported once here, not in every fork.
    for module in preload:
        __import__(module)

    for module in {name.rsplit(".", 1)[0] for name in names}:
        imported = __import__(module, fromlist=["_"])
        if str(scratch) not in str(imported.__file__):
            raise SystemExit(f"{module} was imported from {imported.__file__}, not from {scratch}/mutants")
    out: dict[str, str] = {}
    for name in names:
        pid = os.fork()
        if pid == 0:  # the child: this mutant, the tests, quietly
            os.environ["MUTANT_UNDER_TEST"] = name
            signal.alarm(timeout)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            args = ["-x", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
            os._exit(int(pytest.main(args)))
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        out[name] = {0: "survived", 1: "killed", -signal.SIGALRM: "timeout"}.get(code, f"exit {code}")
        if progress is not None:  # one line a mutant: a run stopped half way keeps what it measured
            with progress.open("a", encoding="utf-8") as f:
                f.write(f"{out[name]} {name}\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scratch", type=Path, help="the folder `benchmarks/mutation.py --keep` ran in")
    parser.add_argument("names", type=Path, help="a file of mutant names, one a line (module.x_function__mutmut_N)")
    parser.add_argument("tests", nargs="+", help="test files or node ids to run against each mutant")
    parser.add_argument("--json", type=Path, help="write name -> status here")
    parser.add_argument("--preload", nargs="*", default=[], help="modules no mutant changes, imported before the forks")
    parser.add_argument("--progress", type=Path, help="append `status name` here after each mutant")
    parser.add_argument("--timeout", type=int, default=TIMEOUT_SECONDS, help="seconds a mutant's run may take")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.names.read_text(encoding="utf-8").splitlines() if n.strip()]
    result = recheck(args.scratch.resolve(), names, args.tests, args.preload, args.progress, args.timeout)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(dict(Counter(result.values())))
    for name, status in result.items():
        if status != "killed":
            print(f"  {status}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
