"""The intake's e-mail ownership check at scale (issue 23 item 7): latency and items read with N requests on record.

    .venv/bin/python benchmarks/email_ownership.py [--requests 10000] [--json]

N vending records are written to a moto DynamoDB requests table (with the e-mail index, as the CDK stack and the
emulator create it) with BatchWriteItem, timed apart. Then the check runs as the intake runs it
(RequestStore.owners_of_email, a Query on the index) for a new team and for a taken e-mail, and DynamoDB's own
ScannedCount says how many items it read. The negative control is what the check did before: a Scan of the table,
which reads all N.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from moto import mock_aws

from vending.layout import cached_layout
from vending.lifecycle import EMAIL_INDEX, EMAIL_KEY, RequestRecord, RequestStore, Status, requests_table_definition

TABLE = "vending-requests"


def _records(n: int) -> list[RequestRecord]:
    return [
        RequestRecord(
            request_id=f"team-b{i:05d}-staging",
            team=f"team-b{i:05d}",
            stage="staging",
            status=Status.READY,
            request={},
        )
        for i in range(n)
    ]


def _read_counts(ddb: Any, email: str) -> dict[str, int]:
    """Items DynamoDB read for the index Query and for the Scan the check used to make (ScannedCount, all pages)."""
    query = scan = 0
    for page in ddb.get_paginator("query").paginate(
        TableName=TABLE,
        IndexName=EMAIL_INDEX,
        KeyConditionExpression="#e = :e",
        ExpressionAttributeNames={"#e": EMAIL_KEY},
        ExpressionAttributeValues={":e": {"S": email}},
    ):
        query += int(page["ScannedCount"])
    for page in ddb.get_paginator("scan").paginate(TableName=TABLE, Select="COUNT"):
        scan += int(page["ScannedCount"])
    return {"index_query_items_read": query, "scan_items_read": scan}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")  # noqa: S106  (moto only)
    layout = cached_layout()
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(**requests_table_definition(TABLE))
        store = RequestStore(ddb, TABLE)
        started = time.perf_counter()
        records = _records(args.requests)
        writer = store._items  # the store's own item layout (projected attributes + body)
        for i in range(0, len(records), 25):
            ddb.batch_write_item(
                RequestItems={TABLE: [{"PutRequest": {"Item": writer.to_item(r)}} for r in records[i : i + 25]]}
            )
        setup_seconds = time.perf_counter() - started
        taken = layout.account_email(records[len(records) // 2].team, "staging").lower()
        free = layout.account_email("team-newcomer", "staging").lower()
        latencies = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            owners = store.owners_of_email(free)
            latencies.append((time.perf_counter() - t) * 1000)
        assert owners == ()
        found = store.owners_of_email(taken)
        assert found == ((records[len(records) // 2].request_id, records[len(records) // 2].team),), found
        t = time.perf_counter()
        list(store.list())  # the negative control: what the check did before (a Scan of every record)
        scan_ms = (time.perf_counter() - t) * 1000
        result = {
            "requests": args.requests,
            "setup_seconds": round(setup_seconds, 1),
            "check_latency_ms_median": round(statistics.median(latencies), 2),
            "check_latency_ms_max": round(max(latencies), 2),
            "scan_latency_ms": round(scan_ms, 1),
            "taken_email_owner": found[0][0],
            **_read_counts(ddb, free),
            "taken_email_items_read": _read_counts(ddb, taken)["index_query_items_read"],
        }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
    ok = result["index_query_items_read"] == 0 and result["taken_email_items_read"] == 1
    ok = ok and result["scan_items_read"] == args.requests
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
