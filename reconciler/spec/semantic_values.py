"""Checks of values that end up in files or argv (resolv.conf, /etc/hostname, the OCI
config, runc's command line) and of limits the runtime would refuse.

A newline in `dns` would add a nameserver line; an `=` in an env name would set another
variable; NUL ends a C string. Such input is refused with a located error, never passed on.
Values of env variables are never quoted in a message: they may be secrets.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import Any

from reconciler.spec import hostfacts, units
from reconciler.spec.files import env_name_problem
from reconciler.spec.loaded import JsonPath
from reconciler.spec.schema_check import describe, show
from reconciler.spec.semantic_container import ContainerChecker, ulimit_pair

# Docker refuses `--memory` below 6 MiB: the runtime and the kernel need that much to
# start a container at all.
MIN_MEMORY = 6 * 1024 * 1024

# Where a value is an argument or a script, newlines are meaningful (`sh -c` scripts).
_MULTILINE = (("command",), ("entrypoint",), ("healthcheck", "exec"), ("build", "cmd"),
              ("build", "entrypoint"))

Report = Callable[..., None]


# one C-level scan finds the (rare) texts that need the character-by-character look below
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f]")
_CONTROL_BUT_NL_TAB = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _bad_char(text: str, *, multiline: bool) -> str:
    """What is wrong with `text` ("" when nothing): NUL anywhere; control characters
    (newline included) unless `multiline`, which still allows only \\n and \\t."""
    if not (_CONTROL_BUT_NL_TAB if multiline else _ANY_CONTROL).search(text):
        return ""
    for ch in text:
        if ch == "\0":
            return "a NUL character"
        if multiline and ch in "\n\t":
            continue
        if ch == "\n" or ch == "\r":
            return "a line break"
        if ord(ch) < 32 or ord(ch) == 127:
            return f"control character U+{ord(ch):04X}"
    return ""


def _strings(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str, bool]]:
    """Every (path, text, is_key) in a data tree, env maps and `x-` extensions left out
    (env has its own check; extensions are never read)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not path and str(key).startswith("x-"):
                continue
            if path and path[-1] == "env" and len(path) >= 3:
                continue
            yield (*path, key), str(key), True
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        if path and path[-1] == "env":
            return
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))
    elif isinstance(value, str):
        yield path, value, False


# In canonical JSON (ASCII only) a control character is one of these escapes; a match may
# also be a backslash of the text itself, then the walk below looks closer.
_JSON_CONTROL = re.compile(r"\\(?:[bfnrt]|u00[01][0-9a-f]|u007f)")


def check_strings(data: dict[str, Any], report: Report, canonical: str) -> None:
    """No NUL anywhere; no line break or control character outside argv and scripts.
    (Schema patterns end in `$`, which Python also matches before a final newline.)
    `canonical`: `data` as LoadedFile.canonical_json() writes it."""
    if not _JSON_CONTROL.search(canonical):
        return  # no control character anywhere, key or value
    for path, text, is_key in _strings(data, ()):
        if not _ANY_CONTROL.search(text):
            continue  # nearly every text: no need to work out where it is
        if path[0] == "containers" and path[2:3] == ("dns",) and len(path) == 4:
            continue  # check_dns names the expected form
        multiline = not is_key and any(path[2:2 + len(m)] == m for m in _MULTILINE)
        problem = _bad_char(text, multiline=multiline)
        if not problem:
            continue
        if is_key:
            report(path, f"invalid key in {describe(path[:-1])}: it contains {problem}",
                   at_key=True)
        else:
            report(path, f"{describe(path)}: expected text without control characters, "
                         f"found {problem}")


def check_env(env: Any, at: JsonPath, report: Report) -> None:
    """Env names (map keys or the part before `=`) and values of `env:` at `at`."""
    if isinstance(env, dict):
        items = [((*at, key), str(key), value, True) for key, value in env.items()]
    elif isinstance(env, list):
        items = []
        for i, entry in enumerate(env):
            name, _, value = str(entry).partition("=")
            items.append(((*at, i), name, value, False))
    else:
        return
    for path, name, value, is_key in items:
        problem = env_name_problem(name)
        if problem:
            report(path, f"{describe(at)}: expected a variable NAME without `=`, NUL, "
                         f"whitespace or control characters; {problem}", at_key=is_key)
        elif isinstance(value, str) and "\0" in value:
            report(path, f"{describe(at)}: the value of `{name}` contains a NUL character")


def check_dns(checker: ContainerChecker) -> None:
    for i, entry in enumerate(checker.spec.get("dns") or []):
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            checker.report(("dns", i), f"{describe((*checker.at, 'dns', i))}: expected an "
                                       f"IP address like 10.0.0.2, got {show(entry)}")


def check_host_limits(checker: ContainerChecker) -> None:
    """Limits runc would refuse half-way through an apply: refused here instead."""
    limits = checker.spec.get("limits") or {}
    at: JsonPath = (*checker.at, "limits")
    if "memory" in limits:
        memory = checker.attempt(("limits", "memory"), units.parse_size, limits["memory"])
        if memory is not None and memory < MIN_MEMORY:
            checker.report(("limits", "memory"), f"{describe((*at, 'memory'))}: expected at "
                           f"least 6Mi ({MIN_MEMORY} bytes), the least a container can start "
                           f"with; got {memory} bytes")
    cpus = limits.get("cpus")
    if cpus is not None and cpus > len(checker.parent.online_cpus):
        checker.report(("limits", "cpus"), f"{describe((*at, 'cpus'))}: expected at most "
                       f"{len(checker.parent.online_cpus)}, the CPUs this host has; got {cpus}")
    if "cpuset" in limits:
        _check_cpuset(checker, str(limits["cpuset"]), checker.parent.online_cpus)
    nofile = (limits.get("ulimits") or {}).get("nofile")
    if nofile is not None and 0 in ulimit_pair(nofile):
        checker.report(("limits", "ulimits", "nofile"), "ulimit `nofile`: expected soft and "
                       "hard limits of at least 1 (a process with no file descriptors "
                       f"cannot even start); got {list(ulimit_pair(nofile))}")


def _check_cpuset(checker: ContainerChecker, text: str, online: frozenset[int]) -> None:
    sub: JsonPath = ("limits", "cpuset")
    wanted = checker.attempt(sub, hostfacts.parse_cpuset, text)
    if wanted is None:
        return
    missing = sorted(wanted - online)
    if missing:
        have = _ranges(online)
        checker.report(sub, f"{describe((*checker.at, *sub))}: expected CPUs this host has "
                       f"online ({have}); CPU {missing[0]} is not")


def _ranges(cpus: frozenset[int]) -> str:
    """{0, 1, 2, 5} -> "0-2,5", the kernel's own notation."""
    out: list[str] = []
    for cpu in sorted(cpus):
        if out and out[-1].split("-")[-1] == str(cpu - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{cpu}"
        else:
            out.append(str(cpu))
    return ",".join(out)
