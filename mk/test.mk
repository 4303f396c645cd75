# SPDX-License-Identifier: Apache-2.0
# Test and benchmark entry points (owned by the harness; see tests/ and tools/).
#
#   make check-image   build the image, run the pytest suite in tests/
#   make test          deps, then check-host, then check-image
#   make bench         bench-boot + bench-ring (numbers printed, never asserted)
#   make bench-boot    median ms from QEMU start to the prompt vs the firmware floor

TEST_LOG_DIR := $(BUILD)/test-logs
FLOOR_SRC := tools/floor/floor.c
FLOOR_OBJ := $(EFI_DIR)/floor/floor.o
FLOOR_SO  := $(EFI_DIR)/floor/floor.so
FLOOR_EFI := $(EFI_DIR)/floor.efi
FLOOR_ESP := $(EFI_DIR)/floor-esp.img
PYTEST_ARGS  ?=
# mkfs.fat is in /usr/sbin, which a normal user's PATH on Debian lacks.
MKFS_FAT ?= $(firstword $(wildcard /usr/sbin/mkfs.fat /sbin/mkfs.fat) mkfs.fat)

test: deps
	$(MAKE) check-host
	$(MAKE) check-image

# pytest exits 5 when it collected nothing; that is a failure here too (it
# would mean the harness lost its tests), and it is non-zero, so make stops.
check-image: all $(FLOOR_ESP)
	@mkdir -p $(TEST_LOG_DIR)
	$(PYTHON) -m pytest -q -rfEs tests $(PYTEST_ARGS)

# ---- the firmware floor: a trivial EFI app built with the kernel's flags ----

$(FLOOR_OBJ): $(FLOOR_SRC)
	@mkdir -p $(dir $@)
	gcc $(EFI_CFLAGS) -c $< -o $@
$(FLOOR_SO): $(FLOOR_OBJ) $(EFI_LDS)
	ld $(EFI_LDFLAGS) $(GNUEFI_LIB)/crt0-efi-x86_64.o $(FLOOR_OBJ) \
		--start-group -lgnuefi -lefi --end-group -o $@
$(FLOOR_EFI): $(FLOOR_SO)
	objcopy $(EFI_OBJCOPY_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@
$(FLOOR_ESP): $(FLOOR_EFI)
	rm -f $@
	$(MKFS_FAT) -C -n FLOOR $@ 8192 >/dev/null
	mmd -i $@ ::/EFI ::/EFI/BOOT
	mcopy -i $@ $< ::/EFI/BOOT/BOOTX64.EFI
floor: $(FLOOR_ESP)
.PHONY: floor

-include $(FLOOR_OBJ:.o=.d)

# ---- benchmarks ----
BENCH_BOOT_RUNS ?= 5
bench: bench-boot bench-ring
bench-boot: all $(FLOOR_ESP)
	@mkdir -p $(BUILD)/bench
	$(PYTHON) tools/bench-boot --runs $(BENCH_BOOT_RUNS) --image $(ESP_IMAGE) \
		--floor $(FLOOR_ESP) --out $(BUILD)/bench/boot.txt
	$(PYTHON) tools/bench-boot --machine microvm --runs $(BENCH_BOOT_RUNS) \
		--image $(PVH_ELF) --out $(BUILD)/bench/boot-microvm.txt
.PHONY: floor bench
