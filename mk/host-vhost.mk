# SPDX-License-Identifier: Apache-2.0
# Issue 6, vhost-user, hosted: the handler's cmocka tests (the fake carrier
# in tests/host/vu_fixture.c, shared with the fuzzer), the vhost-user-blk
# daemon QEMU connects to, its socket-level test (a tiny C frontend with
# memfd guest memory), and the message-parser fuzzer.
#
#   make check-vhost    test_vhost_user, _ring, _mem, _packed, _sock, _sock_slots, _sock_uring,
#                       _inflight, _log, test_vdq_inflight (+ _packed), test_vdq_stall (ASan+UBSan)
#   make fuzz-vhost     fuzz_vhost_user for FUZZ_SECONDS
#   make bench-vhost    IOPS vs qemu-storage-daemon (opt-in, minutes)
#   build/host/ringloop-vhost-user-blk --socket PATH --disk FILE
VHOST_TEST_BINS := $(HOST_DIR)/test_vhost_user $(HOST_DIR)/test_vhost_user_ring \
		   $(HOST_DIR)/test_vhost_user_mem \
		   $(HOST_DIR)/test_vhost_user_packed \
		   $(HOST_DIR)/test_vhost_user_sock $(HOST_DIR)/test_vhost_user_sock_slots \
		   $(HOST_DIR)/test_vhost_user_sock_uring \
		   $(HOST_DIR)/test_vdq_inflight $(HOST_DIR)/test_vdq_inflight_packed \
		   $(HOST_DIR)/test_vhost_user_inflight \
		   $(HOST_DIR)/test_vhost_user_log $(HOST_DIR)/test_vdq_stall
VHOST_DAEMON := $(HOST_DIR)/ringloop-vhost-user-blk

# The handler's tests, in two files over one frontend (tests/host/vu_tfx.c).
$(HOST_DIR)/test_vhost_user: $(HOST_DIR)/san/tests/host/test_vhost_user.o \
		$(HOST_DIR)/san/tests/host/vu_tfx.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_DIR)/san/tests/host/vu_fixture.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
$(HOST_DIR)/test_vhost_user_ring: $(HOST_DIR)/san/tests/host/test_vhost_user_ring.o \
		$(HOST_DIR)/san/tests/host/vu_tfx.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_DIR)/san/tests/host/vu_fixture.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_vdq_inflight: $(HOST_DIR)/san/tests/host/test_vdq_inflight.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)
$(HOST_DIR)/test_vdq_inflight_packed: $(HOST_DIR)/san/tests/host/test_vdq_inflight_packed.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_vhost_user_inflight: $(HOST_DIR)/san/tests/host/test_vhost_user_inflight.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_DIR)/san/tests/host/vu_fixture.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

# Dirty logging for live migration (SET_LOG_BASE, VHOST_F_LOG_ALL).
$(HOST_DIR)/test_vhost_user_log: $(HOST_DIR)/san/tests/host/test_vhost_user_log.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_DIR)/san/tests/host/vu_fixture.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

# Packed rings through the handler (VIRTIO_F_RING_PACKED, the packed vring base).
$(HOST_DIR)/test_vhost_user_packed: $(HOST_DIR)/san/tests/host/test_vhost_user_packed.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_DIR)/san/tests/host/vu_fixture.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_vhost_user_mem: $(HOST_DIR)/san/tests/host/test_vhost_user_mem.o \
		$(HOST_DIR)/san/tests/host/ring_fixture.o $(HOST_DIR)/san/tests/host/vu_fixture.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

# The daemon is built optimised (it serves QEMU) and sanitized (for the
# socket test, which runs it as a child: VU_DAEMON).
# Only the daemon links liburing (Debian's liburing-dev, tools/deps.sh):
# its io_uring engine is host/vub_async.c over host/vub_uring.c.
VHOST_DAEMON_LIBS := -luring
$(VHOST_DAEMON): $(HOST_DIR)/opt/host/vhost_user_blk.o $(HOST_DIR)/opt/host/vub_disk.o $(HOST_DIR)/opt/host/vub_sock.o $(HOST_DIR)/opt/host/vu_workers.o \
		$(HOST_DIR)/opt/host/vub_async.o $(HOST_DIR)/opt/host/vub_uring.o $(HOST_OPT_LIB)
	$(HOST_CC) $(HOST_OPT) $^ -o $@ $(HOST_LIBS) $(VHOST_DAEMON_LIBS)

$(VHOST_DAEMON)-asan: $(HOST_DIR)/san/host/vhost_user_blk.o $(HOST_DIR)/san/host/vub_disk.o $(HOST_DIR)/san/host/vub_sock.o $(HOST_DIR)/san/host/vu_workers.o \
		$(HOST_DIR)/san/host/vub_async.o $(HOST_DIR)/san/host/vub_uring.o $(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(HOST_LIBS) $(VHOST_DAEMON_LIBS)

$(HOST_DIR)/test_vhost_user_sock: $(HOST_DIR)/san/tests/host/test_vhost_user_sock.o \
		$(HOST_DIR)/san/tests/host/vu_sock_fixture.o $(HOST_DIR)/san/tests/host/vu_seccomp.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_vhost_user_sock_slots: $(HOST_DIR)/san/tests/host/test_vhost_user_sock_slots.o \
		$(HOST_DIR)/san/tests/host/vu_sock_fixture.o $(HOST_DIR)/san/tests/host/vu_seccomp.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

$(HOST_DIR)/test_vhost_user_sock_uring: $(HOST_DIR)/san/tests/host/test_vhost_user_sock_uring.o \
		$(HOST_DIR)/san/tests/host/vu_sock_fixture.o $(HOST_DIR)/san/tests/host/vu_seccomp.o \
		$(HOST_SAN_LIB)
	$(HOST_CC) $(HOST_SAN) $^ -o $@ $(CMOCKA_LIBS) $(HOST_LIBS)

host: $(VHOST_TEST_BINS) $(VHOST_DAEMON) $(VHOST_DAEMON)-asan

check-vhost: $(VHOST_TEST_BINS) $(VHOST_DAEMON) $(VHOST_DAEMON)-asan
	@echo "== $(HOST_DIR)/test_vhost_user"
	$(HOST_DIR)/test_vhost_user
	@echo "== $(HOST_DIR)/test_vhost_user_ring"
	$(HOST_DIR)/test_vhost_user_ring
	@echo "== $(HOST_DIR)/test_vdq_inflight"
	$(HOST_DIR)/test_vdq_inflight
	@echo "== $(HOST_DIR)/test_vdq_inflight_packed"
	$(HOST_DIR)/test_vdq_inflight_packed
	@echo "== $(HOST_DIR)/test_vdq_stall"
	$(HOST_DIR)/test_vdq_stall
	@echo "== $(HOST_DIR)/test_vhost_user_inflight"
	$(HOST_DIR)/test_vhost_user_inflight
	@echo "== $(HOST_DIR)/test_vhost_user_log"
	$(HOST_DIR)/test_vhost_user_log
	@echo "== $(HOST_DIR)/test_vhost_user_mem"
	$(HOST_DIR)/test_vhost_user_mem
	@echo "== $(HOST_DIR)/test_vhost_user_packed"
	$(HOST_DIR)/test_vhost_user_packed
	@echo "== $(HOST_DIR)/test_vhost_user_sock (daemon under ASan+UBSan)"
	VU_DAEMON=$(VHOST_DAEMON)-asan $(HOST_DIR)/test_vhost_user_sock
	@echo "== $(HOST_DIR)/test_vhost_user_sock_slots (daemon under ASan+UBSan)"
	VU_DAEMON=$(VHOST_DAEMON)-asan $(HOST_DIR)/test_vhost_user_sock_slots
	@echo "== $(HOST_DIR)/test_vhost_user_sock_uring (io_uring engine, daemon under ASan+UBSan)"
	VU_DAEMON=$(VHOST_DAEMON)-asan $(HOST_DIR)/test_vhost_user_sock_uring

# Part of check-host (and so `make test`): a few seconds.
check-host: check-vhost

.PHONY: check-vhost

# Opt-in (minutes; QEMU + the image): 4 KiB random read IOPS at depth 1 and
# 32 with the ringloop guest's `bench blk`, our daemon (io_uring, with
# --poll-us 50, --io sync; also with num-queues=2, of which the ringloop guest
# drives one) against qemu-storage-daemon on the same QEMU command line (fio
# in a Linux guest over two queues: make bench-vhost-linux). Printed, never asserted. RINGLOOP_VU_BENCH_ROUNDS=N
# alternates N rounds (medians).
bench-vhost: all $(VHOST_DAEMON)
	RINGLOOP_VU_BENCH=1 $(PYTHON) -m pytest -q -s tests/test_vhost_user.py -k iops_vs_qemu_storage_daemon

.PHONY: bench-vhost

# libFuzzer target for the message parser + handler, in `make fuzz` (and so
# check-host's smoke run) like fuzz_snapshot: FUZZ_BINS was fixed before this
# fragment, so the binary is added as a prerequisite here.
FUZZ_TARGETS += fuzz_vhost_user
fuzz check-host: $(FUZZ_DIR)/fuzz_vhost_user

# The fake carrier it shares with test_vhost_user (tests/host/vu_fixture.c).
$(FUZZ_DIR)/obj/fuzz/fuzz_vhost_user.o: FUZZ_CFLAGS += -Itests/host

$(FUZZ_DIR)/fuzz_vhost_user: $(FUZZ_DIR)/obj/fuzz/fuzz_vhost_user.o \
		$(FUZZ_DIR)/obj/tests/host/vu_fixture.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $^ -o $@

fuzz-vhost: $(FUZZ_DIR)/fuzz_vhost_user
	@mkdir -p $(FUZZ_DIR)/corpus-fuzz_vhost_user
	$(FUZZ_DIR)/fuzz_vhost_user -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/fuzz_vhost_user- \
	  $(FUZZ_DIR)/corpus-fuzz_vhost_user fuzz/corpus/fuzz_vhost_user \
	  2>$(FUZZ_DIR)/fuzz_vhost_user.log || { tail -50 $(FUZZ_DIR)/fuzz_vhost_user.log; exit 1; }
	@grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss)' \
	  $(FUZZ_DIR)/fuzz_vhost_user.log

.PHONY: fuzz-vhost
