"""A loaded Compose project -> stack data, traced back to the Compose files.

    compose_to_stack(project) -> StackOut      data, trail, warnings, errors
    compose_loaded(project, strict) -> ComposeLoadedFile

The stack data is what a stack file would hold (docs/compose.md lists the mapping); the
stack pipeline (spec/stacks.py) checks, normalizes and plans it like any stack file.
`container_names: compose` makes container names Compose's (`<project>-<service>-<n>`).
"""

from __future__ import annotations

from typing import Any

from reconciler.model.records import replace
from reconciler.spec.compose import build, env_file, limits, networks, ports, volumes
from reconciler.spec.compose.located import ComposeLoadedFile, StackOut
from reconciler.spec.compose.project import ComposeProject
from reconciler.spec.compose.service import Handler, map_service

# Top-level keys the loader acts on, or that mean nothing (Compose ignores `version`).
_SILENT = {"name", "version", "include", "services"}
_FILES = {"secrets", "configs"}

SERVICE_HANDLERS: dict[str, Handler] = {
    "ports": ports.ports, "volumes": volumes.volumes, "tmpfs": volumes.tmpfs,
    "configs": volumes.configs, "secrets": volumes.secrets,
    "networks": networks.networks, "network_mode": networks.network_mode,
    "env_file": env_file.env_file, "build": build.build,
    **limits.HANDLERS,
}


def compose_to_stack(project: ComposeProject) -> StackOut:
    out = StackOut(project)
    data = project.data
    out.put(("name",), project.name, ("name",) if "name" in data else ())
    out.put(("container_names",), "compose", ())
    for key in data:
        if key not in _SILENT | _FILES | {"volumes", "networks"} and not key.startswith("x-"):
            out.unsupported((key,))
    for name, spec in (data.get("volumes") or {}).items():
        _volume(out, name, spec or {})
    for kind in sorted(_FILES):
        for name, spec in (data.get(kind) or {}).items():
            _file_entry(out, kind, name, spec or {})
    out.put(("containers",), {}, ("services",))
    for name, spec in (data.get("services") or {}).items():
        map_service(out, str(name), spec or {}, SERVICE_HANDLERS)
        env_file.record_variables(out, str(name))
    networks.map_networks(out)
    return out


def _volume(out: StackOut, name: str, spec: dict[str, Any]) -> None:
    at = ("volumes", name)
    out.put(at, {}, at)
    if spec.get("external"):
        out.error((*at, "external"), "an external volume cannot be expressed: reconcile "
                  f"creates and owns its volumes (this one: {out.project.name}-{name})",
                  at_key=True)
    for option in sorted(set(spec) - {"external"}):
        out.unsupported((*at, option), why="reconcile's volumes are local folders")


def _file_entry(out: StackOut, kind: str, name: str, spec: dict[str, Any]) -> None:
    at = (kind, name)
    if "file" not in spec:
        given = next(iter(sorted(set(spec) & {"environment", "external", "content"})), "")
        out.error((*at, given) if given else at, f"{kind[:-1]} `{name}`: only `file:` "
                  f"{kind} are supported by reconcile", at_key=True)
    for option in sorted(set(spec) - {"file", "environment", "external", "content"}):
        out.unsupported((*at, option))


def compose_loaded(project: ComposeProject, strict: bool = False) -> ComposeLoadedFile:
    """The stack data as a loaded stack file; the loader's and the mapping's errors are its
    problems, the ignored keys its warnings (problems too under `strict`)."""
    out = compose_to_stack(project)
    path = project.files[0] if project.files else project.project_dir / "compose.yaml"
    loaded = ComposeLoadedFile(path, data=out.data, project=project, trail=out.trail)
    loaded.problems = [*project.problems, *out.errors]
    if strict:
        loaded.problems += [replace(w, severity="error", message=w.message.replace(
            "; ignored", "", 1) + " (an error under --strict)") for w in out.warnings]
    else:
        loaded.warnings = list(out.warnings)
    return loaded
