"""Three of moto's costs that buy no answer, taken out (found by profiling the suite: benchmarks/suite_profile.py and
py-spy on the least-privilege test). None changes what any call returns.

- The server's dispatcher asks, for every request, whether the host names a moto module, by listing moto's package
  folder and stat-ing each of its ~150 entries: 5 % of the emulator's own CPU. The folder does not change while the
  process runs, so it is listed once.
- Every KMS key gets a private key at creation, an RSA-2048 one for the symmetric and HMAC keys that can never use it
  (AWS refuses Sign/Verify/GetPublicKey on them): 2 % of a vend's CPU (each vend makes keys). The key is made the
  first time anything reads it, with the same spec, so asymmetric keys behave exactly as before.
- Every request finds its account by looking for its access key in each account's IAM, in each of the eight AWS
  partitions, and moto creates the IAM of every partition it looks into: eight IAMs per account, each loading AWS's
  1,582 managed policies when that happens while a CreateAccount has them switched on (organizations.py), 0.1 CPU s
  apiece, 10 of them in a one-account pipeline test. A key cannot be in an IAM that does not exist yet, so the same
  search in the same order looks only into those that do: the same answer, nothing created.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from landing_zone.local.patching import replaced, require


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


@contextlib.contextmanager
def access_key_lookup_creates_no_iam() -> Iterator[None]:
    from moto.iam import models

    partitions = require(models, "PARTITION_NAMES")
    default_account = require(models, "DEFAULT_ACCOUNT_ID")

    def make(original: Callable[[str], str]) -> Callable[[str], str]:
        def account_of(access_key: str) -> str:
            for account_id, account in list(models.iam_backends.items()):
                for partition in partitions:
                    backend = dict.get(account, partition)  # a plain read: moto's account[partition] creates it
                    if backend is not None and access_key in backend.access_keys:
                        return str(account_id)
            return str(default_account)

        return account_of

    with replaced(models, "get_account_id_from", ("access_key",), make):
        yield
