# SPDX-License-Identifier: Apache-2.0
# The tiny Linux guest (tools/linux-guest/) and the tests that boot it
# (tests/linux/). Opt-in, not part of `make test`: the first build downloads
# Debian 12's kernel and busybox-static (~72 MB) into build/linux/debs/.
#
#   make linux-guest   build/linux/: vmlinux-<kver>, initramfs.cpio (cached)
#   make check-linux   + the daemon and the q35 image, then pytest tests/linux
#                      (Linux's virtio_blk on ringloop-vhost-user-blk, the
#                      verdicts, the hostile daemon's modes beside our
#                      driver's `test hostile-device`)
#   make bench-vhost-linux  fio IOPS in the guest, ours vs qemu-storage-daemon

LINUX_GUEST := tools/linux-guest/mkguest.py

linux-guest:
	$(PYTHON) $(LINUX_GUEST)

check-linux: deps
	$(MAKE) $(VHOST_DAEMON) $(ESP_IMAGE) linux-guest
	@mkdir -p $(TEST_LOG_DIR)
	$(PYTHON) -m pytest -q -rfEs tests/linux $(PYTEST_ARGS)

.PHONY: linux-guest check-linux

# Opt-in (issue 13, minutes): 4 KiB random-read IOPS from Debian's fio in the
# Linux guest (mkguest.py --with-fio) over vhost-user-blk-pci with 1 and 2
# queues, our daemon (io_uring, --poll-us 50) against qemu-storage-daemon on
# the same QEMU command line; a Markdown table, printed, never asserted.
# RINGLOOP_LINUX_BENCH_ROUNDS=N, RINGLOOP_LINUX_BENCH_RUNTIME=S.
bench-vhost-linux: deps
	$(MAKE) $(VHOST_DAEMON)
	$(PYTHON) $(LINUX_GUEST) --with-fio
	@mkdir -p $(TEST_LOG_DIR)
	RINGLOOP_LINUX_BENCH=1 $(PYTHON) -m pytest -q -s tests/linux/test_linux_bench.py $(PYTEST_ARGS)

.PHONY: bench-vhost-linux
