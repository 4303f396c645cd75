# SPDX-License-Identifier: Apache-2.0
# The image: build/efi/ringloop.efi (GNU-EFI) and the FAT ESP build/efi/esp.img.
include mk/core.mk

EFI_DIR   := $(BUILD)/efi
EFI_IMAGE := $(EFI_DIR)/ringloop.efi
EFI_SO    := $(EFI_DIR)/ringloop.so
ESP_IMAGE := $(EFI_DIR)/esp.img

GNUEFI_INC := /usr/include/efi
GNUEFI_LIB := /usr/lib
EFI_LDS    := linker/efi.lds

# Same code-generation flags as newlib (tools/build-newlib.sh): PIC for the
# relocatable EFI image, no red zone, no stack protector. Frame pointers stay
# on so the panic handler can walk the stack. SSE is allowed: the interrupt
# stubs save and restore the FPU/SSE state (fxsave) around C handlers.
EFI_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fpic -mno-red-zone \
	-fno-stack-protector -fno-strict-aliasing -fno-omit-frame-pointer \
	-DGNU_EFI_USE_MS_ABI -maccumulate-outgoing-args \
	-isystem $(NEWLIB_INC) -I$(GNUEFI_INC) -I$(GNUEFI_INC)/x86_64 \
	-I. -Ikernel -I$(EFI_DIR)/gen $(CORE_INCLUDES) -DRINGLOOP_KERNEL=1 -MMD -MP
EFI_ASFLAGS := -g -fpic -I. -Ikernel -MMD -MP
LIBGCC := $(shell gcc -print-libgcc-file-name)
EFI_LDFLAGS := -nostdlib -znocombreloc -znoexecstack -T $(EFI_LDS) -shared -Bsymbolic \
	--no-undefined -L$(GNUEFI_LIB)

# Entry points: boot/efi_main.c for the EFI image, boot/pvh* for the PVH ELF;
# everything else is shared by both images.
EFI_ENTRY_SRCS := boot/efi_main.c
PVH_ENTRY_SRCS := boot/pvh.S boot/pvh_main.c
BOOT_SRCS   := $(filter-out $(EFI_ENTRY_SRCS) $(PVH_ENTRY_SRCS),$(wildcard boot/*.c) $(wildcard boot/*.S))
KERNEL_SRCS := $(wildcard kernel/*.c) $(wildcard kernel/*/*.c)
LIBC_SRCS   := $(wildcard libc/*.c)
# wildcard: sources another engineer has not written yet are skipped, not fatal.
IMAGE_SRCS  := $(BOOT_SRCS) $(sort $(KERNEL_SRCS) $(wildcard $(CORE_KERNEL_SRCS))) $(LIBC_SRCS) \
	$(wildcard $(CORE_SRCS))
IMAGE_OBJS  := $(patsubst %,$(EFI_DIR)/obj/%.o,$(IMAGE_SRCS))
EFI_ENTRY_OBJS := $(patsubst %,$(EFI_DIR)/obj/%.o,$(EFI_ENTRY_SRCS))
PVH_ENTRY_OBJS := $(patsubst %,$(EFI_DIR)/obj/%.o,$(PVH_ENTRY_SRCS))
PVH_ELF := $(EFI_DIR)/ringloop.elf
PVH_LDS := linker/pvh.lds

# The banner carries the git hash; regenerate version.h only when it changes
# so an unchanged tree does not relink.
VERSION_H := $(EFI_DIR)/gen/version.h
$(VERSION_H): FORCE
	@mkdir -p $(dir $@)
	@printf '#define RINGLOOP_VERSION "%s"\n#define RINGLOOP_GIT_HASH "%s"\n' \
		'$(VERSION)' '$(GIT_HASH)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
FORCE:
.PHONY: FORCE

# Every object waits for newlib's headers and for version.h.
$(EFI_DIR)/obj/%.c.o: %.c | $(NEWLIB_STAMP) $(VERSION_H)
	@mkdir -p $(dir $@)
	gcc $(EFI_CFLAGS) -c $< -o $@
$(EFI_DIR)/obj/%.S.o: %.S
	@mkdir -p $(dir $@)
	gcc $(EFI_ASFLAGS) -c $< -o $@
$(EFI_DIR)/obj/kernel/version.c.o: $(VERSION_H)

$(EFI_SO): $(EFI_ENTRY_OBJS) $(IMAGE_OBJS) $(EFI_LDS) $(NEWLIB_STAMP)
	ld $(EFI_LDFLAGS) $(GNUEFI_LIB)/crt0-efi-x86_64.o $(EFI_ENTRY_OBJS) $(IMAGE_OBJS) \
		--start-group $(NEWLIB_LIBS) -lgnuefi -lefi $(LIBGCC) --end-group -o $@

# The sections GNU-EFI's own Makefiles copy into the PE image.
EFI_OBJCOPY_SECTIONS := -j .text -j .sdata -j .data -j .dynamic -j .dynsym -j .rel \
	-j .rela -j '.rel.*' -j '.rela.*' -j .reloc
$(EFI_IMAGE): $(EFI_SO)
	objcopy $(EFI_OBJCOPY_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@

# FAT ESP with the removable-media boot path; mtools, no root mounts.
$(ESP_IMAGE): $(EFI_IMAGE)
	rm -f $@
	$(MKFS_FAT) -C -n RINGLOOP $@ 8192 >/dev/null
	mmd -i $@ ::/EFI ::/EFI/BOOT
	mcopy -i $@ $< ::/EFI/BOOT/BOOTX64.EFI

# The PVH ELF for -M microvm: the same objects, static, at a fixed address.
$(PVH_ELF): $(PVH_ENTRY_OBJS) $(IMAGE_OBJS) $(PVH_LDS) $(NEWLIB_STAMP)
	ld -static -nostdlib -znoexecstack -znorelro --no-dynamic-linker --no-warn-rwx-segments -T $(PVH_LDS) \
		$(PVH_ENTRY_OBJS) $(IMAGE_OBJS) \
		--start-group $(NEWLIB_LIBS) $(LIBGCC) --end-group -o $@

-include $(IMAGE_OBJS:.o=.d) $(EFI_ENTRY_OBJS:.o=.d) $(PVH_ENTRY_OBJS:.o=.d)
