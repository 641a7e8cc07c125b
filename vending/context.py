"""What every handler shares: powertools instances and clients built per invocation (never at import)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from vending.layout import Layout, cached_layout
from vending.lifecycle import RequestStore
from vending.pipeline.orchestration import CodeBuildLauncher, Launcher, LocalThreadLauncher, RunStore
from vending.settings import Settings
from vending.workflow import WorkflowState

logger = Logger(service="account-vending")
metrics = Metrics(namespace="AccountVending", service="account-vending")


class Context:
    """Clients and stores for one invocation."""

    def __init__(self) -> None:
        self.settings = Settings.from_env()
        self.session = boto3.Session()

    def client(self, name: str) -> Any:
        return self.session.client(name)  # type: ignore[call-overload]

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
