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

# Components add sources and tests to the variables above and below; the rules that
# consume those lists are instantiated after every mk file has been read.
#   PRODUCT_SRCS     hosted product library sources beyond core/ and host/linux/ (backend, devices)
#   UNIT_EXTRA_SRCS  extra sources linked into every unit test on the fake arch (devices)
PRODUCT_SRCS :=
UNIT_EXTRA_SRCS :=
include $(sort $(wildcard mk/*.mk))

ifeq ($(ARCH),x86_64)
# Unit tests of core/ on the fake arch, each built three times: plain, ASan+UBSan, TSan.
FAKE_SRCS := $(wildcard arch/fake/*.c)
UNIT_TEST_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_LIB_SRCS := $(CORE_SRCS) $(FAKE_SRCS) $(HOST_LINUX_SRCS) $(UNIT_EXTRA_SRCS) $(wildcard tests/unit/support/*.c)
UNIT_LDLIBS := -lcmocka -lpthread
UNIT_VARIANTS := fake fake-asan fake-tsan
$(eval $(call variant,fake,-O1,fake))
$(eval $(call variant,fake-asan,-O1 $(SAN_ASAN),fake))
$(eval $(call variant,fake-tsan,-O1 $(SAN_TSAN),fake))

# $(call unit_prog,VARIANT,LDFLAGS): the rule for every test program of that variant.
define unit_prog
$(BUILD)/$(1)/tests/unit/%: $(BUILD)/$(1)/tests/unit/%.o $(patsubst %.c,$(BUILD)/$(1)/%.o,$(UNIT_LIB_SRCS))
	$$(HOSTCC) $(2) -o $$@ $$^ $(UNIT_LDLIBS)
endef
$(eval $(call unit_prog,fake,))
$(eval $(call unit_prog,fake-asan,$(SAN_ASAN)))
$(eval $(call unit_prog,fake-tsan,$(SAN_TSAN)))
UNIT_PROGS := $(foreach v,$(UNIT_VARIANTS),$(patsubst %.c,$(BUILD)/$(v)/%,$(UNIT_TEST_SRCS)))
.SECONDARY: $(foreach v,$(UNIT_VARIANTS),$(patsubst %.c,$(BUILD)/$(v)/%.o,$(UNIT_TEST_SRCS) $(UNIT_LIB_SRCS)))
CHECK_DEPS += $(UNIT_PROGS)
CHECK_TESTS := $(UNIT_PROGS) tests/freestanding.sh $(CHECK_TESTS)

.PHONY: unit
unit: $(UNIT_PROGS)
	@tests/run -j 2 $(UNIT_PROGS)

# The hosted product library: core/, host/linux/, the KVM backend and the devices,
# linked by the cvisor command, the KVM tests and the benchmarks.
$(eval $(call variant,kvm,-O2,x86_64-kvm))
LIBCVISOR := $(BUILD)/libcvisor.a
LIBCVISOR_SRCS := $(CORE_SRCS) $(HOST_LINUX_SRCS) $(PRODUCT_SRCS)
$(LIBCVISOR): $(patsubst %.c,$(BUILD)/kvm/%.o,$(LIBCVISOR_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
endif

all: $(ALL_TARGETS)

check: $(CHECK_DEPS)
	@tests/run -j 2 $(CHECK_TESTS)

bench: $(BENCH_TARGETS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
