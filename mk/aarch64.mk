# The bare-metal AArch64 EL2 hypervisor (issue #5): `make ARCH=aarch64 PLATFORM=qemu-virt`.
#   build/aarch64/cvisor.elf          the default image: runs the demo guest (4 vCPUs)
#   build/aarch64/cvisor-<guest>.elf  one image per test guest (guests/aarch64/<guest>.c)
# A guest is chosen at build time: its flat binary is embedded with .incbin
# (host/aarch64-virt/guest_image.S), with its vCPU count from A64_CPUS_<guest> and, when
# A64_VGIC_<guest> is 1, the emulated GICv3 (devices/vgic-v3.c) in its VM.
# In the default (x86_64) build, `make check` builds these with a recursive make and
# runs tests/aarch64/*.sh under qemu-system-aarch64.

A64_GUESTS := hello hypercall sysreg smp noisv irq nodev reset timeshare bench demo vgic timer timerwfi timergic echo timersgi suspendtimer wfimasked tp2leak pstate unmapped
A64_CPUS_smp := 4
A64_CPUS_demo := 4
A64_CPUS_timeshare := 2
A64_CPUS_vgic := 2
A64_VGIC_vgic := 1
A64_CPUS_timerwfi := 2
A64_CPUS_timersgi := 2
A64_CPUS_tp2leak := 2
A64_VGIC_timergic := 1
A64_VGIC_echo := 1

ifeq ($(ARCH),aarch64)
A64_CC := $(CROSS_COMPILE)gcc
A64_OBJCOPY := $(CROSS_COMPILE)objcopy
A64_GCC_INC := $(shell $(A64_CC) -print-file-name=include)
A64_FLAGS := -std=gnu11 $(WARN) -g -MMD -MP -O2 -ffreestanding -nostdlib -nostdinc -isystem $(A64_GCC_INC) \
	-mgeneral-regs-only -mstrict-align -mno-outline-atomics -mbranch-protection=none \
	-fno-stack-protector -fno-pic -fno-pie -fno-common
A64_HV_CFLAGS := $(A64_FLAGS) -Iinclude -Iarch/aarch64/include
A64_LDFLAGS := -nostdlib -static -no-pie -Wl,--no-dynamic-linker -Wl,-z,noexecstack -Wl,--build-id=none -Wl,--no-warn-rwx-segments
A64 := $(BUILD)
A64_HV_SRCS := $(CORE_SRCS) $(wildcard arch/aarch64/*.c) $(wildcard arch/aarch64/*.S) \
	$(filter-out host/aarch64-virt/guest_image.S,$(wildcard host/aarch64-virt/*.c host/aarch64-virt/*.S)) \
	devices/pl011.c devices/vgic-v3.c devices/vgic-v3-a64.c devices/vtimer.c
# VMs from JSON configs and Linux guests (host/aarch64-virt/vmconfig.c, linux.c; mk/lboot.mk):
# boot/ and Debian's arm64 libfdt.a (scripts/setup.d/10-arm64-guest). libfdt.h includes the
# C library's headers, so those files see the cross compiler's (no -nostdinc); without the
# library the images still build, and refuse a config blob with a message.
A64_GUEST_ENV := $(firstword $(wildcard build/guest-cache/env /var/cache/cvisor/arm64-guest/env))
ifneq ($(A64_GUEST_ENV),)
include $(A64_GUEST_ENV)
endif
ifneq ($(wildcard $(ARM64_LIBFDT_A)),)
A64_HV_SRCS += boot/linux-arm64.c boot/fdt.c
A64_LIBFDT := $(ARM64_LIBFDT_A)
A64_FDT_OBJS := $(patsubst %,$(A64)/hv/%.o,boot/fdt.c host/aarch64-virt/vmconfig.c host/aarch64-virt/linux.c)
$(A64_FDT_OBJS): A64_HV_CFLAGS := $(filter-out -nostdinc,$(A64_HV_CFLAGS)) -I$(ARM64_LIBFDT_INCLUDE)
else
A64_LIBFDT :=
$(A64)/hv/host/aarch64-virt/vmconfig.c.o $(A64)/hv/host/aarch64-virt/linux.c.o: A64_EXTRA := -DCVISOR_NO_LIBFDT
endif
A64_HV_OBJS := $(patsubst %,$(A64)/hv/%.o,$(A64_HV_SRCS))

# lib.c implements memcpy/memset: keep the compiler from turning its loops into calls to them.
$(A64)/hv/host/aarch64-virt/lib.c.o: A64_EXTRA := -fno-builtin -fno-tree-loop-distribute-patterns

$(A64)/hv/%.c.o: %.c
	@mkdir -p $(@D)
	$(A64_CC) $(A64_HV_CFLAGS) $(A64_EXTRA) -c $< -o $@
$(A64)/hv/%.S.o: %.S
	@mkdir -p $(@D)
	$(A64_CC) $(A64_HV_CFLAGS) -c $< -o $@

# ---- guests ----
A64_GUEST_CFLAGS := $(A64_FLAGS) -Iinclude -fno-builtin -fno-tree-loop-distribute-patterns
A64_GUEST_COMMON := guests/aarch64/start.S guests/aarch64/lib.c
$(A64)/guests/%.c.o: guests/aarch64/%.c
	@mkdir -p $(@D)
	$(A64_CC) $(A64_GUEST_CFLAGS) -c $< -o $@
$(A64)/guests/%.S.o: guests/aarch64/%.S
	@mkdir -p $(@D)
	$(A64_CC) $(A64_GUEST_CFLAGS) -c $< -o $@
$(A64)/guests/%.elf: $(A64)/guests/%.c.o $(A64)/guests/start.S.o $(A64)/guests/lib.c.o guests/aarch64/guest.ld
	$(A64_CC) $(A64_LDFLAGS) -T guests/aarch64/guest.ld -o $@ $(A64)/guests/start.S.o $(A64)/guests/lib.c.o $<
$(A64)/guests/%.bin: $(A64)/guests/%.elf
	$(A64_OBJCOPY) -O binary $< $@

# ---- hypervisor images, one per guest ----
$(A64)/img/%.o: host/aarch64-virt/guest_image.S $(A64)/guests/%.bin
	@mkdir -p $(@D)
	$(A64_CC) $(A64_HV_CFLAGS) -DGUEST_BIN='"$(A64)/guests/$*.bin"' -DGUEST_NAME='"$*"' \
		-DGUEST_CPUS=$(or $(A64_CPUS_$*),1) -DGUEST_VGIC=$(or $(A64_VGIC_$*),0) -c $< -o $@
$(A64)/cvisor-%.elf: $(A64_HV_OBJS) $(A64)/img/%.o host/aarch64-virt/linker.ld
	$(A64_CC) $(A64_LDFLAGS) -T host/aarch64-virt/linker.ld -o $@ $(A64_HV_OBJS) $(A64)/img/$*.o $(A64_LIBFDT) -lgcc
$(A64)/cvisor.elf: $(A64)/cvisor-demo.elf
	cp $< $@

.SECONDARY:
A64_IMAGES := $(A64)/cvisor.elf $(patsubst %,$(A64)/cvisor-%.elf,$(A64_GUESTS))
ALL_TARGETS += $(A64_IMAGES)
.PHONY: aarch64-images
aarch64-images: $(A64_IMAGES)
# `make ARCH=aarch64 PLATFORM=qemu-virt check` runs the QEMU tests of these images too.
CHECK_DEPS += $(A64_IMAGES)
CHECK_TESTS += $(sort $(wildcard tests/aarch64/*.sh))
else
# Default build: the PL011 is unit-tested on the fake arch (tests/unit/test_pl011.c),
# and the QEMU tests of the bare-metal image join `make check`.
UNIT_EXTRA_SRCS += devices/pl011.c
.PHONY: aarch64-images
aarch64-images:
	@mkdir -p build; if command -v $(CROSS_COMPILE)gcc >/dev/null; then \
		flock build/.aarch64.lock $(MAKE) -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt aarch64-images; \
	else echo "aarch64-images: $(CROSS_COMPILE)gcc missing: run scripts/setup"; fi
CHECK_DEPS += aarch64-images
CHECK_TESTS += $(sort $(wildcard tests/aarch64/*.sh))
endif
