# Linux guests (issue #7): the Debian arm64 guest fetched by scripts/setup.d/10-arm64-guest,
# the project's initramfs (guests/linux/), the boot protocol and device-tree code (boot/),
# and the tests that need no hypervisor (tests/linux/).

# The fetched files (KEY=value lines; see scripts/setup.d/10-arm64-guest). Absent on a
# machine where setup has not run: then the initramfs cannot be built and the tests skip.
ARM64_GUEST_ENV := $(firstword $(wildcard build/guest-cache/env /var/cache/cvisor/arm64-guest/env))
ifneq ($(ARM64_GUEST_ENV),)
include $(ARM64_GUEST_ENV)
endif

# ---- the guest initramfs: busybox-static + guests/linux/rootfs (one for every ARCH) ----
LINUX_GUEST_DIR := build/linux-guest
LINUX_INITRD := $(LINUX_GUEST_DIR)/initrd.gz
LINUX_ROOTFS_FILES := $(shell find guests/linux/rootfs -type f)
.PHONY: linux-initrd
linux-initrd: $(LINUX_INITRD)
$(LINUX_INITRD): guests/linux/mkinitramfs.sh $(LINUX_ROOTFS_FILES) $(ARM64_GUEST_ENV)
	@[ -n "$(ARM64_BUSYBOX)" ] || { echo "no busybox-static:arm64: run scripts/setup" >&2; exit 1; }
	@mkdir -p $(@D)
	guests/linux/mkinitramfs.sh $(ARM64_BUSYBOX) $@

ifeq ($(ARCH),x86_64)
ifneq ($(ARM64_BUSYBOX),)
ALL_TARGETS += $(LINUX_INITRD)
CHECK_DEPS += $(LINUX_INITRD)
endif
CHECK_TESTS += tests/linux/direct-boot.sh
endif
