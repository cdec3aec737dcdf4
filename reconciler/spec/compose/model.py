"""The files of one Compose project -> one merged tree, as compose-go's loadYamlModel does.

Per file, in order: parse (with `!reset` / `!override`), interpolate, `include`, drop from
the files before it what this one resets, `extends`, merge onto the files before it, keep
one entry per key. Then relative paths are made absolute against the project's folder and
an `environment` entry without a value (`- FOO`, `FOO:`) takes the project's variable when
it has one.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.model.errors import Problem
from reconciler.model.records import field, record
from reconciler.spec.compose.extends import Extender, drop_paths
from reconciler.spec.compose.include import apply_include
from reconciler.spec.compose.interpolate import interpolate
from reconciler.spec.compose.merge import merge
from reconciler.spec.compose.nodes import ComposeFailure, Node, at, problem_at
from reconciler.spec.compose.paths import resolve_paths
from reconciler.spec.compose.project import JsonPath, Origin
from reconciler.spec.compose.unique import enforce_unique
from reconciler.spec.compose.yamlload import load_compose_file


@record
class ModelLoader:
    """Loads the -f files, their includes and extends bases, collecting problems."""
    problems: list[Problem]
    inputs: list[Path] = field(default_factory=list)  # every file read, in order
    # the files `extends: file:` named, loaded once however many services extend them
    bases: dict[Path, tuple[dict[str, Node], list[JsonPath]]] = field(default_factory=dict)

    def load(self, files: list[Path], working_dir: Path, environ: dict[str, str],
             chain: tuple[str, ...] = ()) -> Node:
        merged = Node({}, Origin(str(files[0]), 0, 0))
        for path in files:
            merged = self._one_file(path, merged, working_dir, environ, chain)
        merged = resolve_paths(merged, working_dir)
        return _resolve_bare_environment(merged, environ)

    def _one_file(self, path: Path, merged: Node, working_dir: Path,
                  environ: dict[str, str], chain: tuple[str, ...]) -> Node:
        loaded = load_compose_file(path)
        self.inputs.append(path)
        self.problems.extend(loaded.problems)
        if loaded.root is None:
            return merged
        cfg = interpolate(loaded.root, environ, self.problems)
        cfg = self._drop_version(cfg)
        cfg = apply_include(cfg, working_dir, environ, (*chain, str(path.absolute())), self.load,
                            self.problems, self.inputs)
        merged = drop_paths(merged, loaded.resets, ())
        extender = Extender(lambda base: self._extends_base(base, environ))
        cfg = extender.apply(cfg, path, working_dir, loaded.resets)
        return enforce_unique(merge(merged, cfg, ()))

    def _extends_base(self, path: Path, environ: dict[str, str]
                      ) -> tuple[dict[str, Node], list[JsonPath]]:
        """The services of a file an `extends: file:` names: interpolated, their paths
        relative to that file's folder, their own `extends` left for the caller."""
        path = path.absolute()
        if path in self.bases:
            return self.bases[path]
        loaded = load_compose_file(path)
        self.inputs.append(path)
        self.problems.extend(loaded.problems)
        if loaded.root is None:
            raise ComposeFailure(Problem(str(path), 0, 0, "cannot load the file `extends` "
                                         "names (see the problems above)"))
        cfg = resolve_paths(interpolate(loaded.root, environ, self.problems), path.parent)
        services = cfg.get("services")
        if services is None or not services.is_map:
            raise ComposeFailure(problem_at(cfg.origin, "this file has no `services` "
                                            "mapping to extend"))
        self.bases[path] = dict(services.value), loaded.resets
        return self.bases[path]

    def _drop_version(self, cfg: Node) -> Node:
        version = cfg.get("version")
        if version is None:
            return cfg
        self.problems.append(problem_at(version.key or version.origin, "`version` is "
                                        "obsolete; it is ignored", warning=True))
        return at(cfg, {k: v for k, v in cfg.value.items() if k != "version"})


def _resolve_bare_environment(root: Node, environ: dict[str, str]) -> Node:
    services = root.get("services")
    if services is None or not services.is_map:
        return root
    table = {}
    for name, service in services.value.items():
        env = service.get("environment")
        if env is not None and env.is_list:
            items = [at(item, f"{item.value}={environ[item.value]}")
                     if isinstance(item.value, str) and item.value in environ else item
                     for item in env.value]
            service = at(service, {**service.value, "environment": at(env, items)})
        elif env is not None and env.is_map:
            resolved = {k: at(v, environ[k]) if v.value is None and k in environ else v
                        for k, v in env.value.items()}
            service = at(service, {**service.value, "environment": at(env, resolved)})
        table[name] = service
    return at(root, {**root.value, "services": at(services, table)})
