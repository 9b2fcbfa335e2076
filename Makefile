# The two commands of the README are `make up` and `make test`; both set up what
# they need first (system packages via apt when root, the venv, Python deps).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stackbox-setup

.PHONY: setup up test tempest check lint format bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh etc/apt-packages.txt
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh
	@touch $@

up: setup
	$(BIN)/stackbox up $(ARGS)

# The whole suite, then OpenStack's Tempest API tests (identity, image, compute) against
# a fresh cloud; with ARGS (a narrower pytest run) Tempest is left to `make tempest`.
test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -q $(ARGS)
	@if [ -z "$(ARGS)" ]; then $(BIN)/python scripts/tempest.py; fi

# OpenStack's API test suite against a fresh `stackbox up` (scripts/tempest.py);
# ARGS='--regex tempest.api.compute.flavors' narrows it.
tempest: setup
	$(BIN)/python scripts/tempest.py $(ARGS)

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy stackbox

format: setup
	$(BIN)/ruff format stackbox tests bench
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/identity.py
	$(BIN)/python bench/boot.py

clean:
	rm -rf $(VENV) .tempest-venv .pytest_cache .ruff_cache .mypy_cache *.egg-info
