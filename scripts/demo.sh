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
echo; echo "== the web container answers on its published port (127.0.0.1:8080):"
.venv/bin/python - <<'PY'
import time, urllib.request
for attempt in range(50):
    try:
        print(urllib.request.urlopen("http://127.0.0.1:8080/", timeout=2).read().decode())
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("web did not answer on 127.0.0.1:8080")
PY
echo "== and the api reaches the db by name, from inside its container:"
"$R" exec shop/api -- sh -c 'echo "asking db:5432 ->" $(nc -w 2 db 5432 </dev/null)'
echo; echo "Remove it all with: bash scripts/demo.sh down"
