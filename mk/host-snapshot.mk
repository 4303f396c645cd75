# SPDX-License-Identifier: Apache-2.0
# Issue 6, persistence, hosted: the snapshot tests (ASan+UBSan), the
# snapshot-tool helper (writes reference snapshots for
# tools/snapshot-inspect and its pytest), the save+restore benchmark and
# the restore fuzzer.
#
#   make check-snapshot   test_snapshot + the snapshot-inspect pytest
#   make bench-snapshot   snapbench (also run by `make bench`)
#   make fuzz-snapshot    fuzz_snapshot for FUZZ_SECONDS
SNAP_FIX_SAN := $(HOST_DIR)/san/tests/host/snap_fixture.o
SNAP_HARNESS_SAN := $(HOST_DIR)/san/tests/host/snap_harness.o \
	$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_DIR)/san/tests/host/dev_fixture.o \
	$(SNAP_FIX_SAN)
SNAP_TESTS := test_snapshot test_snapshot_traffic test_snapshot_packed

$(foreach t,$(SNAP_TESTS),$(HOST_DIR)/$(t)): $(HOST_DIR)/%: $(HOST_DIR)/san/tests/host/%.o \
		$(SNAP_HARNESS_SAN) $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/snapshot-tool: $(HOST_DIR)/san/tests/host/snapshot_tool.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

# Optimised (the number that matters), with the test fixture as its driver.
$(HOST_DIR)/opt/host/snapbench.o: HOST_CFLAGS += -Itests/host
$(HOST_DIR)/snapbench: $(HOST_DIR)/opt/host/snapbench.o \
		$(HOST_DIR)/opt/tests/host/ring_fixture.o \
		$(HOST_DIR)/opt/tests/host/dev_fixture.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

host: $(foreach t,$(SNAP_TESTS),$(HOST_DIR)/$(t)) $(HOST_DIR)/snapshot-tool $(HOST_DIR)/snapbench

check-snapshot: $(foreach t,$(SNAP_TESTS),$(HOST_DIR)/$(t)) $(HOST_DIR)/snapshot-tool
	@set -e; for t in $(SNAP_TESTS); do echo "== $(HOST_DIR)/$$t"; $(HOST_DIR)/$$t; done
	@echo "== snapshot-inspect pytest"
	$(PYTHON) -m pytest -q tests/test_snapshot_inspect.py

bench-snapshot: $(HOST_DIR)/snapbench
	$(HOST_DIR)/snapbench

bench: bench-snapshot

# `make fuzz` (and check-host's smoke run) runs it through fuzz-snapshot
# (the top-level Makefile's HOST_FUZZ).
$(FUZZ_DIR)/obj/fuzz/fuzz_snapshot.o: FUZZ_CFLAGS += -Itests/host

$(FUZZ_DIR)/fuzz_snapshot: $(FUZZ_DIR)/obj/fuzz/fuzz_snapshot.o \
		$(FUZZ_DIR)/obj/tests/host/snap_fixture.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $^ -o $@

fuzz-snapshot: $(FUZZ_DIR)/fuzz_snapshot
	@mkdir -p $(FUZZ_DIR)/corpus-fuzz_snapshot
	$(FUZZ_DIR)/fuzz_snapshot -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/fuzz_snapshot- \
	  $(FUZZ_DIR)/corpus-fuzz_snapshot fuzz/corpus/fuzz_snapshot \
	  2>$(FUZZ_DIR)/fuzz_snapshot.log || { tail -50 $(FUZZ_DIR)/fuzz_snapshot.log; exit 1; }
	@grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss)' \
	  $(FUZZ_DIR)/fuzz_snapshot.log

.PHONY: check-snapshot bench-snapshot fuzz-snapshot
