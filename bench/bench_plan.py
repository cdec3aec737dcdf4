"""How plan() scales: 1,000 and 10,000 containers, against a peer measured in the same run.

The peer is `hashing.hashed_fields` over the same containers: the least per-container work
any planner that explains its replacements must do. The planner should stay a small
multiple of it, and grow linearly (10x containers ~ 10x time; quadratic would be ~100x).
Target: plan() on 1,000 containers under 50 ms.

Run: .venv/bin/python bench/bench_plan.py [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial

from reconciler.model import hashing, labels
from reconciler.model.desired import (
    ContainerSpec,
    Dependency,
    Desired,
    DesiredStack,
    ImageSource,
    Mount,
    PortMapping,
    VolumeSpec,
)
from reconciler.model.observed import Observed, ObservedContainer
from reconciler.planner.plan import PlanOptions, plan

STACK_SIZE = 50  # containers per stack; each depends on the one before it
TARGET_MS = 50.0


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _spec(stack: str, n: int, image: ImageSource) -> ContainerSpec:
    spec = ContainerSpec(
        stack=stack,
        key=f"svc{n}",
        name=f"{stack}-svc{n}",
        replica=1,
        image=image,
        env=(("INDEX", str(n)), ("TZ", "UTC")),
        ports=(PortMapping(10_000 + n, 80),),
        mounts=(Mount("volume", "/data", "data"),),
        depends_on=(Dependency(f"svc{n - 1}"),) if n else (),
    )
    return replace(spec, config_hash=hashing.config_hash(spec))


def _observed(spec: ContainerSpec, digest: str) -> ObservedContainer:
    return ObservedContainer(
        name=spec.name,
        stack=spec.stack,
        key=spec.key,
        labels=labels.ownership_labels(spec, digest),
        config_hash=spec.config_hash,
        image_digest=digest,
        state="running",
        recorded_spec=hashing.hashed_fields(spec),
    )


def world(count: int) -> tuple[Desired, Observed]:
    """`count` containers: most unchanged, every 10th changed, every 25th missing, plus
    an orphan per stack, so that every branch of the planner runs."""
    stacks, seen = [], []
    images = {}
    for s in range(max(1, count // STACK_SIZE)):
        name = f"stack{s}"
        image = ImageSource(f"img{s % 7}", "ref", f"registry.local/img{s % 7}:1", ref="x")
        images[image.identity] = _digest(image.identity)
        specs = [_spec(name, n, image) for n in range(STACK_SIZE)]
        for spec in specs:
            if spec.key.endswith("5") and len(spec.key) > 4:
                continue  # missing: to create
            old = spec if not spec.key.endswith("0") else replace(spec, env=(("TZ", "CET"),))
            seen.append(
                _observed(
                    replace(old, config_hash=hashing.config_hash(old)), images[image.identity]
                )
            )
        seen.append(_observed(_spec(name, STACK_SIZE, image), images[image.identity]))
        stacks.append(
            DesiredStack(
                name, f"/srv/{name}.yaml", (image,), (VolumeSpec(name, "data"),), tuple(specs)
            )
        )
    volumes = frozenset(f"stack{s}-data" for s in range(len(stacks)))
    return Desired(tuple(stacks)), Observed(tuple(seen), images, volumes)


def _hash_all(specs: tuple[ContainerSpec, ...]) -> list[dict[str, object]]:
    return [hashing.hashed_fields(c) for c in specs]


def best_ms(work: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()  # collector pauses depend on heap size, not on the code measured
        try:
            began = time.perf_counter()
            work()
            times.append((time.perf_counter() - began) * 1000)
        finally:
            gc.enable()
    return min(times) if repeat < 5 else statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[int, float] = {}
    peers: dict[int, float] = {}
    options = PlanOptions(prune=True)
    print(f"{'containers':>10} {'plan ms':>9} {'peer ms':>9} {'ratio':>6} {'actions':>8}")
    for count in (1_000, 10_000):
        desired, observed = world(count)
        specs = desired.containers()
        plan_ms = best_ms(partial(plan, desired, observed, options), args.repeat)
        peer_ms = best_ms(partial(_hash_all, specs), args.repeat)
        actions = len(plan(desired, observed, options).actions)
        results[count] = plan_ms
        peers[count] = peer_ms
        print(f"{count:>10} {plan_ms:>9.1f} {peer_ms:>9.1f} {plan_ms / peer_ms:>6.1f} {actions:>8}")
    growth = results[10_000] / results[1_000]
    peer_growth = peers[10_000] / peers[1_000]
    print(f"growth 1k -> 10k: x{growth:.1f}, peer x{peer_growth:.1f} (linear x10, quadratic x100)")
    verdict = "ok" if results[1_000] < TARGET_MS else "OVER TARGET"
    print(f"1,000 containers: {results[1_000]:.1f} ms (target < {TARGET_MS:.0f} ms): {verdict}")


if __name__ == "__main__":
    main()
