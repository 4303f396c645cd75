# SPDX-License-Identifier: Apache-2.0
# Issue 10 section 3, hosted: cmocka tests of the hostile device catalogue
# (tests/host/test_hostile.c) on the blk model behind the register file,
# under ASan+UBSan.
#
#   make check-hostile   build and run them (part of check-host)
$(HOST_DIR)/test_hostile: $(HOST_DIR)/san/tests/host/test_hostile.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o \
		$(HOST_DIR)/san/tests/host/dev_fixture.o $(HOST_SAN_OBJS)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

check-hostile: $(HOST_DIR)/test_hostile
	@echo "== $<"; $<

.PHONY: check-hostile
