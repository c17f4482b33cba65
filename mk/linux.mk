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

# ---- boot/: the arm64 boot protocol and device trees, host builds and tests ----
# boot/*.c is freestanding (it also runs at EL2); boot/host/ is the Linux-side part (files,
# zlib). On the host, libfdt is Debian's amd64 libfdt-dev.
BOOT_SRCS := boot/linux-arm64.c boot/fdt.c
BOOT_HOST_SRCS := boot/host/image.c core/errors.c
BOOT_LDLIBS := -lfdt -lz
# The command-line front end (boot/host/cvisor-boot.c), a host program in every ARCH's
# build (build/<ARCH>/cvisor-boot): scripts and tests use it to check images and write DTBs.
$(eval $(call variant,boot,-O2,fake))
CVISOR_BOOT := $(BUILD)/cvisor-boot
BOOT_TOOL_OBJS := $(patsubst %.c,$(BUILD)/boot/%.o,boot/host/cvisor-boot.c $(BOOT_HOST_SRCS) $(BOOT_SRCS))
$(CVISOR_BOOT): $(BOOT_TOOL_OBJS)
	$(HOSTCC) -o $@ $^ $(BOOT_LDLIBS)
.PHONY: cvisor-boot
cvisor-boot: $(CVISOR_BOOT)

ifeq ($(ARCH),x86_64)
$(eval $(call variant,boot-asan,-O1 $(SAN_ASAN),fake))

# cmocka tests, plain and under ASan+UBSan (they feed the parsers truncated input).
BOOT_TEST_NAMES := test_linux_arm64 test_fdt
define boot_test
$(BUILD)/$(1)/tests/linux/%: $(BUILD)/$(1)/tests/linux/%.o $(patsubst %.c,$(BUILD)/$(1)/%.o,$(BOOT_HOST_SRCS) $(BOOT_SRCS))
	$$(HOSTCC) $(2) -o $$@ $$^ -lcmocka $(BOOT_LDLIBS)
endef
$(eval $(call boot_test,boot,))
$(eval $(call boot_test,boot-asan,$(SAN_ASAN)))
BOOT_TESTS := $(foreach v,boot boot-asan,$(patsubst %,$(BUILD)/$(v)/tests/linux/%,$(BOOT_TEST_NAMES)))
.SECONDARY: $(foreach v,boot boot-asan,$(patsubst %,$(BUILD)/$(v)/tests/linux/%.o,$(BOOT_TEST_NAMES)) \
	$(patsubst %.c,$(BUILD)/$(v)/%.o,$(BOOT_HOST_SRCS) $(BOOT_SRCS)))

CHECK_DEPS += $(CVISOR_BOOT) $(BOOT_TESTS)
CHECK_TESTS += $(BOOT_TESTS) tests/linux/boot-freestanding.sh
endif
ALL_TARGETS += $(CVISOR_BOOT)

# ---- make bench-linux: boot-to-init under cvisor and directly under QEMU (bench/linux) ----
.PHONY: bench-linux
bench-linux: $(LINUX_INITRD)
	@bench/linux/boot-to-init.sh
BENCH_TARGETS += bench-linux
