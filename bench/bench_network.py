"""Time to create and remove the networking of N containers (one stack, one published
port each): reconcile's NetworkManager (netns, veth, bridge, leases, nft rules), with no
container processes, so only networking is measured.

Run as root: .venv/bin/python bench/bench_network.py [--n 50] [--repeat 3]

The Docker peer (docker-compose with a bridge network and published ports) is NOT
implemented yet: it needs dockerd with its iptables on, which leaves DOCKER chains in the
host's ip tables after it stops; the result records it as not run with that reason.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.drivers.native.network.manager import NetworkManager
from reconciler.model import ContainerSpec, ImageSource, PortMapping

BASE_PORT = 42000


def _specs(n: int) -> list[ContainerSpec]:
    image = ImageSource(key="none", kind="oci", identity="none")
    return [
        ContainerSpec(stack="benchnet", key=f"c{i}", name=f"benchnet-c{i}", replica=1,
                      image=image, ports=(PortMapping(BASE_PORT + i, 80),))
        for i in range(n)
    ]  # fmt: skip


def one_round(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="reconcile-benchnet-") as tmp:
        state = Path(tmp)
        containers = state / "containers"
        manager = NetworkManager(state, containers)
        specs = _specs(n)
        for spec in specs:  # setup counts a container as a member once its dir exists
            (containers / spec.name).mkdir(parents=True)
        began = time.perf_counter()
        for spec in specs:
            manager.setup(spec)
        created = time.perf_counter() - began
        began = time.perf_counter()
        for spec in reversed(specs):
            (containers / spec.name).rmdir()
            manager.teardown(spec.name)
        removed = time.perf_counter() - began
    return created, removed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rounds = [one_round(args.n) for _ in range(args.repeat)]
    report = {
        "n": args.n,
        "reconcile_create_s": statistics.median(r[0] for r in rounds),
        "reconcile_remove_s": statistics.median(r[1] for r in rounds),
        "samples": rounds,
        "docker_compose": {"not_run": "peer not implemented yet (see module docstring)"},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
