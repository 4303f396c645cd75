# SPDX-License-Identifier: Apache-2.0
# Hosted build (Linux user space) in build/host/: unit tests, ring tests,
# benchmarks, fuzzers.
#
#   make host         build everything below
#   make check-host   cmocka unit tests (ASan+UBSan), the two-thread ring test
#                     (optimised, >= 10M requests, then a short ASan run), and a
#                     short fuzz run
#   make bench-ring   ringbench sweep, split + packed -> build/bench/ring.csv + ring.png
#   make bench-ringtest RINGTEST_DIR=...  ours vs Linux's tools/virtio/ringtest (opt-in)
#   make fuzz         each libFuzzer target for FUZZ_SECONDS (default 60)
include mk/core.mk

HOST_DIR  := $(BUILD)/host
BENCH_DIR := $(BUILD)/bench
FUZZ_DIR  := $(BUILD)/fuzz

HOST_CC      ?= gcc
HOST_CFLAGS  := -std=gnu11 -g $(WARN) -MMD -MP -pthread $(CORE_INCLUDES) -Ihost
HOST_OPT     := -O2
HOST_SAN     := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_LIBS    := -pthread
CMOCKA_LIBS  := -lcmocka

FUZZ_CC      := clang
FUZZ_CFLAGS  := -std=gnu11 -g -O1 $(WARN) -MMD -MP $(CORE_INCLUDES) -Ihost \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 5

# Shared portable core + hosted platform, built twice: optimised and sanitized.
HOST_LIB_SRCS := $(CORE_SRCS) host/platform_host.c
HOST_OPT_OBJS := $(HOST_LIB_SRCS:%.c=$(HOST_DIR)/opt/%.o)
HOST_SAN_OBJS := $(HOST_LIB_SRCS:%.c=$(HOST_DIR)/san/%.o)
# Linked as archives, so a binary pulls in only the core objects it uses.
HOST_OPT_LIB  := $(HOST_DIR)/libringloop-opt.a
HOST_SAN_LIB  := $(HOST_DIR)/libringloop-san.a
FUZZ_LIB      := $(FUZZ_DIR)/libringloop-fuzz.a

HOST_UNIT_TESTS := test_virtqueue test_vq_check test_vdq
HOST_UNIT_BINS  := $(HOST_UNIT_TESTS:%=$(HOST_DIR)/%)
HOST_BINS := $(HOST_UNIT_BINS) $(HOST_DIR)/vring_2thread $(HOST_DIR)/vring_2thread-asan \
             $(HOST_DIR)/ringbench
FUZZ_TARGETS := fuzz_vring
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)

$(HOST_DIR)/opt/%.o: %.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_OPT) -c $< -o $@

$(HOST_DIR)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(HOST_CC) $(HOST_CFLAGS) $(HOST_SAN) -c $< -o $@

$(HOST_OPT_LIB): $(HOST_OPT_OBJS)
	rm -f $@
	ar rcs $@ $^

$(HOST_SAN_LIB): $(HOST_SAN_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_LIB): $(HOST_LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

$(HOST_DIR)/test_%: $(HOST_DIR)/san/tests/host/test_%.o $(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/vring_2thread: $(HOST_DIR)/opt/tests/host/vring_2thread.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(HOST_LIBS)

$(HOST_DIR)/vring_2thread-asan: $(HOST_DIR)/san/tests/host/vring_2thread.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(HOST_LIBS)

$(HOST_DIR)/ringbench: $(HOST_DIR)/opt/host/ringbench.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(HOST_LIBS)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $^ -o $@

.PRECIOUS: $(HOST_DIR)/opt/%.o $(HOST_DIR)/san/%.o $(FUZZ_DIR)/obj/%.o

-include $(shell find $(HOST_DIR) $(FUZZ_DIR) -name '*.d' 2>/dev/null)

host: $(HOST_BINS)

# Unit tests under ASan+UBSan, then the two-thread test: >= 10M requests
# optimised, a short run sanitized; then a short fuzz run.
check-host: host $(FUZZ_BINS)
	@set -e; for t in $(HOST_UNIT_BINS); do echo "== $$t"; $$t; done
	@echo "== two-thread ring test (optimised)"
	$(HOST_DIR)/vring_2thread --requests 10500000
	@echo "== two-thread ring test (ASan+UBSan)"
	$(HOST_DIR)/vring_2thread-asan --requests 1000000
	@echo "== fuzz smoke run ($(FUZZ_CHECK_SECONDS) s per target)"
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS)

fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus-$$t; \
	  echo "== $$t for $(FUZZ_SECONDS) s"; \
	  ASAN_OPTIONS=quarantine_size_mb=64 $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/$$t- \
	    $(FUZZ_DIR)/corpus-$$t fuzz/corpus/$$t 2>$(FUZZ_DIR)/$$t.log \
	    || { tail -50 $(FUZZ_DIR)/$$t.log; exit 1; }; \
	  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss)' $(FUZZ_DIR)/$$t.log; \
	done

RING_SWEEP_ARGS ?= --ring 256 --requests 300000 --repeat 5
bench-ring: $(HOST_DIR)/ringbench
	@mkdir -p $(BENCH_DIR)
	$(HOST_DIR)/ringbench --sweep $(RING_SWEEP_ARGS) --csv $(BENCH_DIR)/ring.csv
	$(PYTHON) tools/plot-ring.py $(BENCH_DIR)/ring.csv $(BENCH_DIR)/ring.png

# Opt-in: needs a ringtest built from Linux's sources (tools/ringtest-compare).
bench-ringtest: $(HOST_DIR)/ringbench
	$(PYTHON) tools/ringtest-compare --ringbench $(HOST_DIR)/ringbench

.PHONY: bench-ring bench-ringtest
