# SPDX-License-Identifier: Apache-2.0
# Issue 12, hosted: the hostile-driver catalogue (tests/host/test_hdt.c)
# against our blk model over the loopback transport, under ASan+UBSan.
#
#   make check-hdt   build and run it (part of check-host)
$(HOST_DIR)/test_hdt: $(HOST_DIR)/san/tests/host/test_hdt.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

check-hdt: $(HOST_DIR)/test_hdt
	@echo "== $<"; $<

.PHONY: check-hdt

# The device-request classes and the random mode (tests/host/test_hdt_dev.c)
# against our net, console, rng and pmem models.
$(HOST_DIR)/test_hdt_dev: $(HOST_DIR)/san/tests/host/test_hdt_dev.o \
		$(HOST_DIR)/san/tests/host/lb_env.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

check-hdt-dev: $(HOST_DIR)/test_hdt_dev
	@echo "== $<"; $<

check-hdt: check-hdt-dev
.PHONY: check-hdt-dev
host: $(HOST_DIR)/test_hdt_dev
