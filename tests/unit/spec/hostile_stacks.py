"""Hostile stack input as data: each case must be refused with one exact, located problem
(item by item of issue 11), or, for risky-but-allowed settings, accepted with one exact,
located warning. Reused by the CLI tests (exit 3, the driver never called).

`files` are written next to the stack file (env files); `where` is "FILE:LINE:COL" with
FILE relative to that folder. Images are registry references so that no case needs an
image on disk. The host is taken to have CPUs 0-1 online (tests patch hostfacts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

IMG = "registry.local:5000/acme/app:1"
SECRET = "hunter2-s3cr3t"  # must never appear in any output


@dataclass(frozen=True)
class Hostile:
    id: str
    web: str  # YAML lines of container `web` (indented 4), after `image:`
    where: str  # "FILE:LINE:COL"
    message: str  # the exact message
    files: dict[str, str | bytes] = field(default_factory=dict)
    head: str = ""  # top-level YAML before `containers:`

    def write(self, folder: Path) -> Path:
        for name, content in self.files.items():
            if isinstance(content, bytes):
                (folder / name).write_bytes(content)
            else:
                (folder / name).write_text(content, encoding="utf-8")
        path = folder / "stack.yaml"
        path.write_text(f"version: 1\n{self.head}containers:\n  web:\n    image: {IMG}\n"
                        f"{self.web}", encoding="utf-8")
        return path


def _ctl(path: str, found: str = "a line break") -> str:
    return f"{path} of container `web`: expected text without control characters, found {found}"


_NAME = "`env` of container `web`: expected a variable NAME without `=`, NUL, whitespace or " \
        "control characters; "
_CPUS = "`limits.cpuset` of container `web`: expected CPUs this host has online (0-1); "

# Line 5 is the first line of `web` after `image:`.
REFUSED: list[Hostile] = [
    # 1. env files: the content is never quoted
    Hostile("env-file-line-without-equals", "    env_file: app.env\n", "app.env:2:1",
            "line 2: expected KEY=VALUE", {"app.env": f"OK=1\nroot:{SECRET}:19000:0:::\n"}),
    Hostile("env-file-name-with-space", "    env_file: app.env\n", "app.env:1:1",
            "line 1: expected KEY=VALUE, the variable name contains whitespace or a control "
            "character", {"app.env": f"MY KEY={SECRET}\n"}),
    Hostile("env-file-empty-name", "    env_file: app.env\n", "app.env:1:1",
            "line 1: expected KEY=VALUE, the variable name is empty",
            {"app.env": f"={SECRET}\n"}),
    Hostile("env-file-nul-in-name", "    env_file: app.env\n", "app.env:1:1",
            "line 1: expected KEY=VALUE, the variable name contains a NUL character",
            {"app.env": f"A\0B={SECRET}\n"}),
    Hostile("env-file-nul-in-value", "    env_file: app.env\n", "app.env:1:1",
            "line 1: the value contains a NUL character", {"app.env": f"A={SECRET}\0x\n"}),
    Hostile("env-file-not-utf8", "    env_file: app.env\n", "stack.yaml:5:15",
            "env_file `app.env` is not UTF-8 text; expected a text file of KEY=VALUE lines",
            {"app.env": SECRET.encode() + b"=\xff\xfe\n"}),
    Hostile("env-file-device", "    env_file: /dev/zero\n", "stack.yaml:5:15",
            "env_file `/dev/zero` is not a regular file; expected a text file of KEY=VALUE "
            "lines"),
    Hostile("env-file-many-bad-lines", "    env_file: app.env\n", "app.env:11:1",
            "line 11: 2 more line(s) from here on are not KEY=VALUE either; is this an env "
            "file?", {"app.env": "".join(f"u{i}:{SECRET}:1\n" for i in range(12))}),
    # 2. injection through spec strings
    Hostile("dns-newline", '    dns: ["1.1.1.1\\nnameserver 6.6.6.6"]\n', "stack.yaml:5:11",
            '`dns[0]` of container `web`: expected an IP address like 10.0.0.2, got string '
            '"1.1.1.1\\nnameserver 6.6.6.6"'),
    Hostile("dns-name-not-address", "    dns: [10.0.0.2, dns.google]\n", "stack.yaml:5:21",
            '`dns[1]` of container `web`: expected an IP address like 10.0.0.2, got string '
            '"dns.google"'),
    Hostile("hostname-trailing-newline", '    hostname: "web\\n"\n', "stack.yaml:5:15",
            _ctl("`hostname`")),
    Hostile("mac-trailing-newline", '    mac_address: "02:42:ac:11:00:02\\n"\n',
            "stack.yaml:5:18", _ctl("`mac_address`")),
    Hostile("label-value-newline", '    labels: {team: "a\\nb"}\n', "stack.yaml:5:20",
            _ctl("`labels.team`")),
    Hostile("label-key-nul", '    labels: {"a\\0b": x}\n', "stack.yaml:5:14",
            "invalid key in `labels` of container `web`: it contains a NUL character"),
    Hostile("user-newline", '    user: "0\\nroot"\n', "stack.yaml:5:11", _ctl("`user`")),
    Hostile("workdir-carriage-return", '    workdir: "/app\\r"\n', "stack.yaml:5:14",
            _ctl("`workdir`")),
    Hostile("stop-signal-escape", '    stop_signal: "SIGTERM\\e"\n', "stack.yaml:5:18",
            _ctl("`stop_signal`", "control character U+001B")),
    Hostile("command-nul", '    command: [sh, "-c\\0x"]\n', "stack.yaml:5:19",
            _ctl("`command[1]`", "a NUL character")),
    Hostile("volume-target-newline", '    volumes: ["./:/x\\n"]\n', "stack.yaml:5:15",
            _ctl("`volumes[0]`")),
    Hostile("stack-name-newline", "", "stack.yaml:2:7", _ctl("`name`").replace(
        " of container `web`", ""), head='name: "shop\\n"\n'),
    Hostile("env-name-with-equals", "    env: {\"PATH=/evil:/bin\": x}\n", "stack.yaml:5:11",
            _NAME + "the variable name contains `=`"),
    Hostile("env-name-empty", '    env: {"": x}\n', "stack.yaml:5:11",
            _NAME + "the variable name is empty"),
    Hostile("env-name-nul", '    env: ["A\\0B=1"]\n', "stack.yaml:5:11",
            _NAME + "the variable name contains a NUL character"),
    Hostile("env-value-nul", f'    env: {{TOKEN: "{SECRET}\\0"}}\n', "stack.yaml:5:18",
            "`env` of container `web`: the value of `TOKEN` contains a NUL character"),
    # 2. limits runc would refuse
    Hostile("memory-one-byte", "    limits: {memory: 1}\n", "stack.yaml:5:22",
            "`limits.memory` of container `web`: expected at least 6Mi (6291456 bytes), the "
            "least a container can start with; got 1 bytes"),
    Hostile("memory-5m", "    limits: {memory: 5m}\n", "stack.yaml:5:22",
            "`limits.memory` of container `web`: expected at least 6Mi (6291456 bytes), the "
            "least a container can start with; got 5242880 bytes"),
    Hostile("cpuset-beyond-host", "    limits: {cpuset: 0-999}\n", "stack.yaml:5:22",
            _CPUS + "CPU 2 is not"),
    Hostile("cpuset-single-missing", "    limits: {cpuset: 7}\n", "stack.yaml:5:22",
            _CPUS + "CPU 7 is not"),
    Hostile("cpuset-garbage", "    limits: {cpuset: 'a-b'}\n", "stack.yaml:5:22",
            "`limits.cpuset` of container `web`: expected CPU numbers like 0-3,5, got 'a-b'"),
    Hostile("cpus-above-host", "    limits: {cpus: 3}\n", "stack.yaml:5:20",
            "`limits.cpus` of container `web`: expected at most 2, the CPUs this host has; "
            "got 3"),
    Hostile("nofile-zero", "    limits: {ulimits: {nofile: [0, 0]}}\n", "stack.yaml:5:32",
            "ulimit `nofile`: expected soft and hard limits of at least 1 (a process with no "
            "file descriptors cannot even start); got [0, 0]"),
    Hostile("nofile-soft-zero", "    limits: {ulimits: {nofile: {soft: 0, hard: 10}}}\n",
            "stack.yaml:5:32",
            "ulimit `nofile`: expected soft and hard limits of at least 1 (a process with no "
            "file descriptors cannot even start); got [0, 10]"),
    Hostile("pids-zero", "    limits: {pids: 0}\n", "stack.yaml:5:20",
            "`limits.pids` of container `web`: expected a number >= 1, got 0"),
]

# 4. allowed, with one warning each
WARNED: list[Hostile] = [
    Hostile("bind-root", '    volumes: ["/:/host:ro"]\n', "stack.yaml:5:15",
            "container `web` binds host `/`: the whole host filesystem: the container can "
            "read and change anything on the host"),
    Hostile("bind-etc", "    volumes: [{type: bind, source: /etc, target: /host-etc}]\n",
            "stack.yaml:5:15", "container `web` binds host `/etc`: the host's configuration "
            "(users, passwords, sudoers): writing there takes over the host"),
    *(Hostile(f"bind-{p.strip('/').replace('/', '-')}", f'    volumes: ["{p}:/k"]\n',
              "stack.yaml:5:15", f"container `web` binds host `{p}`: a host kernel "
              "interface: it can change the host kernel or its devices")
      for p in ("/proc", "/sys", "/dev", "/proc/sys/kernel", "/sys/fs/cgroup", "/dev/null")),
    Hostile("cap-all", "    cap_add: [ALL]\n", "stack.yaml:5:15", "container `web` adds ALL: "
            "every capability: the container's root is close to the host's root"),
    Hostile("cap-sys-admin", "    cap_add: [NET_ADMIN, cap_sys_admin]\n", "stack.yaml:5:26",
            "container `web` adds SYS_ADMIN: mount, namespaces and many admin calls: a "
            "common container escape"),
    Hostile("seccomp-unconfined", "    security_opt: ['seccomp=unconfined']\n",
            "stack.yaml:5:20", "container `web` runs without seccomp: every system call "
            "reaches the host kernel"),
]
