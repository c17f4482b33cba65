# The freestanding core and its unit tests on the fake arch (issue #2).
# The unit-test rules live in the top Makefile (they need every component's sources).

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
