"""`images: {app: {dockerfile: ...}}` in a stack: the normalized source, its identity
(what changes it and what does not) and the located problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model.errors import SpecError
from reconciler.spec.stacks import load_stacks

STACK = """\
version: 1
images:
  base: {ref: "busybox:1.36"}
  app: {dockerfile: ./app/Dockerfile, context: ./app, args: {WHO: you, N: 3}, target: final}
containers:
  web: {image: app}
"""
DOCKERFILE = "FROM base AS build\nRUN echo hi\nFROM busybox AS final\nCOPY --from=build /x /x\n"


def _write(tmp_path: Path, stack: str = STACK, dockerfile: str = DOCKERFILE) -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "Dockerfile").write_text(dockerfile)
    (tmp_path / "app" / "main.sh").write_text("echo main\n")
    (tmp_path / "app" / ".dockerignore").write_text("*.tmp\n")
    path = tmp_path / "s.yaml"
    path.write_text(stack)
    return path


def _identity(path: Path) -> str:
    (stack,) = load_stacks([path]).stacks
    (web,) = stack.containers
    return web.image.identity


def test_normalized_source(tmp_path: Path) -> None:
    path = _write(tmp_path)
    (stack,) = load_stacks([path]).stacks
    image = stack.containers[0].image
    assert image.kind == "dockerfile" and image.identity.startswith("dockerfile:sha256:")
    assert image.dockerfile is not None
    assert image.dockerfile.dockerfile == str(tmp_path / "app" / "Dockerfile")
    assert image.dockerfile.context == str(tmp_path / "app")
    assert image.dockerfile.args == (("N", "3"), ("WHO", "you"))
    assert image.dockerfile.target == "final" and image.dockerfile.network is False
    assert [b.key for b in image.bases] == ["base"]  # FROM a stack image key


def test_identity_follows_the_inputs_the_build_sees(tmp_path: Path) -> None:
    path = _write(tmp_path)
    first = _identity(path)
    assert _identity(path) == first
    (tmp_path / "app" / "scratch.tmp").write_text("ignored by .dockerignore")
    assert _identity(path) == first
    (tmp_path / "app" / "main.sh").write_text("echo changed\n")
    changed = _identity(path)
    assert changed != first
    path.write_text(STACK.replace("WHO: you", "WHO: me"))
    assert _identity(path) != changed
    path.write_text(STACK.replace('"busybox:1.36"', '"busybox:1.37"'))  # a base's identity
    assert _identity(path) not in (first, changed)


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as raised:
        load_stacks([path])
    return [f"{p.line}:{p.column} {p.message}" for p in raised.value.problems]


def test_located_problems(tmp_path: Path) -> None:
    path = _write(tmp_path, dockerfile="FROM base\nFRUM x\n")
    assert any(p.startswith("4:") and "Dockerfile:2: unknown instruction 'FRUM'" in p
               for p in _problems(path))
    path = _write(tmp_path, STACK.replace("./app/Dockerfile", "./app/Nope"))
    assert any("Dockerfile `./app/Nope` not found" in p for p in _problems(path))
    path = _write(tmp_path, STACK.replace("base: {ref: \"busybox:1.36\"}",
                                          "base: {ref: \"busybox:1\", target: x}"))
    assert any("`target` only applies to `dockerfile` images" in p for p in _problems(path))
    both = STACK.replace("args: {WHO: you, N: 3}, ", "ref: x, ")
    assert any("exactly one" in p or "only one" in p for p in _problems(_write(tmp_path, both)))


def test_dockerfile_cycle_is_refused(tmp_path: Path) -> None:
    stack = ("version: 1\nimages:\n  a: {dockerfile: ./a/Dockerfile}\n"
             "  b: {dockerfile: ./b/Dockerfile}\ncontainers:\n  web: {image: a}\n")
    for name, base in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(f"FROM {base}\n")
    path = tmp_path / "s.yaml"
    path.write_text(stack)
    assert any("image build cycle" in p for p in _problems(path))
