# Thin wrapper over CMake. `make` builds Release into build/; `make asan`
# builds with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/.
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
CONF ?= conf/kv.conf

.PHONY: all deps build run test test-asan asan bench format clean

all: build

deps:
	bash deps/install.sh

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS)

run: deps build
	./$(BUILD)/kv-server $(CONF)

test: deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 900

$(ASAN_BUILD)/Makefile:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKV_SANITIZE=ON

asan: $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j$(JOBS)

test-asan: deps asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure --timeout 900

bench: deps build
	bash tests/bench/run.sh

format:
	find src tests -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
