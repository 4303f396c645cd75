# SPDX-License-Identifier: Apache-2.0
# newlib, built once from Debian's newlib-source into build/newlib/ (~30-60 s).
NEWLIB_DIR   := $(BUILD)/newlib
NEWLIB_STAMP := $(NEWLIB_DIR)/install/x86_64-elf/lib/libc.a
NEWLIB_INC   := $(NEWLIB_DIR)/install/x86_64-elf/include
NEWLIB_LIBS  := $(NEWLIB_DIR)/install/x86_64-elf/lib/libc.a $(NEWLIB_DIR)/install/x86_64-elf/lib/libm.a

$(NEWLIB_STAMP): tools/build-newlib.sh
	tools/build-newlib.sh $(NEWLIB_DIR)

newlib: $(NEWLIB_STAMP)
.PHONY: newlib
