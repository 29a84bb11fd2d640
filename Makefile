# Set-up and entry points. Every target installs what it needs and skips work already done.
#   make bench                 default sweep on the embedded synthetic model
#   make test                  the test suite
#   make vs-llama-bench        in-process pp512/tg128 against llama.cpp's own llama-bench
#   make gate                  small bench + regression gate against results/baselines/<machine class>/
#   make bench-micro           micro-benchmarks of the harness's hot paths, compared with the last run
#   ACCEL=cpu|metal|cuda|vulkan picks the llama.cpp build (default: metal on Apple Silicon, else cpu)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= $(shell $(PYTHON) -c "import os; print(os.cpu_count() or 2)")

ACCEL ?= $(shell $(PYTHON) -c "import platform, sys; print('metal' if sys.platform == 'darwin' and platform.machine() == 'arm64' else 'cpu')")
ifeq ($(filter $(ACCEL),cpu metal cuda vulkan),)
$(error ACCEL=$(ACCEL) is not one of: cpu metal cuda vulkan)
endif
CMAKE_ARGS_cpu    := -DGGML_METAL=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF
CMAKE_ARGS_metal  := -DGGML_METAL=ON -DGGML_CUDA=OFF -DGGML_VULKAN=OFF
CMAKE_ARGS_cuda   := -DGGML_CUDA=ON -DGGML_METAL=OFF -DGGML_VULKAN=OFF
CMAKE_ARGS_vulkan := -DGGML_VULKAN=ON -DGGML_METAL=OFF -DGGML_CUDA=OFF
LLAMA_CMAKE_ARGS  := $(CMAKE_ARGS_$(ACCEL)) -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

# pip caches a wheel built from an sdist without regard to CMAKE_ARGS: one pip cache per
# accelerator, so switching ACCEL never reuses a llama.cpp wheel built for another one.
HARNESS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/harness
export PIP_CACHE_DIR := $(HARNESS_CACHE)/pip-$(ACCEL)
export HARNESS_ACCEL := $(ACCEL)
export LLAMA_CPP_BUILD_JOBS := $(JOBS)
export CMAKE_BUILD_PARALLEL_LEVEL := $(JOBS)

STAMP := $(VENV)/.installed-$(ACCEL)
LLAMA_CPP_PY_VERSION := 0.3.36
LLAMA_BENCH_DIR := $(HARNESS_CACHE)/llama-bench-$(LLAMA_CPP_PY_VERSION)-$(ACCEL)
LLAMA_BENCH := $(LLAMA_BENCH_DIR)/build/bin/llama-bench

.PHONY: install bench test models vs-llama-bench bench-micro gate gate-baseline clean-venv

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools

# A venv built for another accelerator is reinstalled (its llama.cpp is the wrong one).
$(STAMP): $(VENV)/bin/python pyproject.toml
	rm -f $(VENV)/.installed-*
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q -e '.[dev]'
	@if ! $(PY) -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.__version__ == '$(LLAMA_CPP_PY_VERSION)' else 1)"; then exit 1; fi
	touch $@

models: install
	$(VENV)/bin/harness models prepare model=synthetic-small

bench: install
	$(VENV)/bin/harness bench -m +sweep=default

test: install
	$(PY) -m pytest -q

# pytest-benchmark of the harness's own hot paths (SSE parsing, Harmony render and parse, row
# writing). Each run is saved under .benchmarks/<machine>/; from the second run on it is compared
# with the last saved one and fails when a mean got more than 25% slower.
MICRO_BENCH := tests/backends/test_bench_sse.py tests/harmony/test_bench_harmony.py tests/records/test_bench_writer.py
bench-micro: install
	machine=$$($(PY) -c "from pytest_benchmark.utils import get_machine_id; print(get_machine_id())"); \
	if ls .benchmarks/$$machine/*.json >/dev/null 2>&1; then compare="--benchmark-compare --benchmark-compare-fail=mean:25%"; fi; \
	$(PY) -m pytest -q $(MICRO_BENCH) --benchmark-enable --benchmark-autosave $$compare

# The regression gate: a small bench (configs/sweep/gate.yaml) against the committed baseline of this
# machine class (results/baselines/<class>/, `python -m harness.gate.machine` names the class).
# Threshold and alpha come from A/A runs measured here (docs/BENCHMARKS.md, "Regression gate").
GATE_RUN  ?= results/gate-current
GATE_ARGS ?= --metric best_ts --threshold 0.15 --threshold-for tg=0.35 --alpha 0.01
gate: install
	rm -rf $(GATE_RUN)
	$(VENV)/bin/harness bench -m +sweep=gate hydra.sweep.dir=$(GATE_RUN)
	@base=results/baselines/$$($(PY) -m harness.gate.machine); \
	if [ -f $$base/results.csv ]; then $(VENV)/bin/harness gate --baseline $$base --current $(GATE_RUN) $(GATE_ARGS); \
	else echo "gate: no baseline for this machine class ($$base); \`make gate-baseline\` writes one"; fi

# Bench the gate's sweep and keep what the gate reads (rows, samples, environment) as the baseline.
gate-baseline: install
	rm -rf $(GATE_RUN)
	$(VENV)/bin/harness bench -m +sweep=gate hydra.sweep.dir=$(GATE_RUN)
	$(PY) -m harness.gate.baseline $(GATE_RUN)

# llama-bench from the very llama.cpp tree llama-cpp-python vendors, same CMAKE_ARGS, Release; the
# comparison runs it on llama-cpp-python's own libllama/libggml so only the drivers differ.
$(LLAMA_BENCH): | $(STAMP)
	mkdir -p $(LLAMA_BENCH_DIR)
	cd $(LLAMA_BENCH_DIR) && [ -d src ] || ( $(CURDIR)/$(PY) -m pip download -q --no-deps --no-binary llama-cpp-python llama-cpp-python==$(LLAMA_CPP_PY_VERSION) -d . \
		&& mkdir src && tar xzf llama_cpp_python-$(LLAMA_CPP_PY_VERSION).tar.gz -C src --strip-components=1 )
	cmake -S $(LLAMA_BENCH_DIR)/src/vendor/llama.cpp -B $(LLAMA_BENCH_DIR)/build -DCMAKE_BUILD_TYPE=Release \
		-DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF $(LLAMA_CMAKE_ARGS) > $(LLAMA_BENCH_DIR)/cmake.log
	cmake --build $(LLAMA_BENCH_DIR)/build --target llama-bench -j $(JOBS) > $(LLAMA_BENCH_DIR)/build.log

vs-llama-bench: install $(LLAMA_BENCH)
	$(PY) -m harness.report.vs_llama_bench --llama-bench $(LLAMA_BENCH) --rounds 10 --repetitions 3 --in-process --out docs/vs-llama-bench.md

clean-venv:
	rm -rf $(VENV)
