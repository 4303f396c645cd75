# SPDX-License-Identifier: Apache-2.0
# Issue 6, vhost-user, hosted: the handler's cmocka tests (fake carrier),
# the vhost-user-blk daemon QEMU connects to, its socket-level test (a tiny
# C frontend with memfd guest memory), and the message-parser fuzzer.
#
#   make check-vhost    test_vhost_user + test_vhost_user_sock (ASan+UBSan)
#   make fuzz-vhost     fuzz_vhost_user for FUZZ_SECONDS
#   build/host/ringloop-vhost-user-blk --socket PATH --disk FILE
VHOST_TEST_BINS := $(HOST_DIR)/test_vhost_user $(HOST_DIR)/test_vhost_user_sock
VHOST_DAEMON := $(HOST_DIR)/ringloop-vhost-user-blk

$(HOST_DIR)/test_vhost_user: $(HOST_DIR)/san/tests/host/test_vhost_user.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

# The daemon is built optimised (it serves QEMU) and sanitized (for the
# socket test, which runs it as a child: VU_DAEMON).
$(VHOST_DAEMON): $(HOST_DIR)/opt/host/vhost_user_blk.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(HOST_LIBS)

$(VHOST_DAEMON)-asan: $(HOST_DIR)/san/host/vhost_user_blk.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(HOST_LIBS)

$(HOST_DIR)/test_vhost_user_sock: $(HOST_DIR)/san/tests/host/test_vhost_user_sock.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

host: $(VHOST_TEST_BINS) $(VHOST_DAEMON) $(VHOST_DAEMON)-asan

check-vhost: $(VHOST_TEST_BINS) $(VHOST_DAEMON) $(VHOST_DAEMON)-asan
	@echo "== $(HOST_DIR)/test_vhost_user"
	$(HOST_DIR)/test_vhost_user
	@echo "== $(HOST_DIR)/test_vhost_user_sock (daemon under ASan+UBSan)"
	VU_DAEMON=$(VHOST_DAEMON)-asan $(HOST_DIR)/test_vhost_user_sock

# Part of check-host (and so `make test`): a few seconds.
check-host: check-vhost

.PHONY: check-vhost
