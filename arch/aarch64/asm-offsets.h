/* SPDX-License-Identifier: MIT */
/* Offsets entry.S uses, checked against struct vcpu_arch by _Static_assert in vcpu.c. */
#ifndef CVISOR_A64_ASM_OFFSETS_H
#define CVISOR_A64_ASM_OFFSETS_H

#define TF_X(n)		    ((n)*8)
#define TF_SP_EL0	    0xf8
#define TF_ELR		    0x100
#define TF_SPSR		    0x108
#define TF_SIZE		    0x110
#define VCPU_HOST_STACK_TOP 0x110

/* Exception classes entry.S hands to C (the vector group that was taken). */
#define A64_TRAP_SYNC	0
#define A64_TRAP_IRQ	1
#define A64_TRAP_FIQ	2
#define A64_TRAP_SERROR 3

#endif
