# Several VMs on the bare-metal hypervisor (issue #8): make bench-linux also runs the
# two-VM rows (bench/linux/multivm.sh). The tests are picked up by the wildcards of
# mk/aarch64.mk (tests/aarch64/*.sh) and mk/lboot.mk (tests/linux/cvisor-*.sh).
.PHONY: bench-linux-multivm
bench-linux-multivm: $(LINUX_INITRD)
	@bench/linux/multivm.sh
bench-linux: bench-linux-multivm

# The two-VM example of README.md (configs/linux-a.json, configs/linux-b.json) names the
# kernel as build/linux-guest/vmlinuz: a link to the fetched Debian kernel, whose file
# name carries its version.
ifeq ($(ARCH),x86_64)
ifneq ($(ARM64_KERNEL),)
build/linux-guest/vmlinuz: $(ARM64_GUEST_ENV)
	@mkdir -p $(@D)
	ln -sfn $(ARM64_KERNEL) $@
ALL_TARGETS += build/linux-guest/vmlinuz
CHECK_DEPS += build/linux-guest/vmlinuz
endif
endif
