"""Dockerfile builds: `reconcile images build` vs `docker build` (the legacy builder,
DOCKER_BUILDKIT=0: what Debian 12's docker.io runs without buildx) on the same Dockerfile
and context, in the same run.

    build.cold      every step runs (--no-cache on both)
    build.nochange  a rebuild with nothing changed (every step from the cache)
    build.onefile   one source file changed: its COPY and the steps after it run again

N is the number of files in the context. Both build FROM the same busybox image (loaded
into dockerd, stored under `busybox:latest` in reconcile's store), RUN with no network.
`--cases nochange` times only the rebuild (after one untimed build per tool);
`--baseline CHECKOUT` also times another tree's reconcile in the same rounds (before/after).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.common import DOCKER, RECONCILE, Result

DOCKERFILE = """\
FROM busybox
WORKDIR /app
COPY deps.txt ./
RUN mkdir -p /opt/deps && while read -r dep; do echo "$dep" > "/opt/deps/$dep"; done < deps.txt
COPY src/ ./src/
RUN find src -type f | sort | xargs cat | md5sum > /app/build.sum
ENV MODE=prod
USER nobody
CMD ["cat", "/app/build.sum"]
"""
Samples = dict[tuple[str, int, str], list[float]]
TOOLS = {"reconcile": "reconcile-images-build", "docker": "docker-build-legacy",
         "baseline": "reconcile-images-build-baseline"}


def make_context(folder: Path, files: int) -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "deps.txt").write_text("".join(f"dep{i}\n" for i in range(20)))
    (folder / ".dockerignore").write_text("*.tmp\n")
    for index in range(files):
        sub = folder / "src" / f"pkg{index % 10}"
        sub.mkdir(exist_ok=True)
        (sub / f"mod{index}.py").write_text(f"# module {index}\n" + "x = 1\n" * 200)
    return folder


def _store_busybox(state: Path, image: Path) -> None:
    """busybox into reconcile's store under the reference the Dockerfile names (untimed)."""
    from reconciler.drivers.native.driver import NativeDriver
    from reconciler.model.desired import ImageSource

    driver = NativeDriver(state)
    driver.layout.make_dirs()
    driver.images.ensure(ImageSource(key="busybox", kind="oci", path=str(image),
                                     identity="ref:docker.io/library/busybox:latest"))  # fmt: skip


def _commands(state: Path, context: Path) -> dict[str, list[str]]:
    def ours(folder: Path) -> list[str]:
        return [RECONCILE, "--state-dir", str(folder), "images", "build", "-t", "bench/app:1",
                str(context)]  # fmt: skip

    return {
        "reconcile": ours(state),
        "baseline": ours(state.with_name("state-baseline")),
        "docker": [DOCKER, "build", "--network", "none", "-t", "bench/app:1", str(context)],
    }  # fmt: skip


CASES = ("cold", "nochange", "onefile")


def _rounds(commands: dict[str, list[str]], envs: dict[str, dict[str, str]], files: int,
            repeat: int, cases: tuple[str, ...], changed: Path) -> Samples:  # fmt: skip
    """`repeat` rounds, each running the cases asked for with every tool in turn (paired).
    A first untimed build per tool makes a no-change case meaningful when cold is not run."""
    samples: Samples = {}
    if "cold" not in cases:
        for tool, env in envs.items():
            common.run(commands[tool], env=env)
    for round_ in range(repeat):
        for tool, env in envs.items():
            name = TOOLS[tool]
            if "cold" in cases:
                cold = [*commands[tool][:-1], "--no-cache", commands[tool][-1]]
                samples.setdefault(("build.cold", files, name), []).append(
                    common.timed(cold, env=env))
            if "nochange" in cases:
                samples.setdefault(("build.nochange", files, name), []).append(
                    common.timed(commands[tool], env=env))
            if "onefile" in cases:
                changed.write_text(f"# changed {round_} {tool}\n")
                samples.setdefault(("build.onefile", files, name), []).append(
                    common.timed(commands[tool], env=env))
    return samples


def measure(files: int, repeat: int, work: Path, host: str | None,
            why_not: str | None, cases: tuple[str, ...] = CASES,
            baseline: Path | None = None) -> list[Result]:  # fmt: skip
    """`baseline`: another checkout of reconcile (its PYTHONPATH, compiled, its own state
    dir), timed in the same rounds: a before/after in one run."""
    image = common.make_image(work / "busybox")
    context = make_context(work / "ctx", files)
    state = work / "state"
    _store_busybox(state, image)
    # An installed reconcile has its bytecode (pip compiles at install); a checkout run with
    # PYTHONDONTWRITEBYTECODE=1 would compile every module it imports at each start (~57 ms).
    common.run([sys.executable, "-m", "compileall", "-q", str(common.ROOT / "reconciler")],
               env=common.bytecode_env())
    envs: dict[str, dict[str, str]] = {"reconcile": common.bytecode_env()}
    if baseline is not None:
        common.run([sys.executable, "-m", "compileall", "-q", str(baseline / "reconciler")],
                   env=common.bytecode_env())
        _store_busybox(state.with_name("state-baseline"), image)
        envs["baseline"] = {**common.bytecode_env(), "PYTHONPATH": str(baseline)}
    if host is not None:
        envs["docker"] = {**os.environ, "DOCKER_HOST": host, "DOCKER_BUILDKIT": "0"}
        archive = common.docker_archive(image, work / "busybox-docker.tar", "busybox:latest")
        common.run([DOCKER, "load", "-i", str(archive)], env=envs["docker"])
    changed = context / "src" / "pkg0" / "mod0.py"
    samples = _rounds(_commands(state, context), envs, files, repeat, cases, changed)
    rows = common.collect(samples)
    if host is None:
        rows += [common.not_run(f"build.{case}", files, TOOLS["docker"], why_not or "no dockerd")
                 for case in cases]  # fmt: skip
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated, of {', '.join(CASES)} (default: all)")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="also time the reconcile of this checkout (before/after)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cases = tuple(case for case in CASES if case in args.cases.split(","))
    common.require_root()
    with common.docker_engine() as (docker_host, missing), common.workdir() as folder:
        found = measure(args.files, args.repeat, folder, docker_host, missing, cases,
                        args.baseline)
    for row in found:
        print(common.describe(row))
    if args.out:
        common.write_json(args.out, found)
