# A thin wrapper around the one CMake build. `make demo` and `make test` install what is
# missing first (scripts/install-deps), so both work on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps configure demo test bench clean format

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

demo: deps all
	@echo "== runsc do: a static program in the sandbox (ptrace platform) =="
	$(BUILD)/runsc/runsc do --platform=ptrace $(BUILD)/tests/e2e/hello_static

test: deps all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

bench: deps all
	perf/compare --runtime "gvisor-ptrace=runsc --platform=ptrace --network=none do" $(BUILD)/perf/syscall_bench
	$(BUILD)/perf/startup_bench --runtime "ours=$(BUILD)/runsc/runsc do --platform=ptrace" \
	    --runtime "gvisor-ptrace=runsc --platform=ptrace --network=none do" --benchmark_min_time=2
	perf/oci_compare --runs 5 ours=$(BUILD)/runsc/runsc runc=runc \
	    "gvisor=runsc --platform=ptrace --network=none"

format:
	find sentry platform runsc gofer tests syscalls perf -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
