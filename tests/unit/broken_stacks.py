"""Broken stack files as data: each must be refused with one located, readable problem.

Reused by the CLI tests (exit code 3, driver never called):

    from tests.unit.broken_stacks import CASES
    for case in CASES: case.write(tmp_path) -> path of the stack file

`location` is "LINE:COL" (1-based) of the problem, or None for a problem about the whole
file. Images are registry references so that no case needs files on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMG = "registry.local:5000/acme/app:1"


@dataclass(frozen=True)
class BrokenStack:
    id: str
    content: str | bytes
    location: str | None  # "LINE:COL", None: the whole file
    message: str  # a substring of the problem's message
    file_name: str = "stack.yaml"

    def write(self, folder: Path) -> Path:
        path = folder / self.file_name
        if isinstance(self.content, bytes):
            path.write_bytes(self.content)
        else:
            path.write_text(self.content, encoding="utf-8")
        return path


def _stack(containers: str, head: str = "") -> str:
    """version + optional top-level text + containers: (indented two spaces by caller)."""
    return f"version: 1\n{head}containers:\n{containers}"


_BOMB = "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)

CASES: list[BrokenStack] = [
    BrokenStack(
        "typo-key-did-you-mean",
        _stack(f"  web:\n    image: {IMG}\n    restrat: always\n"),
        "5:5",
        "unknown key `restrat` in container `web`; did you mean `restart`?",
    ),
    BrokenStack(
        "unknown-top-level-key",
        _stack(f"  web:\n    image: {IMG}\n", head="containerz: {}\n"),
        "2:1",
        "unknown key `containerz` in the top level; did you mean `containers`?",
    ),
    BrokenStack(
        "wrong-type-replicas",
        _stack(f"  web:\n    image: {IMG}\n    replicas: abc\n"),
        "5:15",
        'expected an integer, got string "abc"',
    ),
    BrokenStack(
        "wrong-type-containers-list",
        "version: 1\ncontainers: [web]\n",
        "2:13",
        "expected a mapping, got a list",
    ),
    BrokenStack(
        "version-2",
        _stack(f"  web:\n    image: {IMG}\n").replace("version: 1", "version: 2"),
        "1:10",
        "unsupported spec version 2",
    ),
    BrokenStack(
        "missing-image",
        _stack("  web:\n    command: [sleep, '1']\n"),
        "4:5",
        "missing required key `image` in container `web`",
    ),
    BrokenStack(
        "bad-port-three-parts",
        _stack(f"  web:\n    image: {IMG}\n    ports: ['80:80:80']\n"),
        "5:13",
        'invalid port "80:80:80"',
    ),
    BrokenStack(
        "port-out-of-range",
        _stack(f"  web:\n    image: {IMG}\n    ports: ['70000:80']\n"),
        "5:13",
        "outside 1-65535",
    ),
    BrokenStack(
        "negative-memory",
        _stack(f"  web:\n    image: {IMG}\n    limits: {{memory: -1}}\n"),
        "5:22",
        "expected a number >= 0, got -1",
    ),
    BrokenStack(
        "bad-size",
        _stack(f"  web:\n    image: {IMG}\n    limits: {{memory: 12 parsecs}}\n"),
        "5:22",
        'expected a size like 512m, 256Mi, 1g or a number of bytes, got string "12 parsecs"',
    ),
    BrokenStack(
        "bad-duration",
        _stack(f"  web:\n    image: {IMG}\n    stop_grace_period: 10 minutes\n"),
        "5:24",
        "expected a duration like 100ms",
    ),
    BrokenStack(
        "memory-swap-below-memory",
        _stack(f"  web:\n    image: {IMG}\n    limits: {{memory: 1g, memory_swap: 512m}}\n"),
        "5:39",
        "`memory_swap` (536870912 bytes) is less than `memory`",
    ),
    BrokenStack(
        "dependency-cycle",
        _stack(
            f"  api:\n    image: {IMG}\n    depends_on: [web]\n"
            f"  web:\n    image: {IMG}\n    depends_on: [api]\n"
        ),
        "5:17",
        "dependency cycle: api -> web -> api",
    ),
    BrokenStack(
        "depends-on-unknown",
        _stack(f"  web:\n    image: {IMG}\n    depends_on: {{db: healthy}}\n"),
        "5:22",
        "depends on unknown container `db`",
    ),
    BrokenStack(
        "depends-on-healthy-without-healthcheck",
        _stack(
            f"  web:\n    image: {IMG}\n    depends_on: {{db: healthy}}\n"
            f"  db:\n    image: {IMG}\n"
        ),
        "5:22",
        "waits for `db` to be healthy, but `db` has no healthcheck",
    ),
    BrokenStack(
        "start-first-with-ports",
        _stack(f"  web:\n    image: {IMG}\n    ports: ['8080:80']\n"
               "    update: {order: start-first}\n"),
        "6:21",
        "publishes host ports and wants `start-first`",
    ),
    BrokenStack(
        "duplicate-key",
        _stack(f"  web:\n    image: {IMG}\n    image: {IMG}\n"),
        "5:5",
        "duplicate key `image` (first defined at line 4)",
    ),
    BrokenStack(
        "tab-indentation",
        "version: 1\ncontainers:\n\tweb:\n",
        "3:1",
        "tab",
    ),
    BrokenStack(
        "unclosed-bracket",
        _stack(f"  web:\n    image: {IMG}\n    ports: ['80:80'\n"),
        "6:1",
        "YAML syntax",
    ),
    BrokenStack(
        "empty-file",
        "# nothing here\n",
        None,
        "expected a mapping with `version` and `containers`",
    ),
    BrokenStack(
        "binary-file", b"\x7fELF\x02\x01\x01\x00\x00\xff\xfe", None, "not a UTF-8 text file"
    ),
    BrokenStack(
        "ten-megabytes",
        b"#" * (10 * 1024 * 1024),
        None,
        "file is 10.0 MiB; stack files are limited to 1 MiB",
    ),
    BrokenStack("yaml-bomb", _BOMB, None, "refusing to load it"),
    BrokenStack(
        "python-tag",
        _stack(f"  web:\n    image: {IMG}\n    hostname: !!python/object:os.system ls\n"),
        "5:15",
        "unsupported YAML tag",
    ),
    BrokenStack(
        "unknown-image-key",
        _stack("  web:\n    image: bsybox\n", head="images:\n  busybox: {ref: 'busybox:1'}\n"),
        "6:12",
        "unknown image `bsybox` in container `web`: not a key of `images`; did you mean `busybox`?",
    ),
    BrokenStack(
        "unknown-volume",
        _stack(
            f"  web:\n    image: {IMG}\n    volumes: ['dta:/data']\n",
            head="volumes:\n  data: {}\n",
        ),
        "7:15",
        "unknown volume `dta` in container `web`; declare it under `volumes:`; "
        "did you mean `data`?",
    ),
    BrokenStack(
        "port-clash",
        _stack(
            f"  a:\n    image: {IMG}\n    ports: ['8080:80']\n"
            f"  b:\n    image: {IMG}\n    ports: [{{host: 8080, container: 81}}]\n"
        ),
        "8:13",
        "host port 8080/tcp of `stack/b` is already published by `stack/a`",
    ),
    BrokenStack(
        "ulimit-soft-above-hard",
        _stack(f"  web:\n    image: {IMG}\n    limits: {{ulimits: {{nofile: [4096, 1024]}}}}\n"),
        "5:32",
        "soft limit 4096 is above the hard limit 1024",
    ),
    BrokenStack(
        "ulimit-above-host",
        _stack(
            f"  web:\n    image: {IMG}\n    limits:\n"
            "      ulimits: {nofile: {soft: 1024, hard: 1048576}}\n"
        ),
        "6:25",
        "hard limit 1048576 is above the host's hard limit",
    ),
    BrokenStack(
        "ulimit-unknown-name",
        _stack(f"  web:\n    image: {IMG}\n    limits: {{ulimits: {{nofiles: 10}}}}\n"),
        "5:24",
        "unknown name `nofiles` in `limits.ulimits` of container `web`; did you mean `nofile`?",
    ),
    BrokenStack(
        "env-file-missing",
        _stack(f"  web:\n    image: {IMG}\n    env_file: ./missing.env\n"),
        "5:15",
        "env_file `./missing.env` not found",
    ),
    BrokenStack(
        "bind-source-missing",
        _stack(f"  web:\n    image: {IMG}\n    volumes: ['./no-such-dir:/data:ro']\n"),
        "5:15",
        "bind mount source `./no-such-dir` not found",
    ),
    BrokenStack(
        "replicas-with-host-port",
        _stack(f"  web:\n    image: {IMG}\n    ports: ['8080:80']\n    replicas: 3\n"),
        "6:15",
        "has 3 replicas and a fixed host port",
    ),
    BrokenStack(  # YAML 1.1's `yes` is no boolean here, as in Compose
        "init-not-a-boolean",
        _stack(f"  web:\n    image: {IMG}\n    init: yes\n"),
        "5:11",
        'expected a boolean (true or false), got string "yes"',
    ),
    BrokenStack(
        "bad-restart-string",
        _stack(f"  web:\n    image: {IMG}\n    restart: sometimes\n"),
        "5:14",
        'got string "sometimes"',
    ),
    BrokenStack(
        "bad-digest",
        _stack("  web:\n    image: busybox@sha256:ABC\n"),
        "4:12",
        'invalid digest "sha256:ABC"',
    ),
    BrokenStack(
        "uppercase-reference",
        _stack("  web:\n    image: registry.local/Acme/web:1\n"),
        "4:12",
        "repository names must be lowercase",
    ),
    BrokenStack(
        "two-healthcheck-kinds",
        _stack(f"  web:\n    image: {IMG}\n    healthcheck: {{exec: [ok], tcp: {{port: 80}}}}\n"),
        "5:18",
        "needs exactly one of `exec`, `http`, `tcp`; found `exec` and `tcp`",
    ),
    BrokenStack(
        "image-two-sources",
        _stack("  web:\n    image: app\n", head="images:\n  app: {oci: ./x, ref: 'a:1'}\n"),
        "3:8",
        "needs exactly one of `oci`, `archive`, `ref`, `build`",
    ),
    BrokenStack(
        "oci-layout-missing",
        _stack("  web:\n    image: app\n", head="images:\n  app: {oci: ./images/none}\n"),
        "3:14",
        "OCI image layout `./images/none` not found",
    ),
    BrokenStack(
        "build-from-unknown",
        _stack("  web:\n    image: app\n", head="images:\n  app: {build: {from: bsybox}}\n"),
        "3:23",
        "unknown base image `bsybox`",
    ),
    BrokenStack(
        "bad-stop-signal",
        _stack(f"  web:\n    image: {IMG}\n    stop_signal: SIGNOPE\n"),
        "5:18",
        'unknown signal "SIGNOPE"',
    ),
    BrokenStack(
        "bad-enum-network",
        _stack(f"  web:\n    image: {IMG}\n    network: hots\n"),
        "5:14",
        'expected one of `private`, `host`, `none`, got string "hots"; did you mean `host`?',
    ),
    BrokenStack(
        "command-wrong-type",
        _stack(f"  web:\n    image: {IMG}\n    command: 5\n"),
        "5:14",
        "expected a string or a list, got integer 5",
    ),
    BrokenStack(
        "ports-with-network-none",
        _stack(f"  web:\n    image: {IMG}\n    network: none\n    ports: ['8080:80']\n"),
        "6:12",
        "publishes ports but has `network: none`",
    ),
    BrokenStack(
        "ports-with-network-host",
        _stack(f"  web:\n    image: {IMG}\n    network: host\n    ports: ['8080:80']\n"),
        "6:12",
        "ports are the host's already",
    ),
]
