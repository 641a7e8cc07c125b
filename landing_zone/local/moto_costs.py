"""Two of moto's costs that buy no answer, taken out (found by profiling the suite: benchmarks/suite_profile.py and
py-spy on the least-privilege test). Neither changes what any call returns.

- The server's dispatcher asks, for every request, whether the host names a moto module, by listing moto's package
  folder and stat-ing each of its ~150 entries: 5 % of the emulator's own CPU. The folder does not change while the
  process runs, so it is listed once.
- Every KMS key gets a private key at creation, an RSA-2048 one for the symmetric and HMAC keys that can never use it
  (AWS refuses Sign/Verify/GetPublicKey on them): 2 % of a vend's CPU (each vend makes keys). The key is made the
  first time anything reads it, with the same spec, so asymmetric keys behave exactly as before.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from landing_zone.local.patching import replaced


@contextlib.contextmanager
def moto_modules_listed_once() -> Iterator[None]:
    from moto import backends

    def make(original: Callable[[], Any]) -> Callable[[], tuple[str, ...]]:
        return functools.cache(lambda: tuple(original()))

    with replaced(backends, "list_of_moto_modules", (), make):
        yield


class DeferredPrivateKey:
    """moto's private key for one KMS key, generated on first use (then every attribute is the real key's)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._key: Any = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        return self._key is not None

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._key is None:
                self._key = self._make()
        return getattr(self._key, name)


@contextlib.contextmanager
def kms_private_keys_on_first_use() -> Iterator[None]:
    from moto.kms import models

    def make(original: Callable[[str], Any]) -> Callable[[str], DeferredPrivateKey]:
        return lambda key_spec: DeferredPrivateKey(functools.partial(original, key_spec))

    with replaced(models, "generate_private_key", ("key_spec",), make):
        yield
