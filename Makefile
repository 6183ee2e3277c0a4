# The two commands of the README. Both set everything up first (idempotent).
.PHONY: demo test bootstrap lint

bootstrap:
	@bash scripts/bootstrap.sh

# Main job: validate, test and build packs/, start a local OPA with the bundle and run
# sample agent actions through it.
demo: bootstrap
	@.venv/bin/python scripts/demo.py

# The test suite (what CI runs): ruff, mypy, pytest (real OPA throughout).
test: bootstrap
	.venv/bin/ruff check compiler tests scripts benchmarks
	.venv/bin/mypy
	.venv/bin/pytest -q

lint: bootstrap
	.venv/bin/ruff check compiler tests scripts benchmarks
	.venv/bin/mypy
