# The front door. `make demo` and `make test` install what is missing first, so on a fresh
# Debian 12 machine each is the only command needed. The tests run inside a throwaway
# PostgreSQL cluster (scripts/pg-test-cluster run), which is stopped even when they fail.
.PHONY: deps demo test test-clang test-tsan bench soak fuzz format format-check clean

CMAKE ?= cmake
CTEST ?= ctest
SOAK_SECONDS ?= 600
KILL_ROUNDS ?= 50
FORMAT_FILES = $(shell git ls-files '*.hpp' '*.cpp')

deps:
	@scripts/install-deps

demo: deps
	@echo "building holdfast (Release); log in build/demo-build.log"
	@mkdir -p build
	@{ $(CMAKE) --preset release && $(CMAKE) --build --preset release --target holdfast; } \
		> build/demo-build.log 2>&1 || { tail -40 build/demo-build.log; exit 1; }
	@build/release/tools/holdfast/holdfast demo

test: deps
	$(CMAKE) --preset dev
	$(CMAKE) --build --preset dev
	scripts/pg-test-cluster run $(CTEST) --preset dev

test-clang: deps
	$(CMAKE) --preset clang
	$(CMAKE) --build --preset clang
	scripts/pg-test-cluster run $(CTEST) --preset clang

test-tsan: deps
	$(CMAKE) --preset tsan
	$(CMAKE) --build --preset tsan
	scripts/pg-test-cluster run $(CTEST) --preset tsan

# Each fuzz target (fuzz/) for FUZZ_SECONDS with libFuzzer (clang preset), starting from its
# seed corpus; new inputs go to build/fuzz-corpus/<target>, a crash's input to
# build/fuzz-artifacts/<target>/ (add it to fuzz/corpus/<target>/ once fixed).
FUZZ_SECONDS ?= 300
FUZZ_TARGETS = dsn csv_reader jsonl_reader pg_decode
fuzz: deps
	$(CMAKE) --preset clang
	$(CMAKE) --build --preset clang --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz-corpus/$$t build/fuzz-artifacts/$$t; \
		dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
		echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
		build/clang/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 \
			-print_final_stats=1 -artifact_prefix=build/fuzz-artifacts/$$t/ $$dict \
			build/fuzz-corpus/$$t fuzz/corpus/$$t || exit 1; \
	done

bench: deps
	$(CMAKE) --preset release
	$(CMAKE) --build --preset release
	scripts/pg-test-cluster run bench/run build/release

# Long runs under load with injected faults (not part of `make test` or CI, which run a 5 s
# smoke of the pool soak): the pools for SOAK_SECONDS against a throwaway PostgreSQL, then
# `holdfast load` killed with SIGKILL at random points KILL_ROUNDS times (SQLite and
# PostgreSQL), checking only whole files remain.
soak: deps
	$(CMAKE) --preset dev
	$(CMAKE) --build --preset dev --target holdfast_pool_soak holdfast
	scripts/pg-test-cluster run build/dev/tests/soak/holdfast_pool_soak --seconds $(SOAK_SECONDS)
	scripts/pg-test-cluster run tests/soak/kill_load.sh build/dev/tools/holdfast/holdfast $(KILL_ROUNDS)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build
