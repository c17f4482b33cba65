# Linux / JSON-configured VMs on the bare-metal AArch64 hypervisor (issues #7, #8): the
# host-side tool that turns VM configs into the blob QEMU's loader hands cvisor
# (tools/cvisor-vmdtb, include/cvisor/vmdtb.h), and the Linux boot tests under cvisor.
# The EL2 side (host/aarch64-virt/vmconfig.c, linux.c, libfdt) is in mk/aarch64.mk.

# ---- cvisor-vmdtb: a host program in every ARCH's build (scripts/run-aarch64 runs it) ----
$(eval $(call variant,vmdtb,-O2 -D_GNU_SOURCE,fake))
CVISOR_VMDTB := $(BUILD)/cvisor-vmdtb
VMDTB_SRCS := tools/cvisor-vmdtb/main.c tools/cvisor/config_json.c boot/host/image.c boot/linux-arm64.c core/errors.c
$(CVISOR_VMDTB): $(patsubst %.c,$(BUILD)/vmdtb/%.o,$(VMDTB_SRCS))
	$(HOSTCC) -o $@ $^ -lcjson -lfdt -lz
.PHONY: cvisor-vmdtb
cvisor-vmdtb: $(CVISOR_VMDTB)
ALL_TARGETS += $(CVISOR_VMDTB)

ifeq ($(ARCH),x86_64)
CHECK_DEPS += $(CVISOR_VMDTB)
CHECK_TESTS += $(sort $(wildcard tests/linux/cvisor-*.sh))
endif
