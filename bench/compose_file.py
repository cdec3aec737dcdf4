"""A realistic Compose file of N services for bench/suite_compose.py: the keys real projects
use, varied from service to service so that no two containers are alike (image, command,
environment in both forms, ports, named and bind volumes, depends_on in both forms,
healthcheck, labels, deploy limits, restart, user), with YAML anchors and `<<` merges, and
`extends` for every fifth service. Deterministic: the same N gives the same text."""

from __future__ import annotations

from pathlib import Path

HEADER = """\
name: bench
x-common: &common
  restart: unless-stopped
  stop_signal: SIGKILL
  stop_grace_period: 0s
  labels: &common-labels
    com.example.team: platform
    com.example.tier: backend
x-health: &health
  interval: 30s
  timeout: 5s
  retries: 3
  start_period: 10s
services:
  base:
    <<: *common
    image: busybox:1.36
    command: [sleep, "3600"]
    environment:
      LOG_LEVEL: info
      TZ: UTC
"""
IMAGES = ("busybox:1.36", "alpine:3.19", "nginx:1.25-alpine", "redis:7.2-alpine",
          "postgres:16-alpine", "python:3.12-slim")


def _environment(i: int) -> list[str]:
    if i % 2:
        return ["    environment:", f"      SERVICE_INDEX: \"{i}\"",
                f"      DATABASE_URL: postgres://app:${{DB_PASSWORD:-secret}}@db{i % 7}:5432/app",
                f"      CACHE_TTL: \"{60 + i}\"", "      FEATURE_FLAGS: a,b,c"]
    return ["    environment:", f"      - SERVICE_INDEX={i}", f"      - WORKERS={1 + i % 4}",
            "      - HOME_DIR=${HOME:-/root}", "      - GREETING=hello world"]


def _ports(i: int) -> list[str]:
    if i % 3 == 0:
        return []
    if i % 3 == 1:
        return ["    ports:", f"      - \"{20000 + i}:80\"",
                f"      - \"127.0.0.1:{30000 + i}:443/tcp\""]
    return ["    ports:", "      - target: 8080", f"        published: \"{40000 + i}\"",
            "        protocol: tcp"]


def _volumes(i: int) -> list[str]:
    lines = ["    volumes:", f"      - data{i % 10}:/var/lib/app{i % 3}"]
    if i % 4 == 0:
        lines.append(f"      - ./conf/svc{i}:/etc/app:ro")
    if i % 5 == 1:
        lines += ["      - type: volume", f"        source: cache{i % 5}", "        target: /cache"]
    return lines


def _depends_on(i: int) -> list[str]:
    """On the group's first service (every tenth; it has a healthcheck) and, for even ones,
    on the one before: a shallow graph, as in real projects (Compose v2's `config` walks
    every path of the graph, so a deep one takes it minutes)."""
    leader = i - i % 10
    if leader < 10 or leader == i:
        return []
    if i % 2:
        return ["    depends_on:", f"      - svc{leader}"]
    lines = ["    depends_on:", f"      svc{leader}:", "        condition: service_healthy"]
    if i - 1 > leader:
        lines += [f"      svc{i - 1}:", "        condition: service_started"]
    return lines


def _healthcheck(i: int) -> list[str]:
    if i % 2:
        return []
    return ["    healthcheck:", "      <<: *health",
            f"      test: [\"CMD-SHELL\", \"wget -q -O- http://localhost:{8000 + i}/health\"]"]


def _deploy(i: int) -> list[str]:
    if i % 3 == 2:
        return []
    return ["    deploy:", "      resources:", "        limits:",
            f"          cpus: \"{0.25 * (1 + i % 4)}\"", f"          memory: {64 * (1 + i % 8)}M",
            f"          pids: {100 + i}"]


def service(i: int) -> list[str]:
    lines = [f"  svc{i}:"]
    if i % 5 == 0:
        lines += ["    extends: base", f"    hostname: svc{i}"]
    else:
        lines += ["    <<: *common", f"    image: {IMAGES[i % len(IMAGES)]}",
                  f"    command: [\"sleep\", \"{3600 + i}\"]"]
    lines += ["    labels:", "      <<: *common-labels", f"      com.example.service: svc{i}",
              f"      com.example.index: \"{i}\""]
    if i % 7 == 0:
        lines += ["    user: \"1000:1000\"", "    working_dir: /srv"]
    for part in (_environment, _ports, _volumes, _depends_on, _healthcheck, _deploy):
        lines += part(i)
    return lines


def text(n: int) -> str:
    """N services (plus the `base` they may extend)."""
    body = [HEADER.rstrip("\n")]
    for i in range(1, n):
        body += service(i)
    body.append("volumes:")
    body += [f"  data{k}: {{}}" for k in range(10)]
    body += [f"  cache{k}: {{}}" for k in range(5)]
    return "\n".join(body) + "\n"


def write(folder: Path, n: int) -> Path:
    """compose.yaml of N services in FOLDER, and the bind-mount sources it names."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(4, n, 4):
        (folder / "conf" / f"svc{i}").mkdir(parents=True, exist_ok=True)
    path = folder / "compose.yaml"
    path.write_text(text(n))
    return path
