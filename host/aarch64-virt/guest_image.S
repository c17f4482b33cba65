/* SPDX-License-Identifier: MIT */
/*
 * The guest this image runs, chosen at build time (mk/aarch64.mk: GUEST_BIN, GUEST_NAME,
 * GUEST_CPUS, GUEST_VGIC): one hypervisor image per guest, so no loader or host file is involved.
 */
	.section .rodata.guest, "a"
	.balign 4096
	.globl guest_image_start, guest_image_end, guest_image_name, guest_image_cpus, guest_image_vgic
guest_image_start:
	.incbin GUEST_BIN
guest_image_end:
	.balign 4
guest_image_cpus:
	.word GUEST_CPUS
guest_image_vgic: /* 1: the VM gets the emulated GICv3 */
	.word GUEST_VGIC
guest_image_name:
	.asciz GUEST_NAME
