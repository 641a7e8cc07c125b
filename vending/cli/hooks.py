"""What the CLI needs from the local emulator, handed in by the deployment layer (landing_zone.cli).

The shipped CLI never imports the emulator: `--emulator` options work when `vend` is started through
`landing_zone.cli` (the installed `vend` script), and fail with a clear error otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from vending.exceptions import InvalidRequest


@dataclass(frozen=True)
class LocalHooks:
    # (team, stage) -> an emulated, bootstrapped account (landing_zone.local.pipeline_account.EmulatedAccount)
    emulated_account: Callable[..., Any] | None = None
    # port -> context manager yielding {"endpoint": ..., **deployment} with this process pointed at the emulator
    emulator_environment: Callable[[int], AbstractContextManager[dict[str, str]]] | None = None
    # (access key, session token) -> (secret, signer ARN) of the emulator's credentials (vending.cli.sigv4.SecretLookup)
    signing_secrets: Callable[[str, str | None], tuple[str, str] | None] | None = None
    # () -> a session of the Api function's role, one per request (what the resolver runs under on the emulator)
    api_session: Callable[[], Any] | None = None

    def require(self, name: str) -> Callable[..., Any]:
        hook = getattr(self, name)
        if hook is None:
            raise InvalidRequest("--emulator needs the local emulator (landing_zone.local): run the installed `vend`")
        return hook  # type: ignore[no-any-return]
