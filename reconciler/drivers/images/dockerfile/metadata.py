"""The instructions that change only the image config: ENV, LABEL, USER, CMD, ENTRYPOINT,
EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL, MAINTAINER, ONBUILD (recorded, not run).
Each returns the history text of the step; a ValueError carries the problem."""

from __future__ import annotations

import re
from collections.abc import Callable

from reconciler.drivers.images.dockerfile.parser import Instruction, exec_form_of
from reconciler.drivers.images.dockerfile.state import BuildState, normalize_port
from reconciler.drivers.images.dockerfile.substitute import key_values, word, words

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}
_HEALTH_FLAGS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                 "start-interval": "StartInterval"}  # fmt: skip


def command_form(state: BuildState, ins: Instruction) -> list[str]:
    """Exec form as written; shell form wrapped in the stage's SHELL."""
    if ins.exec_form is not None:
        return list(ins.exec_form)
    return [*state.shell(), ins.args]


def _env(state: BuildState, ins: Instruction, escape: str) -> None:
    pairs = key_values(ins.args, state.substitution_env(), escape)
    if not pairs:
        raise ValueError("ENV needs at least one NAME=VALUE")
    state.set_env(pairs)


def _label(state: BuildState, ins: Instruction, escape: str) -> None:
    pairs = key_values(ins.args, state.substitution_env(), escape)
    if not pairs:
        raise ValueError("LABEL needs at least one NAME=VALUE")
    state.inner["Labels"] = {**(state.inner.get("Labels") or {}), **dict(pairs)}


def _user(state: BuildState, ins: Instruction, escape: str) -> None:
    user = word(ins.args, state.substitution_env(), escape).strip()
    if not user:
        raise ValueError("USER needs a user name or id")
    state.inner["User"] = user


def _cmd(state: BuildState, ins: Instruction, escape: str) -> None:
    state.inner["Cmd"] = command_form(state, ins)
    state.cmd_set = True


def _entrypoint(state: BuildState, ins: Instruction, escape: str) -> None:
    if ins.exec_form is None and not ins.args:
        state.inner["Entrypoint"] = None
    else:
        state.inner["Entrypoint"] = command_form(state, ins)
    if not state.cmd_set:
        state.inner.pop("Cmd", None)  # a base image's CMD does not outlive a new ENTRYPOINT


def _expose(state: BuildState, ins: Instruction, escape: str) -> None:
    ports = words(ins.args, state.substitution_env(), escape)
    if not ports:
        raise ValueError("EXPOSE needs at least one port")
    exposed = dict(state.inner.get("ExposedPorts") or {})
    for port in ports:
        number = port.partition("/")[0]
        if not re.fullmatch(r"\d+(-\d+)?", number):
            raise ValueError(f"EXPOSE: {port!r} is not a port or port/protocol")
        proto = normalize_port(port).partition("/")[2]
        low, _, high = number.partition("-")
        for each in range(int(low), int(high or low) + 1):  # a range is every port, as Docker
            exposed[f"{each}/{proto}"] = {}
    state.inner["ExposedPorts"] = dict(sorted(exposed.items()))


def _volume(state: BuildState, ins: Instruction, escape: str) -> None:
    env = state.substitution_env()
    paths = ([word(p, env, escape) for p in ins.exec_form] if ins.exec_form is not None
             else words(ins.args, env, escape))  # fmt: skip
    if not paths or any(not p.strip() for p in paths):
        raise ValueError("VOLUME needs at least one non-empty path")
    volumes = dict(state.inner.get("Volumes") or {})
    volumes.update({path: {} for path in paths})
    state.inner["Volumes"] = volumes


def _stopsignal(state: BuildState, ins: Instruction, escape: str) -> None:
    signal = word(ins.args, state.substitution_env(), escape).strip()
    if not re.fullmatch(r"(SIG)?[A-Z0-9+-]+|\d+", signal):
        raise ValueError(f"STOPSIGNAL: {signal!r} is not a signal name or number")
    state.inner["StopSignal"] = signal


def parse_duration_ns(text: str) -> int:
    """A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds."""
    if text == "0":
        return 0
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration such as 30s or 1m30s")
    return int(sum(float(number) * _UNIT_NS[unit] for number, unit in parts))


def _healthcheck(state: BuildState, ins: Instruction, escape: str) -> None:
    kind, _, rest = ins.args.partition(" ")
    if kind.upper() == "NONE":
        if rest.strip() or ins.flags:
            raise ValueError("HEALTHCHECK NONE takes no arguments or options")
        state.inner["Healthcheck"] = {"Test": ["NONE"]}
        return
    if kind.upper() != "CMD" or not rest.strip():
        raise ValueError("HEALTHCHECK needs `CMD command` or `NONE`")
    check: dict[str, object] = {}
    exec_form = exec_form_of(rest.strip())
    check["Test"] = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", rest.strip()]
    for name, value in ins.flags:
        if name in _HEALTH_FLAGS:
            nanos = parse_duration_ns(value)
            if nanos:
                check[_HEALTH_FLAGS[name]] = nanos
        elif name == "retries":
            if not value.isdigit():
                raise ValueError(f"HEALTHCHECK --retries: {value!r} is not a number")
            if int(value):
                check["Retries"] = int(value)
        else:
            raise ValueError(f"HEALTHCHECK: unknown option --{name}")
    state.inner["Healthcheck"] = check


def _shell(state: BuildState, ins: Instruction, escape: str) -> None:
    if ins.exec_form is None or not ins.exec_form:
        raise ValueError('SHELL needs the JSON form, such as ["/bin/bash", "-c"]')
    state.inner["Shell"] = list(ins.exec_form)


def _maintainer(state: BuildState, ins: Instruction, escape: str) -> None:
    state.config["author"] = ins.args


def _onbuild(state: BuildState, ins: Instruction, escape: str) -> None:
    state.inner["OnBuild"] = [*(state.inner.get("OnBuild") or []), ins.args]


APPLY: dict[str, Callable[[BuildState, Instruction, str], None]] = {
    "ENV": _env, "LABEL": _label, "USER": _user, "CMD": _cmd, "ENTRYPOINT": _entrypoint,
    "EXPOSE": _expose, "VOLUME": _volume, "STOPSIGNAL": _stopsignal,
    "HEALTHCHECK": _healthcheck, "SHELL": _shell, "MAINTAINER": _maintainer,
    "ONBUILD": _onbuild,
}  # fmt: skip
