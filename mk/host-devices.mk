# SPDX-License-Identifier: Apache-2.0
# Issue 4, device side, hosted: cmocka tests of the register file
# (test_vmmio) and of each device model driven through it by the real driver
# virtqueue (test_devices), both under ASan+UBSan.
#
#   make check-devices   build and run them
DEVICE_TESTS := test_vmmio test_devices
DEVICE_TEST_BINS := $(DEVICE_TESTS:%=$(HOST_DIR)/%)

$(HOST_DIR)/test_vmmio: $(HOST_DIR)/san/tests/host/test_vmmio.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_devices: $(HOST_DIR)/san/tests/host/test_devices.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

check-devices: $(DEVICE_TEST_BINS)
	@set -e; for t in $(DEVICE_TEST_BINS); do echo "== $$t"; $$t; done

.PHONY: check-devices
