"""Where a team's stack comes from: its committed folder, or a template the platform renders for it.

A stack resolves if `terraform/environments/<team>/<stage>/<stack>/` is committed, or if the platform has a template
of that name, so a team that is new to the repository needs no commit. Templates, read from terraform/:

- workload templates, `templates/workloads/<name>/` (main.tf, stack_variables.tf, template.yaml with the
  terraform.tfvars values per stage), when that catalogue exists;
- the platform's own stack kinds (`bootstrap`, `networking`, ...): `templates/` holds only their shared boilerplate
  (`templates/*.tf`, `templates/<kind>/*.tf`), so their body (main.tf, stack_variables.tf, the stage's
  terraform.tfvars and the lock file) is taken from a committed team stack of that kind whose main.tf is the same for
  every team that commits it (it only reads `var.team`, never names one), which is what sync_stacks keeps them.

Rendering writes a complete stack folder (boilerplate, body, backend.tf keyed by the folder path) under
`<dest>/environments/<team>/<stage>/<stack>/`, with `<dest>/modules` linked to terraform/modules so the stacks'
relative module sources (`../../../../modules/...`) resolve as in the repository.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vending.exceptions import StackUnresolvable
from vending.layout import cached_layout
from vending.pipeline import templates as workload_templates
from vending.pipeline.templates import BACKEND, LOCK_FILE

PLATFORM_FOLDERS = frozenset({"shared"})  # platform stacks, not a team's: never a template body
BODY_FILES = ("main.tf", "stack_variables.tf")


@dataclass(frozen=True)
class StackTemplate:
    name: str
    kind: Literal["workload", "platform"]
    body: Path  # the workload template's folder, or the committed team stack of that kind (its stage sibling)


@dataclass(frozen=True)
class StackSource:
    """A committed folder (`path` is it) or a template (`template` names it)."""

    team: str
    stage: str
    stack: str
    kind: Literal["committed", "template"]
    path: Path | None = None
    template: StackTemplate | None = None

    @property
    def stack_path(self) -> str:
        return f"{self.team}/{self.stage}/{self.stack}"


def available_templates(terraform_root: Path) -> dict[str, StackTemplate]:
    """The stacks the platform can render for any team, by name."""
    found: dict[str, StackTemplate] = {}
    environments = terraform_root / "environments"
    bodies: dict[str, dict[str, Path]] = {}
    for main in sorted(environments.glob("*/*/*/main.tf")):
        stack_dir = main.parent
        team = stack_dir.parent.parent.name
        if team in PLATFORM_FOLDERS:
            continue
        bodies.setdefault(stack_dir.name, {})[team] = stack_dir
    for kind, by_team in bodies.items():
        texts = {p.joinpath("main.tf").read_text(encoding="utf-8") for p in by_team.values()}
        if len(texts) == 1 and not any(team in next(iter(texts)) for team in by_team):
            found[kind] = StackTemplate(kind, "platform", next(iter(by_team.values())))
    for spec in sorted((terraform_root / "templates" / "workloads").glob("*/template.yaml")):
        if spec.parent.joinpath("main.tf").is_file():
            found[spec.parent.name] = StackTemplate(spec.parent.name, "workload", spec.parent)
    return found


def resolve_stack(team: str, stage: str, stack: str, terraform_root: Path) -> StackSource:
    committed = terraform_root / "environments" / team / stage / stack
    if committed.joinpath("main.tf").is_file():
        return StackSource(team, stage, stack, "committed", path=committed)
    template = available_templates(terraform_root).get(stack)
    if template is None:
        raise StackUnresolvable(
            f"{stack}: no terraform/environments/{team}/{stage}/{stack}/ and no template of that name "
            f"(templates: {sorted(available_templates(terraform_root))})"
        )
    return StackSource(team, stage, stack, "template", template=template)


def render_stack(source: StackSource, terraform_root: Path, dest: Path, *, gpu_tier: str | None = None) -> Path:
    """Write the template's stack folder for the source's team and stage under dest; returns the folder.
    Workload templates are rendered by vending.pipeline.templates (the same renderer sync_stacks commits with), for
    the request's GPU tier; a team outside the layout gets the first free network block of the layout's pool."""
    if source.template is None:
        raise StackUnresolvable(f"{source.stack_path} is committed, not a template")
    out = dest / "environments" / source.team / source.stage / source.stack
    out.mkdir(parents=True, exist_ok=True)
    modules = dest / "modules"
    if not modules.exists():
        modules.symlink_to((terraform_root / "modules").resolve(), target_is_directory=True)
    templates = terraform_root / "templates"
    for path in [*sorted(templates.glob("*.tf")), *sorted((templates / source.stack).glob("*.tf"))]:
        shutil.copyfile(path, out / path.name)
    body = source.template.body
    if source.template.kind == "platform":
        # The committed stack of that kind for the same stage carries that stage's values.
        same_stage = body.parent.parent / source.stage / source.stack
        body = same_stage if same_stage.joinpath("main.tf").is_file() else body
        for name in (*BODY_FILES, "terraform.tfvars", LOCK_FILE):
            if body.joinpath(name).is_file():
                shutil.copyfile(body / name, out / name)
    else:
        layout = cached_layout()
        block = workload_templates.allocate_network_block(source.team, source.stage, layout)
        files = workload_templates.render_stack(
            source.team,
            source.stage,
            source.stack,
            layout,
            gpu_tier=gpu_tier,
            network_block=block,
            workloads_dir=body.parent,
        )
        for name, text in files.items():
            out.joinpath(name).write_text(text, encoding="utf-8")
    out.joinpath("backend.tf").write_text(
        BACKEND.format(key=f"{source.stack_path}/terraform.tfstate"), encoding="utf-8"
    )
    return out


_RENDER_ROOT: list[Path] = []


def stack_dir_for(stack_path: str, terraform_root: Path, *, gpu_tier: str | None = None) -> Path:
    """The folder the pipeline runs for `<team>/<stage>/<stack>`: committed, or rendered into a temporary tree
    (removed when the process exits)."""
    team, stage, stack = stack_path.split("/")
    source = resolve_stack(team, stage, stack, terraform_root)
    if source.path is not None:
        return source.path
    if not _RENDER_ROOT:
        _RENDER_ROOT.append(Path(tempfile.mkdtemp(prefix="vend-rendered-stacks-")))
        atexit.register(shutil.rmtree, _RENDER_ROOT[0], True)
    return render_stack(source, terraform_root, Path(tempfile.mkdtemp(dir=_RENDER_ROOT[0])), gpu_tier=gpu_tier)
