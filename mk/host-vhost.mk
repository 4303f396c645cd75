# SPDX-License-Identifier: Apache-2.0
# Issue 6, vhost-user, hosted: the handler's cmocka tests (fake carrier),
# the vhost-user-blk daemon QEMU connects to, its socket-level test (a tiny
# C frontend with memfd guest memory), and the message-parser fuzzer.
#
#   make check-vhost    test_vhost_user + test_vhost_user_sock (ASan+UBSan)
#   make fuzz-vhost     fuzz_vhost_user for FUZZ_SECONDS
#   build/host/ringloop-vhost-user-blk --socket PATH --disk FILE
VHOST_TEST_BINS := $(HOST_DIR)/test_vhost_user

$(HOST_DIR)/test_vhost_user: $(HOST_DIR)/san/tests/host/test_vhost_user.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

host: $(VHOST_TEST_BINS)

check-vhost: $(VHOST_TEST_BINS)
	@set -e; for t in $(VHOST_TEST_BINS); do echo "== $$t"; $$t; done

# Part of check-host (and so `make test`): a few seconds.
check-host: check-vhost

.PHONY: check-vhost
