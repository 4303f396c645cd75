# SPDX-License-Identifier: Apache-2.0
#
# ringloop: one non-recursive Makefile. Per-area fragments live in mk/*.mk and
# are included here; every object goes out of tree under build/.
#
#   make            build/efi/ringloop.efi + build/efi/esp.img (the image)
#   make host       the hosted build in build/host/
#   make run        install deps, build, boot the image (tools/run)
#   make test       install deps, check-host + check-image
#   make check-linux  Debian's Linux as a guest on our vhost-user-blk daemon
#                   (opt-in: downloads the kernel; mk/linux-guest.mk)
#   make bench      benchmarks (numbers printed, never asserted)

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

BUILD    := build
VERSION  := 0.1.0
GIT_HASH := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
PYTHON   := /usr/bin/python3

WARN := -Wall -Wextra -Werror

include mk/newlib.mk
include mk/efi.mk
include mk/host.mk
include mk/test.mk
# Hosted tests of the loopback device models and the drivers (issue 4).
-include mk/host-devices.mk mk/host-drivers.mk mk/host-snapshot.mk mk/host-vhost.mk
-include mk/host-hostile.mk mk/host-hdt.mk
# The Linux guest (after host-vhost.mk: it needs the daemon).
include mk/linux-guest.mk

# check-host runs every hosted suite and fuzz every fuzz target; the suites
# and targets are defined by the fragments above.
HOST_SUITES := $(foreach s,devices drivers snapshot hostile hdt,$(if $(wildcard mk/host-$(s).mk),check-$(s)))
HOST_FUZZ   := $(foreach s,devices snapshot,$(if $(wildcard mk/host-$(s).mk),fuzz-$(s)))
check-host: $(HOST_SUITES)
fuzz: $(HOST_FUZZ)

.PHONY: all host deps run test check-host check-image bench bench-boot fuzz clean

all: $(EFI_IMAGE) $(ESP_IMAGE) $(PVH_ELF)

deps:
	tools/deps.sh

run: deps
	$(MAKE) all
	tools/run $(RUN_ARGS)

clean:
	rm -rf $(BUILD)
