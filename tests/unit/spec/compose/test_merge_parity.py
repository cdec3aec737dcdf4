"""The merge rules against Compose v2 itself: for each specially merged key, every pair of
forms (a value in the first file and another in the second, or in a base service and in
the service extending it) merges as Compose merges it. One Compose run per key and way:
each pair is a service of its own."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from reconciler.spec.compose.load import load_compose
from reconciler.spec.compose.project import ComposeOptions
from tests.unit.spec.compose.oracle import comparable, compose_config

FORMS = {
    "environment": ['{A: "1"}', "[A=2, B=3]", "[A]", '{A: null, C: "c"}'],
    "labels": ['{A: "1"}', "[A=2, B=3]", '{B: ""}'],
    "ports": ['["80"]', '["8080:80"]', '[{target: 80, published: "8080"}]',
              '["127.0.0.1:8080:80"]', '[81, "90/udp"]'],
    "volumes": ['["./a:/a"]', '["vol:/a"]', "[{type: bind, source: ./b, target: /a}]",
                '["/a"]', '["./c:/c:ro"]', '["v:/a"]'],
    "dns": ['"1.1.1.1"', '["1.1.1.1", "8.8.8.8"]'],
    "extra_hosts": ['["a:1.1.1.1"]', "{a: 1.1.1.1}", '["a=1.1.1.1"]',
                    "{b: [1.1.1.1, 2.2.2.2]}"],
    "depends_on": ["[db]", "{db: {condition: service_healthy}}",
                   "{db: {condition: service_started, required: false}}", "[db, c]"],
    "networks": ["[n1]", "{n1: {aliases: [x]}}", "{n2: null}"],
    "command": ['"a b"', "[a]"],
    "healthcheck": ["{test: [CMD, a]}", '{test: "x", interval: 1s}', "{disable: true}"],
    "logging": ['{driver: a, options: {x: "1"}}', '{options: {y: "2"}}', "{driver: b}"],
    "ulimits": ["{nofile: 1}", "{nofile: {soft: 1, hard: 2}}", "{nproc: 3}"],
    "tmpfs": ['"/t"', '["/t", "/u"]'],
    "cap_add": ["[A]", "[A, B]"],
    "build": ['"."', '{context: ., args: {A: "1"}}', "{args: [B=2]}", "{dockerfile: D}"],
    "secrets": ["[s]", "[{source: s, target: /x}]", "[{source: t, target: s}]"],
    "expose": ['["80"]', "[80, 81]"],
    "sysctls": ["{a.b: 1}", "[a.b=2, c.d=3]"],
}
COMMON = ("  db: {image: y}\n  c: {image: y}\nnetworks: {n1: {}, n2: {}}\n"
          "volumes: {vol: {}}\nsecrets: {s: {file: ./s.txt}, t: {file: ./s.txt}}\n")


def _files(key: str, pairs: list[tuple[str, str]], how: str) -> tuple[str, str]:
    if how == "extends":  # m<i> extends b<i>, all in one file
        return "services:\n" + "".join(
            f"  b{i}:\n    image: x\n    {key}: {a}\n  m{i}:\n    extends: b{i}\n"
            f"    {key}: {b}\n" for i, (a, b) in enumerate(pairs)) + COMMON, ""
    first = "services:\n" + "".join(f"  m{i}:\n    image: x\n    {key}: {a}\n"
                                    for i, (a, _) in enumerate(pairs)) + COMMON
    return first, "services:\n" + "".join(f"  m{i}:\n    {key}: {b}\n"
                                          for i, (_, b) in enumerate(pairs))


@pytest.mark.parametrize("how", ["files", "extends"])
@pytest.mark.parametrize("key", FORMS)
def test_every_pair_of_forms_merges_as_compose_merges_it(tmp_path: Path, key: str,
                                                         how: str) -> None:
    pairs = list(itertools.product(FORMS[key], FORMS[key]))
    first, second = _files(key, pairs, how)
    (tmp_path / "compose.yaml").write_text(first)
    names = ("compose.yaml",)
    if second:
        (tmp_path / "o.yaml").write_text(second)
        names = ("compose.yaml", "o.yaml")
    (tmp_path / "s.txt").write_text("s\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "A": "from-env"}
    theirs = comparable(compose_config(tmp_path, names, env), True)
    project = load_compose([tmp_path / n for n in names], ComposeOptions(environ=env))
    assert [p for p in project.problems if p.severity == "error"] == []
    ours = comparable(project.data, False)
    for i, (a, b) in enumerate(pairs):
        name = f"m{i}"
        assert ours["services"][name] == theirs["services"][name], f"{key}: {a} then {b}"
