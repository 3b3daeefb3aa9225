# The two commands: `make test` and `make demo` (each sets up first; see scripts/setup.sh).
VENV := .venv
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-k ringbuffer"
PYTEST_ARGS ?=

.PHONY: setup test demo

setup:
	bash scripts/setup.sh

test: setup
	$(VENV)/bin/python -m pytest -v --durations=10 $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/genrescope serve --source demo
