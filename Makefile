# Khorgos build. `make` builds libkhorgos and build/khorgos; `make test` is the quick tier (what
# CI runs); `make test-long` the randomised, crash and fuzz tiers; `make bench` the benchmarks.
#
# Sources are found by pattern, so adding a file never means editing this file:
#   src/*/*.c (but src/cli/main.c)  -> build/libkhorgos.a
#   src/cli/main.c                  -> build/khorgos
#   tests/support/*.c               -> linked into every test
#   tests/test_*.c                  -> build/tests/test_* (one cmocka program each)
#   tests/long_*.c                  -> build/tests/long_* (run by test-long only)
#   fuzz/fuzz_*.c                   -> build/fuzz/fuzz_* (libFuzzer, clang)
#   bench/bench_*.c                 -> build/bench/bench_*

BUILD ?= build
CC ?= cc
OPTIMIZE ?= -O2 -g
SANITIZE ?=
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            -Wformat=2 -Wno-format-nonliteral
# libxml2 is read only by src/iso20022/ (the ISO 20022 gateway), never by the engine.
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(XML_CFLAGS) -MMD -MP $(WARNINGS) \
              $(OPTIMIZE) $(SANITIZE) $(CFLAGS)
# The cluster layer (src/cluster/) replicates over the raft library, 0.22.1 or later: the cowsql
# fork from bookworm-backports (scripts/deps.sh cluster). raft's pkg-config file does not pull
# libuv or lz4, so they are named here, once, for every program.
RAFT_VERSION_MIN := 0.22.1
CLUSTER_LIBS := -lraft -luv -llz4
ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifneq ($(shell pkg-config --atleast-version=$(RAFT_VERSION_MIN) raft && echo ok),ok)
$(error the raft library $(RAFT_VERSION_MIN) or later is needed, found \
    "$(shell pkg-config --modversion raft 2>/dev/null || echo none)": run \
    `sh scripts/deps.sh cluster` (libraft-dev from bookworm-backports))
endif
endif
# libssl: the server's and the C client's TLS (server_tls.c, client_tls.c); libcrypto: SHA-256
# and TLS's primitives.
LIBS := -lssl -lcrypto -lxxhash -lxml2 -lm -lpthread $(CLUSTER_LIBS)
TEST_LIBS := -lcmocka

LIB_SOURCES := $(filter-out src/cli/main.c,$(sort $(wildcard src/*/*.c)))
LIB_OBJECTS := $(LIB_SOURCES:%.c=$(BUILD)/obj/%.o)
SUPPORT_SOURCES := $(sort $(wildcard tests/support/*.c))
SUPPORT_OBJECTS := $(SUPPORT_SOURCES:%.c=$(BUILD)/obj/%.o)
TEST_SOURCES := $(sort $(wildcard tests/test_*.c))
TEST_PROGRAMS := $(TEST_SOURCES:tests/%.c=$(BUILD)/tests/%)
LONG_SOURCES := $(sort $(wildcard tests/long_*.c))
LONG_PROGRAMS := $(LONG_SOURCES:tests/%.c=$(BUILD)/tests/%)
BENCH_SOURCES := $(sort $(wildcard bench/bench_*.c))
BENCH_PROGRAMS := $(BENCH_SOURCES:bench/%.c=$(BUILD)/bench/%)
FUZZ_SOURCES := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_PROGRAMS := $(FUZZ_SOURCES:fuzz/%.c=build/fuzz/%)
# Seconds per fuzz target: make test runs each briefly (nine targets: seven took about 56 s in
# all with their start-up, mostly their seed corpora, regressions included; iso20022_gateway
# 8 s; cluster_entry 8 s on a loaded machine); make test-long longer.
FUZZ_SECONDS_QUICK ?= 6
FUZZ_SECONDS_LONG ?= 600

# Flags for linking the test programs only (the sanitizer build sets them).
LINK_FLAGS ?=
# lld, when installed (scripts/deps.sh test), links the sanitizer and fuzz builds' instrumented
# programs about three times faster than ld.bfd (measured: 0.37 s of CPU against 1.0 s for one
# ASan test program; the asan tier links over sixty).
FAST_LINKER := $(if $(shell command -v ld.lld 2>/dev/null),-fuse-ld=lld)

# Keep objects of programs built by pattern rules.
.SECONDARY:

# Quiet by default; `make V=1` shows the commands.
Q := $(if $(V),,@)

.PHONY: all lib tests long-tests benches test test-unit test-asan test-fuzz test-shell \
        test-tidy test-docs test-long run demo bench bench-server bench-cluster clean fuzz

all: $(BUILD)/khorgos $(BUILD)/libkhorgos_client.a $(BUILD)/libkhorgos_client.so

lib: $(BUILD)/libkhorgos.a

# libkhorgos_client (include/khorgos_client.h): the base and client layers only, built
# position-independent for the static and the shared library.
CLIENT_LIB_SOURCES := $(sort $(wildcard src/base/*.c src/client/*.c))
CLIENT_LIB_OBJECTS := $(CLIENT_LIB_SOURCES:%.c=$(BUILD)/pic/%.o)
CLIENT_LIB_LIBS := -lssl -lcrypto -lxxhash -lpthread
# Its objects are packaging/install.mk's position-independent ones ($(BUILD)/pic).

$(BUILD)/libkhorgos_client.a: $(CLIENT_LIB_OBJECTS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/libkhorgos_client.so: $(CLIENT_LIB_OBJECTS)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS_ALL) -shared -Wl,-soname,libkhorgos_client.so $^ $(CLIENT_LIB_LIBS) -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libkhorgos.a: $(LIB_OBJECTS)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/khorgos: $(BUILD)/obj/src/cli/main.o $(BUILD)/libkhorgos.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS_ALL) $^ $(LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(SUPPORT_OBJECTS) $(BUILD)/libkhorgos.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS_ALL) $(LINK_FLAGS) $^ $(TEST_LIBS) $(LIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libkhorgos.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS_ALL) $^ $(LIBS) -lsqlite3 -o $@

# The server benchmarks speak to `khorgos start` through libkhorgos_client, linked first so
# that the client's objects come from it; libkhorgos.a supplies the rest (the in-process
# engine of bench_client), each object from one archive only.
$(BUILD)/bench/bench_client $(BUILD)/bench/bench_connections $(BUILD)/bench/bench_failover: \
        $(BUILD)/bench/%: \
        $(BUILD)/obj/bench/%.o $(BUILD)/libkhorgos_client.a $(BUILD)/libkhorgos.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS_ALL) $^ $(LIBS) -o $@

tests: $(TEST_PROGRAMS) $(BUILD)/khorgos
long-tests: $(LONG_PROGRAMS) $(BUILD)/khorgos
benches: $(BENCH_PROGRAMS) $(BUILD)/khorgos

# libFuzzer targets are built with clang whatever CC is: the library's objects once, with the
# sanitizers and libFuzzer's coverage hooks, then each target linked with -fsanitize=fuzzer.
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(XML_CFLAGS) -MMD -MP $(WARNINGS) \
              -O1 -g \
              -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJECTS := $(LIB_SOURCES:%.c=build/fuzz/obj/%.o)

build/fuzz/obj/%.o: %.c fuzz/coverage-ignore.txt
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC-FUZZ $<")
	$(Q)clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link \
	    -fsanitize-coverage-ignorelist=fuzz/coverage-ignore.txt -c $< -o $@

build/fuzz/libkhorgos-fuzz.a: $(FUZZ_OBJECTS)
	@rm -f $@
	$(Q)ar rcs $@ $^

build/fuzz/%: build/fuzz/obj/fuzz/%.o build/fuzz/libkhorgos-fuzz.a
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang $(FUZZ_FLAGS) $(FAST_LINKER) -fsanitize=fuzzer $^ $(LIBS) -o $@

fuzz: $(FUZZ_PROGRAMS)

# ---- test tiers -------------------------------------------------------------------------------

# Results and logs go under $(BUILD), and the shell tests run $(BUILD)/khorgos, so two build
# directories (BUILD=build/other) test their own binaries without mixing results.
RESULTS := $(BUILD)/test-results.txt

TIMES := $(BUILD)/test-times.txt
TEST_PARTS := unit shell asan fuzz tidy docs
# Tests run, and their builds compile, this many at a time (the two cores CI has).
TEST_JOBS ?= 2
export TEST_JOBS

# Each part in turn, timed (scripts/test-part.sh), so the summary shows each one's share.
test:
	@rm -f $(RESULTS) $(TIMES); status=0; \
	for part in $(TEST_PARTS); do \
	    sh scripts/test-part.sh $$part $(TIMES) \
	        $(MAKE) --no-print-directory test-$$part || status=1; \
	done; sh scripts/test-summary.sh $(RESULTS) $$status $(TIMES)

test-unit:
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) tests
	@sh scripts/run-tests.sh unit $(BUILD)/tests $(RESULTS)

test-shell: $(BUILD)/khorgos $(BUILD)/libkhorgos_client.a $(BUILD)/libkhorgos_client.so
	@KHORGOS=$(BUILD)/khorgos sh scripts/run-shell-tests.sh tests $(RESULTS)

# The unit tests again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
ASAN_MAKE := $(MAKE) --no-print-directory BUILD=$(BUILD)/asan CC=clang OPTIMIZE="-O1 -g" \
    LINK_FLAGS="$(FAST_LINKER)" \
    SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
# clear_shadow_mmap_threshold: the sanitizer zeroes the shadow of a large block with memset rather
# than by mapping fresh pages, each map a TLB flush on every core; the engine's opens allocate
# and free about 20 MB of large blocks each, and this took a quarter off the CPU time of the
# open-heavy tests (test_storage_recovery: 86 s to 65 s). It changes nothing the sanitizer finds.
ASAN_RUN := ASAN_OPTIONS=detect_leaks=1:clear_shadow_mmap_threshold=1073741824 \
    UBSAN_OPTIONS=print_stacktrace=1
test-asan:
	@$(ASAN_MAKE) -j$(TEST_JOBS) $(TEST_PROGRAMS:$(BUILD)/%=$(BUILD)/asan/%)
	@$(ASAN_RUN) sh scripts/run-tests.sh asan $(BUILD)/asan/tests $(RESULTS)

test-fuzz:
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) fuzz
	@sh scripts/run-fuzz.sh $(FUZZ_SECONDS_QUICK) $(RESULTS) $(FUZZ_PROGRAMS)

# The house rules a machine can check (scripts/tidy.sh), and tidy.sh's own test.
test-tidy:
	@sh scripts/run-tidy.sh $(RESULTS)

# The examples of README.md and docs/*.md marked as runnable (scripts/run-docs.py says how).
test-docs: $(BUILD)/khorgos
	@python3 scripts/run-docs.py $(BUILD)/khorgos $(RESULTS)
	@python3 scripts/run-docs.py --client $(BUILD)/khorgos $(RESULTS) docs/api.md

# The shell tests that stop, kill or fill under the khorgos command, again on its ASan+UBSan
# build: the crash test, the failed write and the full disk, the data directory's lock (the
# sanitizer build opens in about 1.5 s: crash_kill's kills wait that long more).
ASAN_SHELL_TESTS = tests/crash_kill.sh tests/apply_write_failure.sh tests/long/disk_full.sh \
    $(filter-out %clock.sh,$(wildcard tests/*lock*.sh))

test-long:
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) long-tests fuzz
	@rm -f $(RESULTS)
	@$(ASAN_MAKE) -j$(TEST_JOBS) $(BUILD)/asan/khorgos
	@sh scripts/run-tests.sh long $(BUILD)/tests $(RESULTS) long_; s1=$$?; \
	    KHORGOS=$(BUILD)/khorgos sh scripts/run-shell-tests.sh tests/long $(RESULTS); s2=$$?; \
	    $(ASAN_RUN) KHORGOS=$(BUILD)/asan/khorgos KILL_DELAY_MS_MIN=2000 \
	        sh scripts/run-shell-tests.sh \
	        "$(ASAN_SHELL_TESTS)" $(RESULTS) shell-asan; s3=$$?; \
	    sh scripts/run-fuzz.sh $(FUZZ_SECONDS_LONG) $(RESULTS) $(FUZZ_PROGRAMS); s4=$$?; \
	    status=$$((s1 | s2 | s3 | s4)); sh scripts/test-summary.sh $(RESULTS) $$status

# ---- the main job and benchmarks -------------------------------------------------------------

run: $(BUILD)/khorgos
	@sh scripts/main-job.sh $(BUILD)/khorgos

bench: benches
	sh bench/run.sh $(BUILD)

# The server's benchmarks alone (bench/server.sh, a few minutes).
bench-server: benches
	sh bench/run.sh $(BUILD) server

# The cluster's benchmarks alone (bench/cluster.sh, a few minutes).
bench-cluster: benches
	sh bench/run.sh $(BUILD) cluster

clean:
	rm -rf build

# make install, make uninstall, the shared library (PREFIX, DESTDIR): packaging/install.mk.
include packaging/install.mk

-include $(shell find build -name '*.d' 2>/dev/null)
