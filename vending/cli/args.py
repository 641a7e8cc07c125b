"""Argument types shared by the commands: a bad id is refused by argparse (a clear message, exit code 2) before any
client is built or any table read."""

from __future__ import annotations

import argparse

from vending.exceptions import InvalidRequest
from vending.request import check_request_id


def request_id_arg(value: str) -> str:
    try:
        return check_request_id(value)
    except InvalidRequest as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def request_or_change_id_arg(value: str) -> str:
    try:
        return check_request_id(value, field="id", change=True)
    except InvalidRequest as e:
        raise argparse.ArgumentTypeError(str(e)) from e
