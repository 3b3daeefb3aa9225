# The two commands: `make demo` (the runtime alone, no torch) and `make test` (+ training
# and test tools). Each sets up first; see scripts/setup.sh.
VENV := .venv
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k ringbuffer"
PYTEST_ARGS ?=

.PHONY: setup setup-runtime lint test demo

setup:
	bash scripts/setup.sh dev

setup-runtime:
	bash scripts/setup.sh runtime

# ruff's lint and format check, as CI runs them (settings: pyproject.toml's [tool.ruff])
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup
	$(VENV)/bin/python -m pytest -v --durations=10 $(PYTEST_ARGS)

demo: setup-runtime
	$(VENV)/bin/genrescope serve --source demo
