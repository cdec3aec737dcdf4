"""`python -m tests.ci_host ARGS...`: the reconcile CLI against an in-memory host that
persists between processes in a file, so that a CI pipeline's separate commands (plan in
one step, apply --plan in the next) can be run as written (tests/unit/gitops/
test_ci_examples.py). RECONCILE_FAKE_HOST names the file, RECONCILE_FAKE_STATE the state
dir. Test code only: the host is a pickle this test suite wrote itself.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

from reconciler.cli.main import main
from tests.fakes import InMemoryDriver


def run(argv: list[str]) -> int:
    host = Path(os.environ["RECONCILE_FAKE_HOST"])
    driver = InMemoryDriver()
    if host.exists():
        driver.containers, driver.images, driver.volumes = pickle.loads(host.read_bytes())
    try:
        return main(["--state-dir", os.environ["RECONCILE_FAKE_STATE"], *argv], driver=driver)
    finally:
        host.write_bytes(pickle.dumps((driver.containers, driver.images, driver.volumes)))


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
