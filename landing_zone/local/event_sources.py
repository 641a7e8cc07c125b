"""Emulator gap in moto 5.2's SQS -> Lambda event source mappings, fixed so a failed batch is delivered again.

moto invokes the function once, when a message is sent; a failed invocation makes the message visible again, but
nothing ever polls the queue after that, so the message sits there forever. AWS's poller receives it again once
its visibility timeout has passed, until it succeeds or the queue's redrive policy moves it to the dead-letter
queue (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html). Here a failed batch schedules
that next receive (moto's receive applies maxReceiveCount and the dead-letter queue itself).
Found while putting the demo's entry points under faults (rule `lambda: StartFromEvent, faults: [crash]`): the
crashed invocation's onboarding event was never delivered again and the team never vended.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from landing_zone.local.patching import require

# Locally the next receive comes at once-ish, not after the queue's visibility timeout (minutes in AWS).
REDELIVERY_SECONDS = 1.0


@contextlib.contextmanager
def redelivering_sqs_event_sources(delay: float = REDELIVERY_SECONDS) -> Iterator[None]:
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import sqs_backends

    original = require(LambdaBackend, "send_sqs_batch", ("self", "function_arn", "messages", "queue_arn"))
    stopped = threading.Event()

    def redeliver(backend: Any, function_arn: str, queue_arn: str) -> None:
        if stopped.is_set():
            return
        _arn, _aws, _sqs, region, account, name = queue_arn.split(":", 5)
        sqs: Any = sqs_backends[account][region]  # moto's own types are looser than its annotations
        queue = sqs.get_queue(name)
        messages = sqs.receive_message(name, 10, 0, int(queue.visibility_timeout))
        if not messages:
            return
        if backend.send_sqs_batch(function_arn, messages, queue_arn):
            for message in messages:
                sqs.delete_message(name, message.receipt_handle)
        else:
            for message in messages:
                sqs.change_message_visibility(name, message.receipt_handle, visibility_timeout=0)

    def send_sqs_batch(self: Any, function_arn: str, messages: Any, queue_arn: str) -> bool:
        delivered = bool(original(self, function_arn, messages, queue_arn))
        if not delivered and not stopped.is_set():
            timer = threading.Timer(delay, redeliver, (self, function_arn, queue_arn))
            timer.daemon = True
            timer.start()
        return delivered

    LambdaBackend.send_sqs_batch = send_sqs_batch  # type: ignore[method-assign]
    try:
        yield
    finally:
        stopped.set()
        LambdaBackend.send_sqs_batch = original  # type: ignore[method-assign]
