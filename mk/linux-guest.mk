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

LINUX_GUEST := tools/linux-guest/mkguest.py

linux-guest:
	$(PYTHON) $(LINUX_GUEST)

check-linux: deps
	$(MAKE) $(VHOST_DAEMON) $(ESP_IMAGE) linux-guest
	@mkdir -p $(TEST_LOG_DIR)
	$(PYTHON) -m pytest -q -rfEs tests/linux $(PYTEST_ARGS)

.PHONY: linux-guest check-linux
