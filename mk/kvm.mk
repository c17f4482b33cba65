# The x86_64 KVM backend (issue #3): arch/x86_64-kvm/ in the product library, the test
# guests of guests/x86_64/, the KVM integration tests (tests/kvm/) and the exit
# benchmark (bench/).
ifeq ($(ARCH),x86_64)
KVM_SRCS := $(wildcard arch/x86_64-kvm/*.c)
PRODUCT_SRCS += $(KVM_SRCS)

# ---- guests: freestanding flat binaries, linked and loaded at CV_X86_GUEST_LOAD_GPA ----
GUEST_X86_DIR := $(BUILD)/guests/x86_64
GUEST_X86_CFLAGS := -std=c11 $(WARN) -Iinclude -Iguests/x86_64 -O2 -g -MMD -MP -ffreestanding -fno-builtin \
	-nostdlib -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fcf-protection=none
GUEST_X86_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guests/x86_64/guest.ld -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
GUEST_X86_RT := $(GUEST_X86_DIR)/start.o $(GUEST_X86_DIR)/rt.o
# One guest per behaviour (tests/kvm/), the benchmark's spinner, and the `cvisor run` demo.
GUEST_X86_NAMES := hello pio mmio hypercall hlt triple off smp irq spin fwait msr demo
GUEST_X86_BINS := $(patsubst %,$(GUEST_X86_DIR)/%.bin,$(GUEST_X86_NAMES))
# The demo guest of `cvisor run` (tools/cvisor): load at CV_X86_GUEST_LOAD_GPA, enter there.
GUEST_X86_DEMO := $(GUEST_X86_DIR)/demo.bin

$(GUEST_X86_DIR)/%.o: guests/x86_64/%.c
	@mkdir -p $(@D)
	$(HOSTCC) $(GUEST_X86_CFLAGS) -c $< -o $@

$(GUEST_X86_DIR)/%.o: guests/x86_64/%.S
	@mkdir -p $(@D)
	$(HOSTCC) $(GUEST_X86_CFLAGS) -c $< -o $@

$(GUEST_X86_DIR)/%.elf: $(GUEST_X86_DIR)/%.o $(GUEST_X86_RT) guests/x86_64/guest.ld
	$(HOSTCC) $(GUEST_X86_LDFLAGS) -o $@ $(GUEST_X86_RT) $<

$(GUEST_X86_DIR)/%.bin: $(GUEST_X86_DIR)/%.elf
	objcopy -O binary $< $@

.SECONDARY: $(patsubst %,$(GUEST_X86_DIR)/%.o,$(GUEST_X86_NAMES)) $(GUEST_X86_RT) \
	$(patsubst %,$(GUEST_X86_DIR)/%.elf,$(GUEST_X86_NAMES))

ALL_TARGETS += $(GUEST_X86_BINS)

# ---- integration tests: the guests embedded (tests/kvm/guests.S), the product library ----
KVM_TEST_DIR := $(BUILD)/tests/kvm
KVM_TEST_CFLAGS := $(CFLAGS_BASE) -O2 -Iarch/x86_64-kvm/include
KVM_HARNESS_OBJS := $(KVM_TEST_DIR)/harness.o $(KVM_TEST_DIR)/guests.o
# The top Makefile sets LIBCVISOR after reading mk/*.mk: name the library directly here.
KVM_LIB := $(BUILD)/libcvisor.a

$(KVM_TEST_DIR)/%.o: tests/kvm/%.c
	@mkdir -p $(@D)
	$(HOSTCC) $(KVM_TEST_CFLAGS) -c $< -o $@

$(KVM_TEST_DIR)/guests.o: tests/kvm/guests.S $(GUEST_X86_BINS)
	@mkdir -p $(@D)
	$(HOSTCC) -c -Wa,-I,$(GUEST_X86_DIR) $< -o $@

$(KVM_TEST_DIR)/test_kvm: $(KVM_TEST_DIR)/test_kvm.o $(KVM_HARNESS_OBJS) $(KVM_LIB)
	$(HOSTCC) -o $@ $^ -lpthread

CHECK_DEPS += $(KVM_TEST_DIR)/test_kvm
CHECK_TESTS += $(KVM_TEST_DIR)/test_kvm

# The same tests once more with the backend, core and HAL under ASan+UBSan.
$(eval $(call variant,kvm-asan,-O1 $(SAN_ASAN),x86_64-kvm))
KVM_ASAN_OBJS := $(patsubst %.c,$(BUILD)/kvm-asan/%.o,$(CORE_SRCS) $(HOST_LINUX_SRCS) $(KVM_SRCS) \
	tests/kvm/test_kvm.c tests/kvm/harness.c)
$(BUILD)/kvm-asan/tests/kvm/test_kvm: $(KVM_ASAN_OBJS) $(KVM_TEST_DIR)/guests.o
	$(HOSTCC) $(SAN_ASAN) -o $@ $^ -lpthread
.SECONDARY: $(KVM_ASAN_OBJS)
CHECK_DEPS += $(BUILD)/kvm-asan/tests/kvm/test_kvm
CHECK_TESTS += $(BUILD)/kvm-asan/tests/kvm/test_kvm

# ---- benchmark: `make bench` runs it (a report, not a test) ----
KVM_BENCH := $(BUILD)/bench/bench_exits

$(BUILD)/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(HOSTCC) $(KVM_TEST_CFLAGS) -c $< -o $@

$(KVM_BENCH): $(BUILD)/bench/bench_exits.o $(KVM_HARNESS_OBJS) $(KVM_LIB)
	$(HOSTCC) -o $@ $^ -lpthread

.PHONY: bench-kvm-exits
bench-kvm-exits: $(KVM_BENCH)
	$(KVM_BENCH)

BENCH_TARGETS += bench-kvm-exits
ALL_TARGETS += $(KVM_BENCH)

# Issue #4: 200 VMs through the whole VM + VMM stack on KVM, no fd or memory growth.
$(KVM_TEST_DIR)/test_vm_loop: $(KVM_TEST_DIR)/test_vm_loop.o $(KVM_TEST_DIR)/guests.o $(KVM_LIB)
	$(HOSTCC) -o $@ $^ -lpthread
CHECK_DEPS += $(KVM_TEST_DIR)/test_vm_loop
CHECK_TESTS += $(KVM_TEST_DIR)/test_vm_loop
endif
