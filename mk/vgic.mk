# The emulated GICv3 (devices/vgic-v3.c; issue #7). Its register and list-register logic
# is portable C, unit-tested on the fake arch (tests/unit/test_vgic.c, in every unit
# variant); the AArch64 image links it with devices/vgic-v3-a64.c (mk/aarch64.mk), and
# the test guest guests/aarch64/vgic.c runs under QEMU (tests/aarch64/vgic.sh).
ifeq ($(ARCH),x86_64)
UNIT_EXTRA_SRCS += devices/vgic-v3.c
endif
