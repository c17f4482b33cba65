# cvisor build. ARCH picks the product:
#   x86_64  (default) hosted VMM over Linux /dev/kvm: build/x86_64/cvisor
#   aarch64 bare-metal EL2 hypervisor image for PLATFORM=qemu-virt: build/aarch64/
# Every component adds itself from mk/*.mk; `make check` runs every registered test.
ARCH ?= x86_64
ifeq ($(ARCH),x86_64)
else ifeq ($(ARCH),aarch64)
PLATFORM ?= qemu-virt
ifneq ($(PLATFORM),qemu-virt)
$(error PLATFORM must be qemu-virt, not '$(PLATFORM)')
endif
else
$(error ARCH must be x86_64 or aarch64, not '$(ARCH)')
endif

BUILD := build/$(ARCH)
HOSTCC ?= gcc
CROSS_COMPILE ?= aarch64-linux-gnu-
WARN := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wundef -Wvla \
	-Wswitch-default
CFLAGS_BASE := -std=c11 $(WARN) -Iinclude -g -MMD -MP
SAN_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_TSAN := -fsanitize=thread -fno-omit-frame-pointer

# Programs and scripts `make check` runs; each prints TAP (ok / not ok / # SKIP).
CHECK_TESTS :=
# What `make check` builds before running them.
CHECK_DEPS :=
# What plain `make` builds.
ALL_TARGETS :=
BENCH_TARGETS :=

.DEFAULT_GOAL := all
.PHONY: all check bench clean format freestanding

# $(call variant,NAME,EXTRA_CFLAGS,BACKEND): objects under $(BUILD)/NAME built against
# arch/BACKEND/include, so core/ is compiled once per backend and flag set.
define variant
$(BUILD)/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	$$(HOSTCC) $$(CFLAGS_BASE) $(2) -Iarch/$(3)/include -c $$< -o $$@
endef

CORE_SRCS := $(wildcard core/*.c)
HOST_LINUX_SRCS := $(wildcard host/linux/*.c)

include $(sort $(wildcard mk/*.mk))

all: $(ALL_TARGETS)

check: $(CHECK_DEPS)
	@tests/run -j 2 $(CHECK_TESTS)

bench: $(BENCH_TARGETS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
