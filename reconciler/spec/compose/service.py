"""One Compose service -> one stack container: the table of keys and the simple ones.

Every key of a service is either mapped by a handler of `HANDLERS` or reported as a
located warning; `x-` extension keys and the keys the loader already acted on
(`profiles`) are the only ones passed over in silence.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from reconciler.model.records import record
from reconciler.spec.compose.located import StackOut
from reconciler.spec.loader import JsonPath


@record
class Service:
    """One Compose service being mapped onto the stack."""
    out: StackOut
    name: str
    spec: dict[str, Any]

    def at(self, *sub: str | int) -> JsonPath:
        return ("services", self.name, *sub)

    def put(self, field: str | tuple[str | int, ...], value: Any, *sub: str | int,
            deep: bool = False) -> None:
        fields = field if isinstance(field, tuple) else (field,)
        self.out.put(("containers", self.name, *fields), value, ("services", self.name, *sub),
                     deep=deep)  # ("services", ...) is at(*sub), without its call

    def container(self) -> dict[str, Any]:
        found: dict[str, Any] = self.out.data["containers"][self.name]
        return found

    def unsupported(self, *sub: str | int, why: str = "") -> None:
        self.out.unsupported(self.at(*sub), why=why)

    def warn(self, sub: tuple[str | int, ...], message: str) -> None:
        self.out.warn(self.at(*sub), f"service `{self.name}`: {message}")

    def error(self, sub: tuple[str | int, ...], message: str, *, at_key: bool = False) -> None:
        self.out.error(self.at(*sub), f"service `{self.name}`: {message}", at_key=at_key)


Handler = Callable[[Service, str, Any], None]

# Compose key -> stack field, for values whose meaning and form are the same.
SAME = {
    "user": "user", "working_dir": "workdir", "hostname": "hostname",
    "mac_address": "mac_address", "stop_signal": "stop_signal",
    "stop_grace_period": "stop_grace_period", "read_only": "read_only", "init": "init",
    "cap_add": "cap_add", "cap_drop": "cap_drop", "security_opt": "security_opt",
    "restart": "restart",
}
PULL_POLICIES = {"always": "always", "never": "never", "missing": "missing",
                 "if_not_present": "missing"}
CONDITIONS = {"service_started": "started", "service_healthy": "healthy",
              "service_completed_successfully": "completed"}
WHY = {
    "container_name": "reconcile names containers <project>-<service>-<n>, as Compose does "
    "without `container_name`",
    "expose": "every container of a stack reaches the others' ports already",
    "extends": "it needs the Compose loader, which resolves it",
    "privileged": "grant capabilities one by one with `cap_add`",
}


def same(svc: Service, key: str, value: Any) -> None:
    svc.put(SAME[key], value, key, deep=True)


def tagged(ref: str) -> str:
    """Compose's `busybox` is `busybox:latest`; a stack spells the tag out (a bare word
    would be taken for a key of `images:`)."""
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last or "@" in last else f"{ref}:latest"


def image(svc: Service, key: str, value: Any) -> None:
    if "build" in svc.spec:  # Compose tags its build with it; the build is the image here
        svc.warn((key,), f"`image: {value}` is not set as a tag of the build: the built "
                 "image is kept under the service's name in `images:`")
        return
    value = tagged(str(value)) if isinstance(value, str) and value else value
    pull = PULL_POLICIES.get(str(svc.spec.get("pull_policy") or "missing"), "missing")
    if pull == "missing":
        svc.put("image", value, key)
        return
    svc.out.put(("images", svc.name), {"ref": value, "pull": pull},
                svc.at(key))
    svc.out.trace(("images", svc.name, "pull"), svc.at("pull_policy"))
    svc.put("image", svc.name, key)


def pull_policy(svc: Service, key: str, value: Any) -> None:
    if value == "build":
        if "build" not in svc.spec:
            svc.error((key,), "`pull_policy: build` needs a `build:` section")
    elif value not in PULL_POLICIES:
        svc.unsupported(key, why=f"`{value}`; reconcile pulls a missing image")


def argv(svc: Service, key: str, value: Any) -> None:
    """command / entrypoint: Compose splits a string the way a shell would (no shell runs)."""
    if value is None:
        return
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            svc.error((key,), f"`{key}` cannot be split into words: {exc}")
            return
        svc.put(key, value, key)
        return
    svc.put(key, value, key, deep=True)


def environment(svc: Service, key: str, value: Any) -> None:
    """A variable without a value is Compose's "take it from the shell" (the variables the
    loader saw); one that is not there is unset, as in Compose."""
    env: dict[str, Any] = {}
    sources: dict[str, JsonPath] = {}
    if isinstance(value, dict):
        for name, item in value.items():
            if item is None:
                item = svc.out.project.environment.get(name)
            if item is not None:
                env[name], sources[name] = item, (key, name)
    else:
        for i, item in enumerate(value or []):
            name, sep, text = str(item).partition("=")
            if sep:
                env[name], sources[name] = text, (key, i)
    svc.put("env", env, key)
    for name, sub in sources.items():
        svc.out.trace(("containers", svc.name, "env", name), svc.at(*sub))


def labels(svc: Service, key: str, value: Any) -> None:
    if isinstance(value, dict):
        svc.put("labels", value, key, deep=True)
        return
    found: dict[str, str] = {}
    svc.put("labels", found, key)
    for i, item in enumerate(value or []):
        name, _, text = str(item).partition("=")
        found[name] = text
        svc.out.trace(("containers", svc.name, "labels", name), svc.at(key, i))


def dns(svc: Service, key: str, value: Any) -> None:
    svc.put("dns", [value] if isinstance(value, str) else value, key, deep=True)


def depends_on(svc: Service, key: str, value: Any) -> None:
    if isinstance(value, list):
        svc.put("depends_on", {name: "started" for name in value}, key)
        for i, name in enumerate(value):
            svc.out.trace(("containers", svc.name, "depends_on", name), svc.at(key, i))
        return
    wanted: dict[str, str] = {}
    svc.put("depends_on", wanted, key)
    services = svc.out.project.data.get("services") or {}
    for name, long in (value or {}).items():
        long = long or {}
        if long.get("required") is False and name not in services:
            continue  # an optional dependency on a service left out (profiles), as Compose
        condition = long.get("condition", "service_started")
        wanted[name] = CONDITIONS.get(condition, condition)
        source = (key, name, "condition") if "condition" in long else (key, name)
        svc.out.trace(("containers", svc.name, "depends_on", name), svc.at(*source))
        if long.get("restart"):
            svc.unsupported(key, name, "restart", why="a dependency's restart does not "
                            "restart its dependants here")
        if long.get("required") is False:
            svc.unsupported(key, name, "required", why="every dependency is required here")


def healthcheck(svc: Service, key: str, value: Any) -> None:
    test = value.get("test")
    if value.get("disable") or test in (["NONE"], "NONE"):
        svc.warn((key,), "`healthcheck` disabled: reconcile has no switch to turn off an "
                 "image's own HEALTHCHECK; no check is declared")
        return
    if test is None:
        svc.warn((key,), "a `healthcheck` without `test` only retimes the image's own "
                 "HEALTHCHECK in Compose; reconcile declares no check from it")
        return
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or len(test) < 2 or test[0] not in ("CMD", "CMD-SHELL"):
        svc.error((key, "test"), "`healthcheck.test` must be [\"CMD\", ...], "
                  "[\"CMD-SHELL\", \"command\"], [\"NONE\"] or a command string")
        return
    command = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])]
    svc.put(("healthcheck",), {"exec": command}, key)
    svc.out.trace(("containers", svc.name, "healthcheck", "exec"), svc.at(key, "test"))
    for name in ("interval", "timeout", "start_period", "retries"):
        if name in value and not (name == "retries" and value[name] == 0):
            svc.put(("healthcheck", name), value[name], key, name)
    for name in sorted(set(value) - {"test", "interval", "timeout", "start_period",
                                     "retries", "disable"}):
        svc.unsupported(key, name)


def ignore(svc: Service, key: str, value: Any) -> None:
    """Keys the loader has acted on already."""


def unsupported(svc: Service, key: str, value: Any) -> None:
    svc.unsupported(key, why=WHY.get(key, ""))


HANDLERS: dict[str, Handler] = {
    **{key: same for key in SAME},
    "image": image, "pull_policy": pull_policy,
    "command": argv, "entrypoint": argv, "environment": environment, "labels": labels,
    "dns": dns, "depends_on": depends_on, "healthcheck": healthcheck, "profiles": ignore,
}


def map_service(out: StackOut, name: str, spec: dict[str, Any],
                more: dict[str, Handler]) -> None:
    """Write container `name` from service `spec`; `more` adds the handlers of the sibling
    modules (ports, volumes, limits, networks)."""
    svc = Service(out, name, spec)
    out.put(("containers", name), {}, ("services", name))
    out.trace(("containers",), ("services",))
    table = HANDLERS | more
    for key, value in spec.items():
        if key.startswith("x-"):
            continue
        table.get(key, unsupported)(svc, key, value)
    if "image" not in spec and "build" not in spec:
        svc.error((), "a service needs `image:` or `build:`",
                  at_key=True)
