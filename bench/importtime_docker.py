"""Where a no-op `reconcile --driver docker apply` spends its import time, from
`python -X importtime` (the interpreter's own report): the docker driver's modules, the
rest of reconcile (CLI, spec, engine, planner), third-party libraries, and the
interpreter's start-up, each the sum of self times of its modules.

    .venv/bin/python bench/importtime_docker.py STATE_DIR STACK.yaml [--repeat 5]

DOCKER_HOST must point at the engine the stack was applied on. Prints JSON: medians in
milliseconds, and the wall time of the whole command for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def group(module: str) -> str:
    if module.startswith("reconciler.drivers.docker"):
        return "docker driver"
    if module.startswith("reconciler"):
        return "reconcile outside the docker driver"
    if module.split(".")[0] in ("docker", "requests", "urllib3", "charset_normalizer", "idna",
                                "certifi"):
        return "docker SDK and requests"
    if module.split(".")[0] in ("yaml", "jsonschema", "referencing", "rpds", "attr", "attrs",
                                "jsonschema_specifications", "structlog"):
        return "other third-party (yaml, jsonschema, structlog)"
    return "python standard library and start-up"


def one(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, dict[str, float]]:
    """(wall seconds, milliseconds of import self time per group) of `python -X importtime
    CMD...`."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-X", "importtime", *cmd], capture_output=True,
                          text=True, check=True, env=env or os.environ)
    wall = time.perf_counter() - began
    groups: dict[str, float] = {}
    for line in done.stderr.splitlines():  # "import time: self [us] | cumulative | name"
        if not line.startswith("import time:"):
            continue
        self_us, _, name = line.split(":", 1)[1].split("|")
        if not self_us.strip().isdigit():
            continue  # the header line
        key = group(name.strip())
        groups[key] = groups.get(key, 0.0) + int(self_us) / 1000
    return wall, groups


def outside_driver_ms(groups: dict[str, float]) -> float:
    """Import time that is not the docker driver's own (nor the SDK's, which it avoids)."""
    return sum(v for g, v in groups.items()
               if g not in ("docker driver", "docker SDK and requests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state_dir")
    parser.add_argument("stack")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cmd = ["-m", "reconciler.cli", "--state-dir", args.state_dir, "--driver", "docker",
           "apply", args.stack]
    runs = [one(cmd) for _ in range(args.repeat)]
    names = sorted({g for _, groups in runs for g in groups})
    imports = {g: round(statistics.median(r[1].get(g, 0.0) for r in runs), 1) for g in names}
    doc = {"wall_ms": round(statistics.median(w for w, _ in runs) * 1000, 1),
           "imports_ms": imports, "imports_total_ms": round(sum(imports.values()), 1)}
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
