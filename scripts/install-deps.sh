#!/usr/bin/env bash
# Installs what reconcile needs on a fresh Debian 12 (root): system packages and a venv.
# Idempotent: safe to run before every `make demo` / `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker.io: the docker driver's tests start their own dockerd (it brings containerd);
# git and gnupg: `reconcile sync` and its signature checks; tini: `init: true` containers
# on the native driver (its static /usr/bin/tini-static is mounted as /sbin/docker-init);
# skopeo: the push bench's peer; conmon: only bench/bench_monitor.py's peer (Podman's monitor,
# measured against reconcile's monitor zygote: docs/native.md "Choosing the monitor");
# chromium and chromium-driver: the dashboard's browser test (Selenium, headless)
SYSTEM_PACKAGES=(runc git gnupg busybox-static nftables iproute2 python3-venv python3-pip procps psmisc util-linux docker-registry apache2-utils debootstrap docker.io tini skopeo conmon chromium chromium-driver)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml scripts/install-deps.sh | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  # The editable install as a plain path in a .pth file ("compat"): setuptools' default for
  # this flat layout is an import finder whose module imports (pathlib, urllib.parse, ...)
  # cost ~16 ms at every start of every command, more than the rest of `site`; a regular
  # `pip install .` has no finder at all. Plain -e if a setuptools no longer has the mode.
  .venv/bin/pip install -q -e '.[dev]' --config-settings editable_mode=compat 2>/dev/null \
    || .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
