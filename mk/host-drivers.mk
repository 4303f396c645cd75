# SPDX-License-Identifier: Apache-2.0
# Hosted tests of the virtio core and the drivers (issue 4, driver side).
#
#   build/host/test_virtio_core  core + loopback transport against a fake
#                                register file defined in the test (links
#                                no device side at all)
#   build/host/test_blk_drv_ext  blk DISCARD / WRITE_ZEROES / RO / CONFIG_WCE,
#                                driver against the model, two threads
#   build/host/test_drivers      blk and the life cycle over the loopback
#                                transport against the real device models
#   build/host/test_blk_mq       blk multiqueue (VIRTIO_BLK_F_MQ) the same way
#   build/host/test_drivers_dev  rng, net, console, pmem the same way (both
#                                split and packed rings), device side
#                                on a second thread (built once hostsim/
#                                vmmio.c and the models exist)
#   make check-drivers           run both
DRV_CORE_TEST_OBJS := $(addprefix $(HOST_DIR)/san/,drivers/virtio/virtio.o \
	drivers/virtio/virtio_driver.o drivers/virtio/virtio_blk.o drivers/virtio/virtio_blk_ext.o \
	drivers/virtio/virtqueue.o drivers/virtio/virtqueue_packed.o drivers/virtio/vq_check.o drivers/virtio/transport_mmio.o drivers/virtio/transport_loopback.o \
	host/platform_host.o)

$(HOST_DIR)/test_virtio_core: $(HOST_DIR)/san/tests/host/test_virtio_core.o \
		$(HOST_DIR)/san/tests/host/core_fake.o $(DRV_CORE_TEST_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
$(HOST_DIR)/test_virtio_core_hostile: $(HOST_DIR)/san/tests/host/test_virtio_core_hostile.o \
		$(HOST_DIR)/san/tests/host/core_fake.o $(DRV_CORE_TEST_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

DRV_TEST_BINS := $(HOST_DIR)/test_virtio_core $(HOST_DIR)/test_virtio_core_hostile
DRV_DEVICE_SIDE_READY := $(and $(wildcard hostsim/vmmio.c),$(wildcard hostsim/vdev.c),\
	$(wildcard hostsim/dev_blk.c),$(wildcard tests/host/test_drivers.c))
ifneq ($(DRV_DEVICE_SIDE_READY),)
# Models not yet in CORE_SRCS (still being written) are left out (HAVE_DEV_*=0).
drv_have = -DHAVE_DEV_$(1)=$(if $(filter hostsim/dev_$(2).c,$(CORE_SRCS)),1,0)
DRV_HAVE_OBJS := $(HOST_DIR)/san/tests/host/test_drivers.o $(HOST_DIR)/san/tests/host/test_drivers_dev.o
$(DRV_HAVE_OBJS): HOST_CFLAGS += $(call drv_have,RNG,rng) \
	$(call drv_have,NET,net) $(call drv_have,CONSOLE,console) $(call drv_have,PMEM,pmem)
# The defines follow the fragments: rebuild when they change.
$(DRV_HAVE_OBJS): mk/core-devices.mk mk/host-drivers.mk
# blk and the life cycle (test_drivers), rng/net/console/pmem (test_drivers_dev).
$(HOST_DIR)/test_drivers: $(HOST_DIR)/san/tests/host/test_drivers.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
$(HOST_DIR)/test_drivers_dev: $(HOST_DIR)/san/tests/host/test_drivers_dev.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_drivers $(HOST_DIR)/test_drivers_dev
# blk multiqueue (VIRTIO_BLK_F_MQ): the driver against the model with 1-8 queues.
$(HOST_DIR)/test_blk_mq: $(HOST_DIR)/san/tests/host/test_blk_mq.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_blk_mq
# Console MULTIPORT (5.3.6.2): the model by hand-made chains, the driver
# against the model over the loopback transport.
$(HOST_DIR)/test_console_mp: $(HOST_DIR)/san/tests/host/test_console_mp.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_console_mp
# blk's optional features (DISCARD, WRITE_ZEROES, RO, CONFIG_WCE) against the model.
$(HOST_DIR)/test_blk_drv_ext: $(HOST_DIR)/san/tests/host/test_blk_drv_ext.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_blk_drv_ext
# virtio-net features (MRG_RXBUF, MTU, STATUS): model by hand-made chains,
# driver against the model.
$(HOST_DIR)/test_net_features: $(HOST_DIR)/san/tests/host/test_net_features.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_net_features
# virtio-net control queue (rx modes, MAC tables, station mac) and checksum
# offload: model by hand-made chains (test_net_ctrl), driver against the
# model (test_net_ctrl_drv).
$(HOST_DIR)/test_net_ctrl: $(HOST_DIR)/san/tests/host/test_net_ctrl.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_net_ctrl
$(HOST_DIR)/test_net_ctrl_drv: $(HOST_DIR)/san/tests/host/test_net_ctrl_drv.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_net_ctrl_drv
endif

host: $(DRV_TEST_BINS)

check-drivers: $(DRV_TEST_BINS)
	@set -e; for t in $(DRV_TEST_BINS); do echo "== $$t"; $$t; done

.PHONY: check-drivers

# Long run: millions of blk requests through the async API, data verified
# against a model, mode switches (and re-inits with requests in flight).
ifneq ($(DRV_DEVICE_SIDE_READY),)
$(HOST_DIR)/drivers_2thread: $(HOST_DIR)/opt/tests/host/drivers_2thread.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(HOST_LIBS)
$(HOST_DIR)/drivers_2thread-asan: $(HOST_DIR)/san/tests/host/drivers_2thread.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(HOST_LIBS)
host: $(HOST_DIR)/drivers_2thread $(HOST_DIR)/drivers_2thread-asan
check-drivers: check-drivers-long
check-drivers-long: $(HOST_DIR)/drivers_2thread $(HOST_DIR)/drivers_2thread-asan
	@echo "== driver long run (optimised)"
	$(HOST_DIR)/drivers_2thread --requests 2000000
	@echo "== driver long run (ASan+UBSan)"
	$(HOST_DIR)/drivers_2thread-asan --requests 160000 --switch 20000
.PHONY: check-drivers-long
endif

# The virtio PCI modern transport against a fake device (no QEMU): register
# sequences, MSI-X readback, bounds checks. Run by check-drivers (check-host).
$(HOST_DIR)/test_transport_pci: $(HOST_DIR)/san/tests/host/test_transport_pci.o \
	$(addprefix $(HOST_DIR)/san/,drivers/virtio/virtio.o drivers/virtio/virtqueue.o drivers/virtio/virtqueue_packed.o \
	drivers/virtio/vq_check.o drivers/virtio/transport_pci.o host/platform_host.o)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_transport_pci
host check-drivers: $(HOST_DIR)/test_transport_pci

# The packed ring, driver side (issue 11), against a fake device written in
# the test from virtio 1.2 section 2.8. Run by check-drivers.
$(HOST_DIR)/test_vq_packed: $(HOST_DIR)/san/tests/host/test_vq_packed.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_vq_packed
host check-drivers: $(HOST_DIR)/test_vq_packed

# Long run of the packed ring: driver and the spec-written fake device on two
# threads over a double-mapped memfd, eventfd kicks/interrupts, data
# verified (tests/host/vq_packed_2thread.c). Part of check-drivers.
$(HOST_DIR)/vq_packed_2thread: $(HOST_DIR)/opt/tests/host/vq_packed_2thread.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(HOST_LIBS)
$(HOST_DIR)/vq_packed_2thread-asan: $(HOST_DIR)/san/tests/host/vq_packed_2thread.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(HOST_LIBS)
host: $(HOST_DIR)/vq_packed_2thread $(HOST_DIR)/vq_packed_2thread-asan
check-drivers: check-packed-long
check-packed-long: $(HOST_DIR)/vq_packed_2thread $(HOST_DIR)/vq_packed_2thread-asan
	@echo "== packed ring long run (optimised)"
	$(HOST_DIR)/vq_packed_2thread --requests 1000000
	@echo "== packed ring long run (ASan+UBSan)"
	$(HOST_DIR)/vq_packed_2thread-asan --requests 300000
.PHONY: check-packed-long

# libFuzzer target for the packed driver under a device writing anything
# (fuzz/fuzz_vq_packed.c), in `make fuzz` and check-host's smoke run like
# the others (FUZZ_BINS was fixed before this fragment).
FUZZ_TARGETS += fuzz_vq_packed
fuzz check-host: $(FUZZ_DIR)/fuzz_vq_packed
$(FUZZ_DIR)/obj/fuzz/fuzz_vq_packed.o: FUZZ_CFLAGS += -Itests/host
$(HOST_DIR)/test_vq_packed_hostile: $(HOST_DIR)/san/tests/host/test_vq_packed_hostile.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
DRV_TEST_BINS += $(HOST_DIR)/test_vq_packed_hostile
host check-drivers: $(HOST_DIR)/test_vq_packed_hostile
