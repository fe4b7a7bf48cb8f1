# weft — the two commands of the README:
#   make run     install what is missing, build, train the CNN one epoch in bf16-sr
#   make check   install what is missing, build, run every test, then again under ASan+UBSan
JOBS    ?= 2
BUILD   ?= build
SAN     ?= build-san
CMAKE   ?= cmake

.PHONY: all deps build run check test san-test bench fixtures clean

all: deps build

deps:
	@scripts/deps.sh

build:
	@$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@$(CMAKE) --build $(BUILD) -j$(JOBS)

run: all
	./$(BUILD)/weft demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

san-test:
	@$(CMAKE) -S . -B $(SAN) -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=ON >/dev/null
	@$(CMAKE) --build $(SAN) -j$(JOBS)
	cd $(SAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j$(JOBS)

check: deps
	@$(MAKE) --no-print-directory test
	@echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer =="
	@$(MAKE) --no-print-directory san-test

bench: all
	bench/run_all.sh

fixtures:
	/usr/bin/python3 scripts/gen_fixtures.py tests/fixtures

clean:
	rm -rf $(BUILD) $(SAN)
