/* SPDX-License-Identifier: MIT */
/*
 * The test guests' flat images, embedded so that the tests and the benchmark need no
 * files at run time. The assembler finds them through -I (the guests' build folder).
 */
#define STR(x) #x
#define GUEST(name)                           \
	.globl guest_##name##_start;          \
	.globl guest_##name##_end;            \
	.balign 16;                           \
guest_##name##_start:                         \
	.incbin STR(name.bin);                \
guest_##name##_end:

	.section .rodata
GUEST(hello)
GUEST(pio)
GUEST(mmio)
GUEST(hypercall)
GUEST(hlt)
GUEST(triple)
GUEST(off)
GUEST(smp)
GUEST(irq)
GUEST(spin)
GUEST(fwait)
GUEST(msr)
GUEST(demo)

	.section .note.GNU-stack, "", @progbits
