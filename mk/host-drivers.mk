# SPDX-License-Identifier: Apache-2.0
# Hosted tests of the virtio core and the drivers (issue 4, driver side).
#
#   build/host/test_virtio_core  core + loopback transport against a fake
#                                register file defined in the test (links
#                                no device side at all)
#   build/host/test_drivers      every driver over the loopback transport
#                                against the real device models, device side
#                                on a second thread (built once hostsim/
#                                vmmio.c and the models exist)
#   make check-drivers           run both
DRV_CORE_TEST_OBJS := $(addprefix $(HOST_DIR)/san/,drivers/virtio/virtio.o \
	drivers/virtio/virtqueue.o drivers/virtio/transport_loopback.o host/platform_host.o)

$(HOST_DIR)/test_virtio_core: $(HOST_DIR)/san/tests/host/test_virtio_core.o $(DRV_CORE_TEST_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

DRV_TEST_BINS := $(HOST_DIR)/test_virtio_core
DRV_DEVICE_SIDE_READY := $(and $(wildcard hostsim/vmmio.c),$(wildcard hostsim/vdev.c),\
	$(wildcard hostsim/dev_blk.c),$(wildcard tests/host/test_drivers.c))
ifneq ($(DRV_DEVICE_SIDE_READY),)
$(HOST_DIR)/test_drivers: $(HOST_DIR)/san/tests/host/test_drivers.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_drivers
endif

host: $(DRV_TEST_BINS)

check-drivers: $(DRV_TEST_BINS)
	@set -e; for t in $(DRV_TEST_BINS); do echo "== $$t"; $$t; done

.PHONY: check-drivers
