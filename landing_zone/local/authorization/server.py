"""moto's threaded server with the authorization middleware in front of its WSGI application."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from landing_zone.local.authorization.middleware import AuthorizationMiddleware
from landing_zone.local.patching import require


def authorizing_server(server_cls: type, host: str, port: int, enabled: Callable[[], bool]) -> Any:
    """A ThreadedMotoServer whose application is wrapped by the middleware (decides only while `enabled()`)."""
    from moto.moto_server import threaded_moto_server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    require(server_cls, "_server_entry", ("self",))
    require(threaded_moto_server, "make_server")
    require(threaded_moto_server, "MotoRequestHandler")

    class AuthorizingMotoServer(server_cls):  # type: ignore[misc, valid-type]
        def _server_entry(self) -> None:
            app = AuthorizationMiddleware(DomainDispatcherApplication(create_backend_app), enabled)
            self._server = threaded_moto_server.make_server(
                self._ip_address, self._port, app, True, request_handler=threaded_moto_server.MotoRequestHandler
            )
            self._server_ready_event.set()
            # stop() (shutdown) waits for the loop's next look at its flag: werkzeug's default half-second poll made
            # every emulator's stop take 0.5 s. Twenty looks a second cost nothing measurable.
            self._server.serve_forever(poll_interval=0.05)

    return AuthorizingMotoServer(ip_address=host, port=port, verbose=False)


@contextlib.contextmanager
def moto_identity_check_off() -> Iterator[None]:
    """moto's own policy check (identity policies against "*") would refuse what AWS allows; the middleware has
    already decided every call by the time moto sees it. Its signature and key checks stay."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequestBase, PermissionResult
    from moto.s3.models import FakeBucket

    original = require(IAMRequestBase, "check_action_permitted", ("self", "resource"))
    # moto also reads bucket policies on its own, without their conditions (a TLS-only Deny would deny everything).
    original_bucket = require(FakeBucket, "get_permission", ("self", "action", "resource"))
    require(PermissionResult, "NEUTRAL")

    original_authenticate = require(ActionAuthenticatorMixin, "_authenticate_and_authorize_action")

    def decided_by_the_middleware(self: Any, resource: str) -> None:
        return None

    def authenticate(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        # AssumeRoleWithWebIdentity is unsigned in AWS (the token is the credential); moto's authentication would
        # fail on the missing Authorization header. The middleware decided it against the role's trust policy.
        if "Authorization" not in self.headers and self._get_action() == "AssumeRoleWithWebIdentity":
            return None
        return original_authenticate(self, iam_request_cls, resource)

    def bucket_policy_decided_by_the_middleware(self: Any, action: str, resource: str) -> Any:
        return PermissionResult.NEUTRAL

    IAMRequestBase.check_action_permitted = decided_by_the_middleware  # type: ignore[method-assign]
    FakeBucket.get_permission = bucket_policy_decided_by_the_middleware  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate  # type: ignore[method-assign]
    try:
        yield
    finally:
        ActionAuthenticatorMixin._authenticate_and_authorize_action = original_authenticate  # type: ignore[method-assign]
        IAMRequestBase.check_action_permitted = original  # type: ignore[method-assign]
        FakeBucket.get_permission = original_bucket  # type: ignore[method-assign]


@contextlib.contextmanager
def bodyless_signatures() -> Iterator[None]:
    """moto recomputes a signature over `body or data`; for a GET, DELETE or HEAD without a body `data` is the query
    (or the headers), which botocore then signs as a body, so every signed REST read with an empty payload (EKS
    DescribeAddonVersions, Bedrock GetGuardrail) fails SignatureDoesNotMatch. AWS signs the empty payload (and the
    query as part of the URL, which moto's path already carries)."""
    from moto.iam.access_control import IAMRequestBase

    original = require(IAMRequestBase, "_create_aws_request", ("self",))
    require(IAMRequestBase, "__init__", ("self", "account_id", "method", "path", "data", "body", "headers", "action"))

    def create_aws_request(self: Any) -> Any:
        if self._method in ("GET", "DELETE", "HEAD") and not self._body:
            saved, self._data = self._data, b""
            try:
                return original(self)
            finally:
                self._data = saved
        return original(self)

    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMRequestBase._create_aws_request = original  # type: ignore[method-assign]
