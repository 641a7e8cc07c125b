"""`vend console` as a user starts it: the emulator, the deployment and the portal on 127.0.0.1, its URL printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.portal.conftest import Client
from vending.settings import REPO_ROOT

pytestmark = [pytest.mark.emulator]


def test_vend_console_serves_the_portal_and_signs_in_by_assuming_a_role() -> None:
    # GIVEN `vend console --port 0` in its own process group
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from landing_zone.cli import main; sys.exit(main())",
            "console",
            "--port",
            "0",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "VEND_PORTAL_QUIET": "1", "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        url, deadline, seen = None, time.monotonic() + 240, []
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r"vending portal on (http://127\.0\.0\.1:\d+)", line)
            url = found.group(1) if found else None
        assert url, "".join(seen)[-2000:]
        # WHEN a browser signs in as the lead of team-mlops
        browser = Client(url)
        assert browser.get("/").status == 303  # not signed in: to the sign-in page
        signin = browser.get("/signin")
        assert signin.status == 200 and "TeamMlopsLead" in signin.text
        browser.sign_in("TeamMlopsLead")
        # THEN its pages say who it is, from the assumed role's session
        home = browser.get("/")
        assert home.status == 200 and "lead: team-mlops" in home.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # the process group this test started, nothing else
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
