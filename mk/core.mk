# The freestanding core and its unit tests on the fake arch (issue #2).
ifeq ($(ARCH),x86_64)

FAKE_SRCS := arch/fake/fake.c
UNIT_TEST_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_LIB_SRCS := $(CORE_SRCS) $(FAKE_SRCS) $(HOST_LINUX_SRCS) $(wildcard tests/unit/support/*.c)
UNIT_LDLIBS := -lcmocka -lpthread

$(eval $(call variant,fake,-O1,fake))
$(eval $(call variant,fake-asan,-O1 $(SAN_ASAN),fake))
$(eval $(call variant,fake-tsan,-O1 $(SAN_TSAN),fake))

# $(call unit_prog,VARIANT,LDFLAGS): a rule per test program of that variant.
define unit_prog
$(BUILD)/$(1)/tests/unit/%: $(BUILD)/$(1)/tests/unit/%.o $(patsubst %.c,$(BUILD)/$(1)/%.o,$(UNIT_LIB_SRCS))
	$$(HOSTCC) $(2) -o $$@ $$^ $(UNIT_LDLIBS)
endef
$(eval $(call unit_prog,fake,))
$(eval $(call unit_prog,fake-asan,$(SAN_ASAN)))
$(eval $(call unit_prog,fake-tsan,$(SAN_TSAN)))

UNIT_PROGS := $(foreach v,fake fake-asan fake-tsan,$(patsubst %.c,$(BUILD)/$(v)/%,$(UNIT_TEST_SRCS)))
.SECONDARY: $(foreach v,fake fake-asan fake-tsan,$(patsubst %.c,$(BUILD)/$(v)/%.o,$(UNIT_TEST_SRCS) $(UNIT_LIB_SRCS)))

CHECK_DEPS += $(UNIT_PROGS)
CHECK_TESTS += $(UNIT_PROGS) tests/freestanding.sh
.PHONY: unit
unit: $(UNIT_PROGS)
	@tests/run -j 2 $(UNIT_PROGS)

endif

# core/ must build freestanding, with no libc header reachable (DESIGN.md): the host
# compiler and the AArch64 cross compiler, against the compilers' own headers only.
FREESTANDING_FLAGS := -std=c11 $(WARN) -ffreestanding -nostdlib -nostdinc -Iinclude -Iarch/fake/include -O2
freestanding:
	@mkdir -p $(BUILD)/freestanding/host $(BUILD)/freestanding/aarch64
	@for f in $(CORE_SRCS); do \
		$(HOSTCC) $(FREESTANDING_FLAGS) -isystem $$($(HOSTCC) -print-file-name=include) \
			-c $$f -o $(BUILD)/freestanding/host/$$(basename $$f .c).o || exit 1; \
		$(CROSS_COMPILE)gcc $(FREESTANDING_FLAGS) -isystem $$($(CROSS_COMPILE)gcc -print-file-name=include) \
			-mgeneral-regs-only -c $$f -o $(BUILD)/freestanding/aarch64/$$(basename $$f .c).o || exit 1; \
	done
	@echo "freestanding: $(words $(CORE_SRCS)) core files built for host and aarch64"
