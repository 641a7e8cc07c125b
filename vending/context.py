"""What every handler shares: powertools instances and clients built per invocation (never at import)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from vending.aws import sessions
from vending.layout import Layout, cached_layout
from vending.lifecycle import RequestStore
from vending.pipeline.orchestration import CodeBuildLauncher, Launcher, LocalThreadLauncher, RunStore
from vending.settings import Settings
from vending.workflow import WorkflowState

logger = Logger(service="account-vending")
metrics = Metrics(namespace="AccountVending", service="account-vending")

SessionFactory = Callable[[], boto3.Session]
# In AWS every invocation gets the function role's credentials from the environment. A runtime that hosts several
# functions in one process (the local emulator) sets a factory per invocation instead; a ContextVar keeps
# concurrent invocations on different threads apart.
_session_factory: ContextVar[SessionFactory | None] = ContextVar("vending_session_factory", default=None)


@contextmanager
def invocation_session(factory: SessionFactory) -> Iterator[None]:
    """Within this block (this thread or task only), Context() builds its session with `factory`."""
    token = _session_factory.set(factory)
    try:
        yield
    finally:
        _session_factory.reset(token)


def new_session() -> boto3.Session:
    """The session an invocation's clients come from: the injected one, else boto3's default chain."""
    factory = _session_factory.get()
    return factory() if factory is not None else sessions.new_session()


class Context:
    """Clients and stores for one invocation."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self.session = new_session()
        self._clients: dict[str, Any] = {}

    def client(self, name: str) -> Any:
        # One client per service for the invocation (`store` and each route asked for a new one): making a client
        # copies the session's event hooks, milliseconds each. Clients are thread-safe; two threads racing here make
        # two, and either serves.
        if name not in self._clients:
            self._clients[name] = self.session.client(name)  # type: ignore[call-overload]
        return self._clients[name]

    @property
    def store(self) -> RequestStore:
        return RequestStore(self.client("dynamodb"), self.settings.requests_table)

    @property
    def layout(self) -> Layout:
        return cached_layout()

    def launcher(self) -> Launcher:
        """CodeBuild in AWS; worker threads beside the emulator."""
        if self.settings.pipeline_launcher == "codebuild":
            return CodeBuildLauncher(self.client("codebuild"), self.settings.codebuild_project)
        return LocalThreadLauncher(
            self.settings.pipeline_runs_table, self.settings.terraform_root, self.settings.approvals_table
        )

    def runs(self) -> RunStore:
        return RunStore(self.client("dynamodb"), self.settings.pipeline_runs_table)


def begin_step(event: dict[str, Any], step: str) -> WorkflowState:
    """Parse the execution state and tag every log line of this step with the team and request."""
    state = WorkflowState.model_validate(event)
    logger.thread_safe_append_keys(
        team=state.request.team,
        stage=state.request.stage,
        request_id=state.request.request_id,
        step=step,
        execution=state.execution,
    )
    return state
