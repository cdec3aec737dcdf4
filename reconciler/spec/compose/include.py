"""`include:` (compose-go loader/include.go): another Compose project loaded on its own
(its own folder for relative paths, its own `.env` or `env_file`, under the including
project's variables) whose services, networks, volumes, secrets and configs join this one.
A resource defined differently on both sides is an error, as is an include cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconciler.model.errors import Problem
from reconciler.model.records import record
from reconciler.spec.compose.dotenv import read_env_file
from reconciler.spec.compose.nodes import ComposeFailure, Node, at, plain, problem_at, shown
from reconciler.spec.compose.paths import absolute

RESOURCES = ("services", "volumes", "networks", "secrets", "configs", "models")

# Loads an included project: (files, its folder, its variables, the include chain) -> tree.
LoadModel = Callable[[list[Path], Path, dict[str, str], tuple[str, ...]], Node]


@record
class Inclusion:
    """One entry of `include:`: its files, project folder and env files."""
    files: list[Path]
    project_dir: Path
    env_files: list[Path]
    written: list[str]  # the paths as written, for messages (never a variable's value)


def apply_include(cfg: Node, working_dir: Path, environ: dict[str, str],
                  chain: tuple[str, ...], load_model: LoadModel,
                  problems: list[Problem], inputs: list[Path]) -> Node:
    """`cfg` with the resources of its included projects; the env files read are appended
    to `inputs` (the Compose files are, by `load_model`)."""
    entries = cfg.get("include")
    if entries is None:
        return cfg
    cfg = at(cfg, {k: v for k, v in cfg.value.items() if k != "include"})
    if not entries.is_list:
        raise ComposeFailure(problem_at(entries.origin, "`include` must be a list"))
    for entry in entries.value:
        inclusion = _read_entry(entry, working_dir)
        main = str(inclusion.files[0])
        if main in chain:
            names = " -> ".join(Path(f).name for f in chain[chain.index(main):])
            raise ComposeFailure(problem_at(entry.origin, f"include cycle: {names} -> "
                                            f"{inclusion.written[0]}"))
        env = _environment(inclusion, environ, problems)
        inputs.extend(inclusion.env_files)
        imported = load_model(inclusion.files, inclusion.project_dir, env, chain)
        cfg = _import(imported, cfg, entry)
    return cfg


def _read_entry(entry: Node, working_dir: Path) -> Inclusion:
    def nodes(node: Node | None, what: str) -> list[Node]:
        if node is None:
            return []
        items: list[Node] = node.value if node.is_list else [node]
        if not all(isinstance(i.value, str) and i.value for i in items):
            raise ComposeFailure(problem_at(node.origin, f"`include` {what} must be a "
                                            "path or a list of paths"))
        return items

    def texts(node: Node | None, what: str) -> list[str]:
        return [str(i.value) for i in nodes(node, what)]

    if isinstance(entry.value, str):
        entry = at(entry, {"path": entry})
    if not entry.is_map:
        raise ComposeFailure(problem_at(entry.origin, "an `include` entry must be a path or "
                                        "a mapping with `path`"))
    paths = nodes(entry.get("path"), "`path`")
    files = [Path(absolute(str(p.value), working_dir)) for p in paths]
    if not files:
        raise ComposeFailure(problem_at(entry.origin, "an `include` entry needs a `path`"))
    folder = texts(entry.get("project_directory"), "`project_directory`")
    project_dir = Path(absolute(folder[0], working_dir)) if folder else files[0].parent
    env_files = [Path(absolute(p, working_dir))
                 for p in texts(entry.get("env_file"), "`env_file`") if p != "/dev/null"]
    if entry.get("env_file") is None and (project_dir / ".env").is_file():
        env_files = [project_dir / ".env"]
    written = [shown(p) for p in paths]
    for path, text in zip(files, written, strict=True):
        if not path.is_file():
            raise ComposeFailure(problem_at(entry.origin, f"included file `{text}` does not "
                                            "exist"))
    for path in env_files:
        if not path.is_file():
            raise ComposeFailure(problem_at(entry.origin, "an `env_file` of this include "
                                            "does not exist"))
    return Inclusion(files, project_dir, env_files, written)


def _environment(inclusion: Inclusion, environ: dict[str, str],
                 problems: list[Problem]) -> dict[str, str]:
    from_files: dict[str, str] = {}
    for path in inclusion.env_files:
        problems.extend(read_env_file(path, environ, from_files))
    return {**from_files, **environ}


def _import(imported: Node, cfg: Node, entry: Node) -> Node:
    merged = dict(cfg.value)
    for kind in RESOURCES:
        source = imported.get(kind)
        if source is None or not source.is_map:
            continue
        target = merged.get(kind)
        table = dict(target.value) if target is not None and target.is_map else {}
        for name, resource in source.value.items():
            mine = table.get(name)
            if mine is not None and plain(mine) != plain(resource):
                raise ComposeFailure(problem_at(mine.key or mine.origin, f"{kind}.{name} is "
                                                "also defined, differently, by the included "
                                                f"{Path(resource.origin.file).name}"))
            table.setdefault(name, resource)
        merged[kind] = at(target, table) if target is not None else Node(table, entry.origin)
    return at(cfg, merged)
