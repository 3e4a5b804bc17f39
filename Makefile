# gpurent: the two commands of the README, and a few more.
#   make run     install dependencies, build, start `gpurent serve --demo`
#   make simulate  the business simulator on examples/demo
#   make test    install dependencies, build, run every test
#   make test-sanitize   the whole suite again under AddressSanitizer + UBSan
#   make bench   build optimised and run the benchmarks
#   make fuzz    build the libFuzzer targets (clang) and run each FUZZ_SECONDS (docs/fuzzing.md)
#   make format  clang-format the tree in place
#   make screenshots  the browser test, writing docs/screenshots/*.png (committed on purpose)

BUILD ?= build
SAN_BUILD ?= build-san
BENCH_BUILD ?= build-bench
CMAKE_FLAGS ?=

.PHONY: all deps test-deps build run simulate test test-sanitize bench format clean screenshots fuzz

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	./$(BUILD)/gpurent serve --demo

simulate: build
	./$(BUILD)/gpurent simulate examples/demo

# what only the tests need: Debian's chromium (the console's browser test), docker.io and
# busybox-static (the docker runtime's end-to-end test)
test-deps:
	@scripts/install-deps.sh --test

test: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure

test-sanitize: deps test-deps
	cmake -S . -B $(SAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGPURENT_SANITIZE=ON -DGPURENT_BENCH=OFF
	cmake --build $(SAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(SAN_BUILD) --output-on-failure

bench: deps
	cmake -S . -B $(BENCH_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DGPURENT_TESTS=OFF
	cmake --build $(BENCH_BUILD)
	bench/run.sh $(BENCH_BUILD)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(BENCH_BUILD) $(FUZZ_BUILD)

screenshots: build
	UPDATE_SCREENSHOTS=1 GPURENT_BIN=$(BUILD)/gpurent ARTIFACTS=$(BUILD)/console-screenshots \
		node tests/console/console.test.mjs

# fuzzing: every target of tests/fuzz for FUZZ_SECONDS each (or only FUZZ_TARGETS), one at a
# time; new corpus entries and crash inputs go to $(FUZZ_BUILD)/fuzz-out, never the tree
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

fuzz:
	@scripts/install-deps.sh --fuzz
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DGPURENT_FUZZ=ON -DGPURENT_TESTS=OFF -DGPURENT_BENCH=OFF
	cmake --build $(FUZZ_BUILD) --target fuzz_all
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
