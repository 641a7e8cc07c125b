"""A checkov fork server: run by checkov's own interpreter (its virtualenv, never the service's), it imports checkov
once and forks a child for each scan, so a scan costs its checks and not a Python start (importing checkov is 1.5 s
of CPU; a forked scan of a stack 0.65 s, a fresh `checkov` process 3 s). vending/pipeline/checkov_launch.py is the
client; this file imports nothing of the service (checkov's virtualenv does not have it) and only the standard library
besides checkov.

Protocol, one JSON object per line. Out first: {"ready": "<checkov version>"} once checkov is imported (nothing,
and exit 1, when it cannot be). In: {"id", "argv", "cwd", "env", "out", "err"}. Out: {"id", "pid"} when the scan's
child is started, then {"id", "rc"} when it has exited (rc as subprocess reports it: minus the signal that killed it).
The child runs exactly what `checkov <argv>` runs, in `cwd` with `env`, its stdout and stderr in the two files. The
server is single-threaded (it waits on stdin and on each child's pidfd), so nothing is locked when it forks; it exits
when its stdin closes, or after its one argument's seconds with no scan (a process whose environment changed has
started another server for it; the idle one should not keep its memory).
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
import traceback
import warnings
from typing import Any


def _send(message: dict[str, Any]) -> None:
    os.write(1, (json.dumps(message) + "\n").encode())


def _exit_code(code: object) -> int:
    """sys.exit's meaning of `code`: None is 0, an int is itself, anything else is printed and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _scan(request: dict[str, Any], checkov: Any) -> int:
    """In the child: become `checkov <argv>` run in `cwd` with `env`, and return its exit code."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for fd, path in ((1, request["out"]), (2, request["err"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - the process's own descriptors
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.argv = ["checkov", *request["argv"]]
    warnings.simplefilter("ignore", category=SyntaxWarning)  # as checkov's entry script runs it
    try:
        return _exit_code(checkov(request["argv"]).run())
    except SystemExit as e:
        return _exit_code(e.code)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _start(request: dict[str, Any], checkov: Any) -> tuple[int, int]:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _scan(request, checkov)
        finally:
            os._exit(code)
    return pid, os.pidfd_open(pid)


def reuse_jsonpath_parsers() -> bool:
    """checkov parses JSONPath with bc_jsonpath_ng, which has ply generate its LALR tables again for every expression
    (25 ms each; a scan of our stacks spent a fifth of its CPU on it). Keep one generated parser per grammar and
    thread instead: ply's parser keeps its stacks on itself while it parses, so threads must not share one, and the
    grammar's actions use nothing of the parser instance. Parsing the same text gives the same path either way.
    False, and nothing changed, where the pinned package's shape is not the one this was written for (tests check
    it is)."""
    try:
        import ply.yacc
        from bc_jsonpath_ng import parser
    except ImportError:
        return False
    base = getattr(parser, "JsonPathParser", None)
    stream = getattr(parser, "IteratorToTokenStream", None)
    if base is None or stream is None or not hasattr(base, "parse_token_stream"):
        return False
    per_thread = threading.local()

    def parse_token_stream(self: Any, token_iterator: Any, start_symbol: str = "jsonpath") -> Any:
        built = per_thread.__dict__.setdefault("parsers", {})
        key = (type(self), start_symbol, self.debug)
        if key not in built:  # the arguments bc_jsonpath_ng's own parse_token_stream passes
            built[key] = ply.yacc.yacc(
                module=self,
                debug=self.debug,
                tabmodule=f"parser_{start_symbol}_parsetab",
                outputdir=os.path.dirname(parser.__file__),
                write_tables=0,
                start=start_symbol,
                errorlog=parser.logger,
            )
        return built[key].parse(lexer=stream(token_iterator))

    base.parse_token_stream = parse_token_stream
    return True


def _warm_jsonpath_parsers() -> None:
    """Generate both grammars' parsers before forking (only after reuse_jsonpath_parsers, so the package is there):
    each scan's main thread then inherits them instead of generating its own."""
    from bc_jsonpath_ng import parse as parse_plain
    from bc_jsonpath_ng.ext import parse as parse_extended

    parse_plain("a.b")
    parse_extended("a.b")


def serve(checkov: Any, version: str, idle_seconds: float) -> None:
    _send({"ready": version})
    running: dict[int, tuple[Any, int]] = {}  # pidfd -> (request id, pid)
    pending = b""
    while True:
        readable, _, _ = select.select([0, *running], [], [], None if running or pending else idle_seconds)
        if not readable:
            return  # idle: the client starts another server when it next scans
        for fd in readable:
            if fd != 0:
                request_id, pid = running.pop(fd)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                _send({"id": request_id, "rc": os.waitstatus_to_exitcode(status)})
                continue
            chunk = os.read(0, 65536)
            if not chunk:
                return  # the client is gone: scans still running finish on their own, nobody reads their answers
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in filter(bytes.strip, lines):
                request = json.loads(line)
                pid, pidfd = _start(request, checkov)
                running[pidfd] = (request["id"], pid)
                _send({"id": request["id"], "pid": pid})


def main() -> int:
    if not hasattr(os, "pidfd_open"):  # Linux 5.3+ only (not macOS): there the client runs checkov as processes
        print("checkov fork server needs os.pidfd_open (Linux 5.3+)", file=sys.stderr)
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=SyntaxWarning)  # as checkov's own entry script
            from checkov.main import Checkov
            from checkov.version import version
    except Exception:
        traceback.print_exc()
        return 1
    if reuse_jsonpath_parsers():
        _warm_jsonpath_parsers()
    serve(Checkov, str(version), float(sys.argv[1]))  # the client (checkov_launch.IDLE_SECONDS) always passes it
    return 0


if __name__ == "__main__":
    sys.exit(main())
