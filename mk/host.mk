# SPDX-License-Identifier: Apache-2.0
# Hosted build (Linux user space) in build/host/: unit tests, ring tests,
# benchmarks, fuzzers.
include mk/core.mk
HOST_DIR := $(BUILD)/host
host:
	@mkdir -p $(HOST_DIR)
check-host: host
