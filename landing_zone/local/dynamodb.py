"""DynamoDB's conditional writes are atomic per item; moto's are not under threads (the condition is read, then the
item written, with no lock between), so two racing PutItem calls with `attribute_not_exists` can both succeed. The
emulator serves requests from many threads, and the creation-slot lease, the request reservation and every day-2
race depend on that atomicity: writes are serialized here, as DynamoDB serializes writes to one item.
Imported only by the emulator runtime and tests; nothing in the service imports moto.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any

from landing_zone.local.patching import require

WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
_LOCK = threading.RLock()


@contextlib.contextmanager
def atomic_conditional_writes() -> Iterator[None]:
    from moto.dynamodb.models import DynamoDBBackend

    originals = {name: require(DynamoDBBackend, name) for name in WRITES}

    def serialized(original: Any) -> Any:
        @functools.wraps(original)
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _LOCK:
                return original(self, *args, **kwargs)

        return write

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, serialized(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)
