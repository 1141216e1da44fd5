# Relais: `make demo` runs the product on embedded defaults, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck check bench-intake migration clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/relais demo

# Every test on SQLite; then the whole suite again on PostgreSQL when TEST_POSTGRES_URL
# names a server (.ci/run starts one from Debian's packages).
test: $(STAMP)
	$(BIN)/pytest -q
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
		echo "--- again on PostgreSQL"; \
		TEST_DATABASE_URL="$$TEST_POSTGRES_URL" $(BIN)/pytest -q -m "not browser"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

check: lint test

bench-intake: $(STAMP)
	$(BIN)/python benchmarks/intake.py

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache

# Relais in its production shape on loopback: PostgreSQL and redis-server (Debian packages,
# append-only), 2 gunicorn web processes, WORKERS RQ workers, and a load driver replaying
# signed webhooks for SHOPS shops; prints the audit, /metrics and a log scan, then stops.
WORKERS ?= 2
SHOPS ?= 40
ORDERS ?= 10
.PHONY: cluster
cluster: $(STAMP)
	$(BIN)/python -m ops.cluster --workers $(WORKERS) --shops $(SHOPS) --orders $(ORDERS)
