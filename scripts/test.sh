#!/usr/bin/env bash
# The whole test suite: lint, types, unit, integration (real kernel, runc).
# Installs what it needs first. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "== ruff"; .venv/bin/ruff check reconciler tests bench scripts
echo "== mypy"; .venv/bin/mypy reconciler
echo "== import contracts"; .venv/bin/lint-imports --no-cache
echo "== pytest"; .venv/bin/pytest -q -p no:cacheprovider tests "$@"
