"""Checks the schema cannot express, run on a file whose schema check passed.

Every check appends a located Problem and carries on, so one run reports everything.
Host ports are returned too: clashes are checked across every file of one call.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from reconciler.model.errors import Problem, ReconcileError
from reconciler.model.reference import looks_like_reference, parse_reference
from reconciler.spec import hostfacts, units
from reconciler.spec.dockerfile_image import dockerfile_spec, referenced_images
from reconciler.spec.env_files import declared_env, env_file_entries, file_values
from reconciler.spec.files import resolve_path, stack_name
from reconciler.spec.loaded import JsonPath, LoadedFile
from reconciler.spec.schema_check import describe, did_you_mean
from reconciler.spec.secret_files import check_secret_files
from reconciler.spec.secrets import SecretError, read_env_text
from reconciler.spec.semantic_container import (
    PortUse,
    check_limits,
    check_ports,
    check_volumes,
    port_clashes,
)
from reconciler.spec.semantic_graph import find_cycle
from reconciler.spec.semantic_values import check_dns, check_env, check_host_limits, check_strings

MAX_ENV_FILE_ERRORS = 10
DOCKERFILE_OPTIONS = ("context", "args", "target", "network")


class FileChecker:
    def __init__(self, loaded: LoadedFile) -> None:
        self.loaded = loaded
        self.data: dict[str, Any] = loaded.data
        self.base_dir = loaded.path.absolute().parent
        self.stack = stack_name(loaded.path, self.data)
        self.problems: list[Problem] = []
        self.ports: list[PortUse] = []

    @cached_property
    def online_cpus(self) -> frozenset[int]:
        """Read once per file, not once per container with a CPU limit."""
        return hostfacts.online_cpus()

    def report(self, path: JsonPath, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.loaded.problem(path, message, at_key=at_key))

    def attempt(self, path: JsonPath, parse: Callable[[Any], object], value: Any) -> Any:
        """Run a units parser; its ValueError becomes a Problem at `path`."""
        try:
            return parse(value)
        except ValueError as exc:
            self.report(path, f"{describe(path)}: {exc}")
            return None

    def run(self) -> None:
        check_strings(self.data, self.report, self.loaded.canonical_json())
        if "name" not in self.data:
            self._check_file_name()
        images = self.data.get("images") or {}
        for key, spec in images.items():
            self._check_image(key, spec, images)
        self._check_build_cycles(images)
        containers = self.data.get("containers") or {}
        for key, spec in containers.items():
            ContainerChecker(self, key, spec).run()
        self._check_dependency_cycles(containers)
        self._check_replica_names(containers)

    def _check_file_name(self) -> None:
        name = self.stack
        if not units.is_dns_label(name):
            self.report(
                (),
                f"the stack name `{name}` taken from the file name is not a lowercase DNS label;"
                " rename the file or set `name:`",
            )

    def must_exist(self, path: JsonPath, text: str, what: str, *, kind: str = "any") -> None:
        target = resolve_path(self.base_dir, text)
        ok = (
            target.is_dir()
            if kind == "dir"
            else target.is_file()
            if kind == "file"
            else (target.exists())
        )
        if not ok:
            self.report(path, f"{what} `{text}` not found (looked for {target})")

    def _check_image(self, key: str, spec: dict[str, Any], images: dict[str, Any]) -> None:
        at: JsonPath = ("images", key)
        if "oci" in spec:
            self.must_exist((*at, "oci"), spec["oci"], "OCI image layout", kind="dir")
            layout = resolve_path(self.base_dir, spec["oci"])
            if layout.is_dir() and not (layout / "index.json").is_file():
                self.report(
                    (*at, "oci"), f"`{spec['oci']}` is not an OCI image layout (no index.json)"
                )
        if "archive" in spec:
            self.must_exist((*at, "archive"), spec["archive"], "image archive", kind="file")
        if "ref" in spec:
            self.attempt((*at, "ref"), parse_reference, spec["ref"])
        if "pull" in spec and "ref" not in spec:
            self.report((*at, "pull"), f"`pull` only applies to `ref` images ({describe(at)})")
        if "dockerfile" in spec:
            self._check_dockerfile(at, spec, images)
        else:
            for option in DOCKERFILE_OPTIONS:
                if option in spec:
                    self.report((*at, option), f"`{option}` only applies to `dockerfile` images "
                                f"({describe(at)})")
        build = spec.get("build")
        if build is not None:
            check_env(build.get("env"), (*at, "build", "env"), self.report)
            base = build["from"]
            if base != "scratch" and base not in images:
                self.report(
                    (*at, "build", "from"),
                    f"unknown base image `{base}` in {describe(at)}{did_you_mean(base, images)}",
                )
            for i, step in enumerate(build.get("copy", [])):
                self.must_exist((*at, "build", "copy", i, "src"), step["src"], "copy source")

    def _check_dockerfile(self, at: JsonPath, spec: dict[str, Any], images: dict[str, Any]) -> None:
        self.must_exist((*at, "dockerfile"), spec["dockerfile"], "Dockerfile", kind="file")
        if "context" in spec:
            self.must_exist((*at, "context"), spec["context"], "build context", kind="dir")
        try:
            referenced_images(dockerfile_spec(spec, self.base_dir), images)
        except OSError:
            return  # reported as missing above
        except (ReconcileError, ValueError) as error:
            self.report((*at, "dockerfile"), f"{spec['dockerfile']}: {error}")

    def _check_build_cycles(self, images: dict[str, Any]) -> None:
        edges = {k: [v["build"]["from"]] for k, v in images.items() if "build" in v}
        for key, spec in images.items():
            if "dockerfile" in spec:
                try:
                    edges[key] = referenced_images(dockerfile_spec(spec, self.base_dir), images)
                except (OSError, ReconcileError, ValueError):
                    continue  # reported by _check_dockerfile
        cycle = find_cycle(edges)
        if cycle:
            self.report(("images", cycle[0]), "image build cycle: " + " -> ".join(cycle))

    def _check_replica_names(self, containers: dict[str, Any]) -> None:
        """Replica 2 of `web` is `web-2`: it must not collide with a container key."""
        for key, spec in containers.items():
            for n in range(2, spec.get("replicas", 1) + 1):
                if f"{key}-{n}" in containers:
                    self.report(
                        ("containers", f"{key}-{n}"),
                        f"container `{key}-{n}` has the name of replica {n} of `{key}`; rename one",
                        at_key=True,
                    )

    def _check_dependency_cycles(self, containers: dict[str, Any]) -> None:
        edges = {k: dependency_names(v.get("depends_on")) for k, v in containers.items()}
        cycle = find_cycle(edges)
        if cycle:
            self.report(
                ("containers", cycle[0], "depends_on"),
                "dependency cycle: " + " -> ".join(cycle),
            )


def _condition(depends_on: Any, name: str) -> str:
    value = depends_on.get(name) if isinstance(depends_on, dict) else None
    return str(value.get("condition") if isinstance(value, dict) else value or "started")


def dependency_names(depends_on: Any) -> list[str]:
    if depends_on is None:
        return []
    return list(depends_on)


class ContainerChecker:
    def __init__(self, parent: FileChecker, key: str, spec: dict[str, Any]) -> None:
        self.parent = parent
        self.key = key
        self.spec = spec
        self.at: JsonPath = ("containers", key)

    def run(self) -> None:
        self._check_image()
        check_ports(self)
        check_volumes(self)
        check_limits(self)
        check_host_limits(self)
        check_dns(self)
        check_env(self.spec.get("env"), (*self.at, "env"), self.parent.report)
        self._check_restart()
        self._check_healthcheck()
        self._check_depends_on()
        self._check_env_files()
        check_secret_files(self)
        self._check_misc()

    def report(self, sub: JsonPath, message: str, *, at_key: bool = False) -> None:
        self.parent.report((*self.at, *sub), message, at_key=at_key)

    @property
    def base_dir(self) -> Path:
        return self.parent.base_dir

    def attempt(self, sub: JsonPath, parse: Callable[[Any], object], value: Any) -> Any:
        return self.parent.attempt((*self.at, *sub), parse, value)

    def _check_image(self) -> None:
        image = self.spec["image"]
        images = self.parent.data.get("images") or {}
        if image in images:
            return
        if looks_like_reference(image):
            self.attempt(("image",), parse_reference, image)
            return
        self.report(
            ("image",),
            f"unknown image `{image}` in container `{self.key}`: not a key of `images`"
            f"{did_you_mean(image, images)} (a registry image needs a tag or a registry, "
            f"e.g. `{image}:latest`)",
        )

    def _check_restart(self) -> None:
        restart = self.spec.get("restart")
        if isinstance(restart, str):
            self.attempt(("restart",), units.parse_restart, restart)
        elif isinstance(restart, dict):
            if "max_retries" in restart and restart["policy"] != "on-failure":
                self.report(
                    ("restart", "max_retries"),
                    "`max_retries` only applies to the `on-failure` policy",
                )
            for name, value in (restart.get("backoff") or {}).items():
                if name != "factor":
                    self.attempt(("restart", "backoff", name), units.parse_duration, value)

    def _check_healthcheck(self) -> None:
        health = self.spec.get("healthcheck") or {}
        for name in ("interval", "timeout", "start_period"):
            if name in health:
                self.attempt(("healthcheck", name), units.parse_duration, health[name])

    def _check_depends_on(self) -> None:
        containers = self.parent.data.get("containers") or {}
        for name in dependency_names(self.spec.get("depends_on")):
            if name not in containers:
                where = self._dependency_path(name)
                self.report(
                    where,
                    f"container `{self.key}` depends on unknown container "
                    f"`{name}`{did_you_mean(name, containers)}",
                )
            elif _condition(self.spec["depends_on"], name) == "healthy" and not (
                    isinstance(containers[name], dict) and containers[name].get("healthcheck")):
                self.report(
                    self._dependency_path(name),
                    f"container `{self.key}` waits for `{name}` to be healthy, but `{name}` "
                    "has no healthcheck: add one to it, or use condition `started`",
                )

    def _dependency_path(self, name: str) -> JsonPath:
        depends_on = self.spec["depends_on"]
        if isinstance(depends_on, list):
            return ("depends_on", depends_on.index(name))
        return ("depends_on", name)

    def _check_env_files(self) -> None:
        """Each file in its format; a Compose-format file sees the files before it."""
        env = declared_env(self.spec)
        earlier: dict[str, str] = {}
        for sub, entry in env_file_entries(self.spec):
            if entry.variables and not entry.compose:
                self.report((*sub, "variables"), "`variables` are read only by "
                            "`format: compose` (Docker's format has no `${}`)")
            content = self._env_file_text(sub, entry.text, entry.encrypted)
            if content is not None:
                values = file_values(content, entry, env, earlier)
                earlier.update(values.entries)
                self._report_env_file_errors(entry.text, values.errors)

    def _env_file_text(self, sub: JsonPath, text: str, encrypted: bool) -> str | None:
        path = resolve_path(self.parent.base_dir, text)
        try:
            return read_env_text(path, encrypted)
        except FileNotFoundError:
            self.report(sub, f"env_file `{text}` not found (looked for {path})")
        except OSError as exc:  # strerror only: never a piece of the file
            self.report(sub, f"env_file `{text}` cannot be read: {exc.strerror or 'error'}")
        except SecretError as exc:  # wrong key, corrupted file: named, never quoted
            self.report(sub, f"env_file `{text}` (age-encrypted) {exc}")
        except ValueError as exc:
            self.report(sub, f"env_file `{text}` {exc}; expected a text file of KEY=VALUE lines")
        return None

    def _report_env_file_errors(self, text: str, errors: list[tuple[int, str]]) -> None:
        path = resolve_path(self.parent.base_dir, text)
        for line, message in errors[:MAX_ENV_FILE_ERRORS]:
            self.parent.problems.append(Problem(str(path), line, 1, message))
        if len(errors) > MAX_ENV_FILE_ERRORS:  # e.g. `env_file: /etc/passwd`: say it once
            line = errors[MAX_ENV_FILE_ERRORS][0]
            more = len(errors) - MAX_ENV_FILE_ERRORS
            self.parent.problems.append(Problem(
                str(path), line, 1,
                f"line {line}: {more} more line(s) from here on are not KEY=VALUE either; "
                "is this an env file?"))

    def _check_misc(self) -> None:
        if "stop_signal" in self.spec:
            self.attempt(("stop_signal",), units.parse_signal, self.spec["stop_signal"])
        if "stop_grace_period" in self.spec:
            self.attempt(
                ("stop_grace_period",), units.parse_duration, self.spec["stop_grace_period"]
            )


def check_file(loaded: LoadedFile) -> tuple[list[Problem], list[PortUse]]:
    checker = FileChecker(loaded)
    checker.run()
    return checker.problems, checker.ports


def check_across(files: list[tuple[LoadedFile, list[PortUse]]]) -> list[Problem]:
    """Problems between files of one call: stack names, host ports (also within a file)."""
    problems: list[Problem] = []
    seen_names: dict[str, Path] = {}
    for loaded, _ in files:
        name = stack_name(loaded.path, loaded.data)
        if name in seen_names:
            problems.append(
                loaded.problem(
                    ("name",) if "name" in loaded.data else None,
                    f"stack name `{name}` is also used by {seen_names[name]}",
                )
            )
        else:
            seen_names[name] = loaded.path
    problems.extend(port_clashes([use for _, uses in files for use in uses]))
    return problems
