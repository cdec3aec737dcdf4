# Conveniences; each target is a script so that a fresh machine without make works too.
.PHONY: demo demo-down test bench lint
demo:
	bash scripts/demo.sh
demo-down:
	bash scripts/demo.sh down
test:
	bash scripts/test.sh
lint:
	.venv/bin/ruff check reconciler tests bench scripts && .venv/bin/mypy reconciler && .venv/bin/lint-imports
bench:
	bash scripts/bench.sh
