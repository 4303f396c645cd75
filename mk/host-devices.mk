# SPDX-License-Identifier: Apache-2.0
# Issue 4, device side, hosted: cmocka tests of the register file
# (test_vmmio) and of each device model driven through it by the real driver
# virtqueue (test_devices: blk; test_devices_io: rng, net; test_devices_con:
# console, pmem), all under ASan+UBSan.
#
#   make check-devices   build and run them
DEVICE_TESTS := test_vmmio test_devices test_devices_io test_devices_con test_blk_dev_ext test_blk_async
DEVICE_TEST_BINS := $(DEVICE_TESTS:%=$(HOST_DIR)/%)

$(HOST_DIR)/test_vmmio: $(HOST_DIR)/san/tests/host/test_vmmio.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_devices: $(HOST_DIR)/san/tests/host/test_devices.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_devices_io: $(HOST_DIR)/san/tests/host/test_devices_io.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_devices_con: $(HOST_DIR)/san/tests/host/test_devices_con.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_blk_dev_ext: $(HOST_DIR)/san/tests/host/test_blk_dev_ext.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_blk_async: $(HOST_DIR)/san/tests/host/test_blk_async.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

check-devices: $(DEVICE_TEST_BINS)
	@set -e; for t in $(DEVICE_TEST_BINS); do echo "== $$t"; $$t; done

.PHONY: check-devices

# libFuzzer target: a hostile driver against each model through the register
# file (fuzz/fuzz_vmmio.c). Not part of check-host yet (add it to
# FUZZ_TARGETS there to have it in the smoke run).
#   make fuzz-devices [FUZZ_SECONDS=60]
fuzz-devices: $(FUZZ_DIR)/fuzz_vmmio
	@mkdir -p $(FUZZ_DIR)/corpus-fuzz_vmmio
	$(FUZZ_DIR)/fuzz_vmmio -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/fuzz_vmmio- \
	  $(FUZZ_DIR)/corpus-fuzz_vmmio fuzz/corpus/fuzz_vmmio 2>$(FUZZ_DIR)/fuzz_vmmio.log \
	  || { tail -50 $(FUZZ_DIR)/fuzz_vmmio.log; exit 1; }
	@grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss)' \
	  $(FUZZ_DIR)/fuzz_vmmio.log

.PHONY: fuzz-devices

# Issue 11, device side: the packed device queue (hostsim/vdq_packed.c)
# against a test-local packed driver written from the spec, in check-devices
# (and so check-host); its chain-walker fuzzer is in `make fuzz` and
# check-host's smoke run like fuzz_vhost_user.
#   make check-vdq-packed   just these cmocka suites
#   make fuzz-vdq-packed [FUZZ_SECONDS=60]
PACKED_DEV_TESTS := test_vdq_packed test_vdq_packed_event test_vdq_packed_inflight
DEVICE_TESTS += $(PACKED_DEV_TESTS)
DEVICE_TEST_BINS += $(PACKED_DEV_TESTS:%=$(HOST_DIR)/%)
# (check-devices above was parsed before these were added: its prerequisites
# are expanded at once, its recipe later.)
check-devices: $(PACKED_DEV_TESTS:%=$(HOST_DIR)/%)

$(PACKED_DEV_TESTS:%=$(HOST_DIR)/%): $(HOST_DIR)/%: $(HOST_DIR)/san/tests/host/%.o \
		$(HOST_DIR)/san/tests/host/packed_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

check-vdq-packed: $(PACKED_DEV_TESTS:%=$(HOST_DIR)/%)
	@set -e; for t in $(PACKED_DEV_TESTS:%=$(HOST_DIR)/%); do echo "== $$t"; $$t; done

FUZZ_TARGETS += fuzz_vdq_packed
fuzz check-host: $(FUZZ_DIR)/fuzz_vdq_packed

fuzz-vdq-packed: $(FUZZ_DIR)/fuzz_vdq_packed
	@mkdir -p $(FUZZ_DIR)/corpus-fuzz_vdq_packed
	$(FUZZ_DIR)/fuzz_vdq_packed -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/fuzz_vdq_packed- \
	  $(FUZZ_DIR)/corpus-fuzz_vdq_packed fuzz/corpus/fuzz_vdq_packed \
	  2>$(FUZZ_DIR)/fuzz_vdq_packed.log || { tail -50 $(FUZZ_DIR)/fuzz_vdq_packed.log; exit 1; }
	@grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss)' \
	  $(FUZZ_DIR)/fuzz_vdq_packed.log

.PHONY: check-vdq-packed fuzz-vdq-packed

# Two threads over a double-mapped memfd: the packed device queue against
# the spec driver of tests/host/vdq_packed_2thread.c, eventfd kicks and
# interrupts through the event suppression structures (optimised build).
$(HOST_DIR)/vdq_packed_2thread: $(HOST_DIR)/opt/tests/host/vdq_packed_2thread.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(HOST_LIBS)

$(HOST_DIR)/vdq_packed_2thread-asan: $(HOST_DIR)/san/tests/host/vdq_packed_2thread.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(HOST_LIBS)

VDQ_PACKED_2THREAD_REQUESTS ?= 2000000
check-vdq-packed-2thread: $(HOST_DIR)/vdq_packed_2thread $(HOST_DIR)/vdq_packed_2thread-asan
	$(HOST_DIR)/vdq_packed_2thread --requests $(VDQ_PACKED_2THREAD_REQUESTS)
	$(HOST_DIR)/vdq_packed_2thread-asan --requests 200000
check-vdq-packed check-devices: check-vdq-packed-2thread

.PHONY: check-vdq-packed-2thread
