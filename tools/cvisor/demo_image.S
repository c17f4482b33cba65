/* SPDX-License-Identifier: MIT */
/*
 * The built-in demo guest (guests/x86_64/demo.c, a flat binary built by mk/kvm.mk),
 * embedded so that `cvisor run` needs no file at run time. The assembler finds demo.bin
 * through -I (the guests' build folder).
 */
	.section .rodata
	.balign 16
	.globl cvisor_demo_start
	.globl cvisor_demo_end
cvisor_demo_start:
	.incbin "demo.bin"
cvisor_demo_end:

	.section .note.GNU-stack, "", @progbits
