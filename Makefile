# The two quick-start commands: `make serve` and `make test`. Both install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install engine serve test test-fast lint browser eval eval-library bench

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

# Retrieval at library scale, each set beside plain e5 + FAISS and plain BM25 over 250-character
# windows: the five articles, cmrc2018_train's 2,403 passages and 10,142 questions (indexed once into
# data/library/, a quarter of an hour), baoxianzhidao's 医保 slice. The sets are ../shared/evalsets.
EVALSETS ?= ../shared/evalsets
LIBRARY := YIBAO_DATA_DIR=data/library/cmrc2018_train YIBAO_CORPUS_DIR=$(EVALSETS)/cmrc2018_train/corpus
eval-library: $(STAMP)
	$(BIN)/yibao eval --reference
	$(LIBRARY) $(BIN)/yibao ingest
	$(LIBRARY) $(BIN)/yibao eval --questions $(EVALSETS)/cmrc2018_train/questions.jsonl --reference
	$(BIN)/yibao eval --beir $(EVALSETS)/baoxianzhidao --subset medins --reference

bench: $(STAMP)
	$(BIN)/yibao bench --json BENCHMARKS.json
