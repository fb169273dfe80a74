# Two commands: `make run` (install, then serve on the embedded control plane) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
STAMP := $(VENV)/.installed

.PHONY: install run dev test lint typecheck format bench clean image-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch==2.13.0 (CPU) is pinned in pyproject.toml beside sentence-transformers, in this same pip step.
# The npm MCP reference server the tests drive (skipped, and those tests skip, where npm is missing).
$(STAMP): pyproject.toml tests/mcp/servers/package.json | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix tests/mcp/servers; \
	else echo "npm not found: the MCP tests that need @modelcontextprotocol/server-everything will skip"; fi
	@touch $(STAMP)

install: $(STAMP)

run: install
	DATA_DIR=$${DATA_DIR:-./data} $(BIN)/agent serve --port $(PORT)

dev: install
	DATA_DIR=$${DATA_DIR:-./data} $(BIN)/agent serve --dev --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Packages that pass `mypy --strict` ([tool.mypy] in pyproject.toml).
TYPED := control_bridge skills agent

typecheck: install
	$(BIN)/mypy $(TYPED)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint typecheck
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

# Builds the image and runs it for real: /health, a run through /start and SSE, MiniLM in the container, SIGTERM,
# a restart on the same volume (deploy/image-test.sh). Minutes, so not part of `make test`. Docker where an
# engine answers, else buildah via ../shared/tools/image-check (root on Debian).
image-test:
	bash deploy/image-test.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
