"""A native stack whose container gets an age-encrypted env file (DB_PASSWORD=<secret>) and
an encrypted `secrets:` file (file-<secret>), for the tests that follow the clear values."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyrage

from tests.integration.native_helpers import REPO


@dataclass(frozen=True)
class SecretStack:
    path: Path  # the stack file
    name: str  # the stack's name
    key: str  # the age identity that decrypts both files (RECONCILE_AGE_KEY)


def write_secret_stack(folder: Path, secret: str, *, prefix: str, command: str,
                       extra: str = "") -> SecretStack:
    """Build the busybox image, encrypt both files to a fresh key, write the stack of one
    container `db` running `command` (a YAML flow list) with `extra` lines of its own."""
    image = folder / "busybox"
    subprocess.run([sys.executable, str(REPO / "scripts/make-busybox-image.py"), str(image)],
                   check=True, capture_output=True)
    key = pyrage.x25519.Identity.generate()
    (folder / "db.env.age").write_bytes(
        pyrage.encrypt(f"DB_PASSWORD={secret}\n".encode(), [key.to_public()]))
    (folder / "tls.key.age").write_bytes(
        pyrage.encrypt(f"file-{secret}".encode(), [key.to_public()]))
    name = f"{prefix}-{os.getpid() % 10000}-{random.randrange(10**6)}"
    stack = folder / "stack.yaml"
    stack.write_text(f"version: 1\nname: {name}\nimages:\n  bb: {{oci: {image}}}\n"
                     "containers:\n  db:\n    image: bb\n    env_file: ./db.env.age\n"
                     f"    secrets: [./tls.key.age]\n{extra}"
                     f"    command: {command}\n    stop_signal: SIGKILL\n")
    return SecretStack(stack, name, str(key))
