#!/usr/bin/env bash
# The main job on the bundled example: install, build the busybox image offline, apply the
# example stack, show it running. Run as root on Debian 12. `bash scripts/demo.sh down`
# removes what the demo made.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
R=".venv/bin/reconcile"
STACK=examples/stacks/shop.yaml
if [ "${1:-}" = "down" ]; then
  "$R" down "$STACK" --volumes
  exit 0
fi
.venv/bin/python scripts/make-busybox-image.py examples/images/busybox
"$R" validate examples/stacks/
"$R" plan "$STACK"
"$R" apply "$STACK"
echo; echo "== a second apply changes nothing:"
"$R" apply "$STACK"
echo; echo "== running:"
"$R" ps shop
echo; echo "== the web container answers (from inside its own network namespace):"
"$R" exec shop/web -- wget -qO- http://127.0.0.1:8080/ || true
echo; echo "Remove it all with: bash scripts/demo.sh down"
