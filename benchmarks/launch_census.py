"""How much of the suite is Terraform and checkov: every launch of either, counted and timed, per command and module.

    python benchmarks/launch_census.py --out .vend/census -- -n 6 --dist loadfile --no-loadscope-reorder
    python benchmarks/launch_census.py --out .vend/census --summary-only

`benchmarks/suite_profile.py` says which module spends CPU, not how much of it is the tools the pipelines launch. Here
pytest runs (with the arguments after `--`) with `terraform` and `checkov` replaced, through VEND_TERRAFORM_BIN and
VEND_CHECKOV_BIN and first on the PATH, by a shim that runs the real binary and appends one line per launch to
OUT/launches.jsonl: the command, the launched process tree's CPU (user + system, from wait4) and wall seconds, and the
test that launched it (PYTEST_CURRENT_TEST). The shim's own start is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOG = "launches.jsonl"

# The shim: run the real binary with this process's streams, forward SIGTERM/SIGINT to it, record, exit as it did.
SHIM = """#!{python}
import json, os, signal, sys, time
REAL, TOOL, LOG = {real!r}, {tool!r}, {log!r}
start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execv(REAL, [REAL, *sys.argv[1:]])
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda s, f: os.kill(pid, s))
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
args = [a for a in sys.argv[1:] if not a.startswith("-chdir=")]  # terraform's subcommand, checkov's first flag
line = {{
    "tool": TOOL,
    "command": args[0] if args else "(none)",
    "cpu": usage.ru_utime + usage.ru_stime,
    "wall": time.monotonic() - start,
    "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" (")[0],
}}
with open(LOG, "a", encoding="utf-8") as f:
    f.write(json.dumps(line) + "\\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def real_binaries() -> dict[str, str]:
    """The binaries the suite would launch without the census."""
    from vending.pipeline.runner import CHECKOV_BIN_ENV, _checkov_binary
    from vending.pipeline.terraform import TERRAFORM_BIN_ENV, terraform_binary

    found = {TERRAFORM_BIN_ENV: terraform_binary()}
    if checkov := _checkov_binary():
        found[CHECKOV_BIN_ENV] = checkov
    return found


def install_shims(out: Path, real: dict[str, str]) -> dict[str, str]:
    """Write a shim per tool into OUT/bin; the environment that makes the suite launch them."""
    bin_dir = out / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    for variable, binary in real.items():
        tool = Path(binary).name
        shim = bin_dir / tool
        shim.write_text(
            SHIM.format(python=sys.executable, real=str(Path(binary).resolve()), tool=tool, log=str(out / LOG)),
            encoding="utf-8",
        )
        shim.chmod(0o755)
        env[variable] = str(shim)
    return env


def summarize(out: Path) -> dict[str, dict[str, list[float]]]:
    """{"command": {"terraform plan": [count, cpu, wall]}, "module": {...}, "total": {"all": [...]}}."""
    tables: dict[str, dict[str, list[float]]] = {
        name: defaultdict(lambda: [0, 0.0, 0.0]) for name in ("command", "module", "total")
    }
    log = out / LOG
    for raw in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        line = json.loads(raw)
        module = line["test"].split("::", 1)[0] or "(outside a test)"
        for table, key in (("command", f"{line['tool']} {line['command']}"), ("module", module), ("total", "all")):
            row = tables[table][key]
            row[0] += 1
            row[1] += line["cpu"]
            row[2] += line["wall"]
    return {name: dict(rows) for name, rows in tables.items()}


def report(out: Path, top: int) -> int:
    tables = summarize(out)
    if not tables["total"]:
        print(f"no launches recorded in {out / LOG}", file=sys.stderr)
        return 2
    count, cpu, wall = tables["total"]["all"]
    print(f"{int(count)} launches of Terraform and checkov; CPU {cpu:.1f} s; wall {wall:.1f} s (summed over launches)")
    for name in ("command", "module"):
        print(f"\n{'count':>6} {'CPU s':>8} {'per launch':>10}  {name}")
        for key, (n, c, _) in sorted(tables[name].items(), key=lambda kv: -kv[1][1])[:top]:
            print(f"{int(n):6d} {c:8.1f} {c / n:10.2f}  {key}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ours, pytest_args = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / ".vend" / "census")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--summary-only", action="store_true", help="print the table of an earlier run")
    args = parser.parse_args(ours)
    if not args.summary_only:
        if (args.out / LOG).exists():
            (args.out / LOG).unlink()
        env = {**os.environ, **install_shims(args.out, real_binaries())}
        code = subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=REPO, env=env, check=False).returncode
        if code != 0:
            print(f"pytest exited {code}: the census below covers only what ran", file=sys.stderr)
            report(args.out, args.top)
            return code
    return report(args.out, args.top)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
