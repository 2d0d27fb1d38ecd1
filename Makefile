# A thin wrapper over CMake. The two commands a person needs: `make test` and
# `make bench`; both install missing system packages first.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
LORE_BENCH = $(BUILD_DIR)/lore-bench
# The default benchmark suite, in the order it runs.
BENCH_SUITE ?= scenarios/smoke.json scenarios/overhead.json scenarios/calibration.json \
               scenarios/stream.json scenarios/embed_threads.json scenarios/nli_batch.json \
               scenarios/search_smoke.json scenarios/sql.json
# About two minutes, for CI (scripts/ci-gate.sh).
BENCH_QUICK_SUITE ?= scenarios/smoke.json scenarios/calibration.json \
                     scenarios/search_smoke.json scenarios/sql.json
BENCH_ARGS ?=

FUZZ_SECONDS ?= 60

.PHONY: all deps build test bench bench-quick print-quick-suite asan memcheck fuzz format clean

all: build

deps:
	@scripts/install-deps.sh --quiet

build: deps
	@[ -f $(BUILD_DIR)/CMakeCache.txt ] || \
		cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DLORE_WERROR=ON
	@cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# Runs the suite, judges gates against baselines/<machine class>/ when present,
# writes a report per scenario and prints the verdict table (scripts/bench.sh).
bench: build
	@scripts/bench.sh --bin $(LORE_BENCH) $(BENCH_ARGS) $(BENCH_SUITE)

bench-quick: build
	@scripts/bench.sh --bin $(LORE_BENCH) $(BENCH_ARGS) $(BENCH_QUICK_SUITE)

# The quick suite's scenario files, for scripts/ci-gate.sh.
print-quick-suite:
	@echo $(BENCH_QUICK_SUITE)

# Every test under AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@[ -f build-asan/CMakeCache.txt ] || \
		cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLORE_SANITIZE=ON -DLORE_WERROR=ON
	@cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS)

# Every unit test under valgrind memcheck; any leak or invalid access fails.
memcheck: build
	@scripts/memcheck.sh $(BUILD_DIR)

# The scenario parser under libFuzzer + ASan/UBSan for FUZZ_SECONDS. Needs clang
# and its runtime (apt-get install clang libclang-rt-14-dev); not part of make test.
fuzz: deps
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 2; }
	@[ -f build-fuzz/CMakeCache.txt ] || CC=clang cmake -S . -B build-fuzz \
		-DCMAKE_BUILD_TYPE=Debug -DLORE_FUZZ=ON -DLORE_SANITIZE=ON
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_scenario
	@mkdir -p build-fuzz/corpus
	build-fuzz/fuzz_scenario -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		build-fuzz/corpus scenarios tests/fixtures/scenarios

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD_DIR) build-asan build-fuzz
