# The two quick-start commands: `make serve` and `make test`. Both install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install engine serve test test-fast lint browser eval bench

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The embedding engine that tests YIBAO_BACKEND=remote (Infinity, on the torch wheel on disk), in a
# venv of its own: infinity-emb pins numpy<2, sentence-transformers 3 and transformers 4.
ENGINE := .venv-engine
ENGINE_STAMP := $(ENGINE)/.installed
$(ENGINE_STAMP):
	$(PY) -m venv $(ENGINE)
	$(ENGINE)/bin/pip install --quiet --upgrade pip
	$(ENGINE)/bin/pip install --quiet 'infinity-emb[server,torch]==0.0.78' 'torch==2.13.0'
	touch $(ENGINE_STAMP)

engine: $(ENGINE_STAMP)

serve: $(STAMP)
	$(BIN)/yibao serve

# Debian's Chromium and a CJK font for the browser test (no browser download).
browser:
	@command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) engine browser lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

# Everything but the tests marked slow (browser, load, kill loops, fuzzers, the quick bench).
test-fast: $(STAMP) lint
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q -m "not slow"

eval: $(STAMP)
	$(BIN)/yibao eval --compare

bench: $(STAMP)
	$(BIN)/yibao bench --json BENCHMARKS.json
