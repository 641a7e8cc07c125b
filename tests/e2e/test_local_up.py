"""`vend local up` as a user starts it: IAM is enforced on the running emulator."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = [pytest.mark.emulator]
VEND = Path(sys.executable).with_name("vend")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_local_up_refuses_unknown_credentials() -> None:
    # GIVEN `vend local up` running in its own process
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen(
        [str(VEND), "local", "up", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        exports, deadline = "", time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline and not exports:
            line = proc.stdout.readline()
            if not line:
                break
            exports = line if "export AWS_ENDPOINT_URL" in line else ""
        assert exports, "vend local up never printed its exports"
        admin = dict(re.findall(r"(AWS_[A-Z_]+)=(\S+)", exports))
        endpoint = f"http://127.0.0.1:{port}"

        # WHEN a caller signs with credentials no principal in the emulator owns
        stranger = boto3.client(
            "sts",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="emulator",
            aws_secret_access_key="emulator",
        )
        with pytest.raises(ClientError) as refused:
            stranger.get_caller_identity()
        print(f"unknown credentials: {refused.value}")

        # THEN it is refused, while the printed platform-admin credentials are accepted
        assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"
        admin_sts = boto3.client(
            "sts",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=admin["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=admin["AWS_SESSION_TOKEN"],
        )
        arn = admin_sts.get_caller_identity()["Arn"]
        print(f"printed credentials: {arn}")
        assert ":assumed-role/PlatformAdmin/" in arn
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # the process group this test started, nothing else
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
