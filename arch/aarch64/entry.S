/* SPDX-License-Identifier: MIT */
/*
 * The world switch and the EL2 vector table (seed 002's run_guest / SAVE_REGS_FROM_EL1).
 *
 * a64_guest_enter(arch) saves the host's callee-saved registers on the host stack,
 * stores that sp in arch->host_stack_top, loads the guest's x0-x30, SP_EL0, ELR_EL2 and
 * SPSR_EL2 from the trap frame at offset 0 of arch, leaves SP_EL2 pointing just past the
 * trap frame (at host_stack_top) and ERETs. An exception from the guest lands on that
 * SP: the vector pushes the guest's registers into the trap frame below it, loads the
 * host sp from host_stack_top and returns from a64_guest_enter with the vector group
 * (A64_TRAP_*) in x0. The guest's EL1 system registers are switched in C around it.
 */
#include "asm-offsets.h"

	.text
	.globl a64_guest_enter
a64_guest_enter:
	stp	x29, x30, [sp, #-96]!
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	stp	x23, x24, [sp, #48]
	stp	x25, x26, [sp, #64]
	stp	x27, x28, [sp, #80]
	mov	x9, sp
	str	x9, [x0, #VCPU_HOST_STACK_TOP]
	ldr	x9, [x0, #TF_SP_EL0]
	msr	sp_el0, x9
	ldr	x9, [x0, #TF_ELR]
	msr	elr_el2, x9
	ldr	x9, [x0, #TF_SPSR]
	msr	spsr_el2, x9
	mov	sp, x0
	ldp	x2, x3, [sp, #TF_X(2)]
	ldp	x4, x5, [sp, #TF_X(4)]
	ldp	x6, x7, [sp, #TF_X(6)]
	ldp	x8, x9, [sp, #TF_X(8)]
	ldp	x10, x11, [sp, #TF_X(10)]
	ldp	x12, x13, [sp, #TF_X(12)]
	ldp	x14, x15, [sp, #TF_X(14)]
	ldp	x16, x17, [sp, #TF_X(16)]
	ldp	x18, x19, [sp, #TF_X(18)]
	ldp	x20, x21, [sp, #TF_X(20)]
	ldp	x22, x23, [sp, #TF_X(22)]
	ldp	x24, x25, [sp, #TF_X(24)]
	ldp	x26, x27, [sp, #TF_X(26)]
	ldp	x28, x29, [sp, #TF_X(28)]
	ldr	x30, [sp, #TF_X(30)]
	ldp	x0, x1, [sp, #TF_X(0)]
	add	sp, sp, #TF_SIZE
	eret
	dsb	nsh /* no speculation past the ERET */
	isb

a64_guest_exit:
	stp	x2, x3, [sp, #TF_X(2)]
	stp	x4, x5, [sp, #TF_X(4)]
	stp	x6, x7, [sp, #TF_X(6)]
	stp	x8, x9, [sp, #TF_X(8)]
	stp	x10, x11, [sp, #TF_X(10)]
	stp	x12, x13, [sp, #TF_X(12)]
	stp	x14, x15, [sp, #TF_X(14)]
	stp	x16, x17, [sp, #TF_X(16)]
	stp	x18, x19, [sp, #TF_X(18)]
	stp	x20, x21, [sp, #TF_X(20)]
	stp	x22, x23, [sp, #TF_X(22)]
	stp	x24, x25, [sp, #TF_X(24)]
	stp	x26, x27, [sp, #TF_X(26)]
	stp	x28, x29, [sp, #TF_X(28)]
	str	x30, [sp, #TF_X(30)]
	mrs	x9, sp_el0
	str	x9, [sp, #TF_SP_EL0]
	mrs	x9, elr_el2
	str	x9, [sp, #TF_ELR]
	mrs	x9, spsr_el2
	str	x9, [sp, #TF_SPSR]
	ldr	x9, [sp, #VCPU_HOST_STACK_TOP]
	mov	sp, x9
	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	x29, x30, [sp], #96
	ret

/* Exceptions at EL2 itself are hypervisor bugs: a64_hyp_trap reports and stops. */
hyp_trap:
	mrs	x1, esr_el2
	mrs	x2, elr_el2
	mrs	x3, far_el2
	bl	a64_hyp_trap
	b	.

	.macro hyp_vec n
	.balign 0x80
	mov	x0, #\n
	b	hyp_trap
	.endm

	.macro guest_vec kind
	.balign 0x80
	sub	sp, sp, #TF_SIZE
	stp	x0, x1, [sp, #TF_X(0)]
	mov	x0, #\kind
	b	a64_guest_exit
	.endm

/* ARM ARM D1.10.2: four groups of sync/IRQ/FIQ/SError, 0x80 bytes each, 2 KiB aligned. */
	.balign 2048
	.globl a64_el2_vectors
a64_el2_vectors:
	hyp_vec 0 /* current EL, SP_EL0 */
	hyp_vec 1
	hyp_vec 2
	hyp_vec 3
	hyp_vec 4 /* current EL, SP_ELx */
	hyp_vec 5
	hyp_vec 6
	hyp_vec 7
	guest_vec A64_TRAP_SYNC /* lower EL, AArch64 */
	guest_vec A64_TRAP_IRQ
	guest_vec A64_TRAP_FIQ
	guest_vec A64_TRAP_SERROR
	guest_vec A64_TRAP_SYNC /* lower EL, AArch32 (a guest's EL0): same ESR decoding */
	guest_vec A64_TRAP_IRQ
	guest_vec A64_TRAP_FIQ
	guest_vec A64_TRAP_SERROR

/* a64_fp_save(state) / a64_fp_restore(state): V0-V31, FPSR, FPCR. */
	.arch_extension fp
	.arch_extension simd
	.globl a64_fp_save
a64_fp_save:
	stp	q0, q1, [x0, #0]
	stp	q2, q3, [x0, #32]
	stp	q4, q5, [x0, #64]
	stp	q6, q7, [x0, #96]
	stp	q8, q9, [x0, #128]
	stp	q10, q11, [x0, #160]
	stp	q12, q13, [x0, #192]
	stp	q14, q15, [x0, #224]
	stp	q16, q17, [x0, #256]
	stp	q18, q19, [x0, #288]
	stp	q20, q21, [x0, #320]
	stp	q22, q23, [x0, #352]
	stp	q24, q25, [x0, #384]
	stp	q26, q27, [x0, #416]
	stp	q28, q29, [x0, #448]
	stp	q30, q31, [x0, #480]
	mrs	x9, fpsr
	str	x9, [x0, #512]
	mrs	x9, fpcr
	str	x9, [x0, #520]
	ret

	.globl a64_fp_restore
a64_fp_restore:
	ldp	q0, q1, [x0, #0]
	ldp	q2, q3, [x0, #32]
	ldp	q4, q5, [x0, #64]
	ldp	q6, q7, [x0, #96]
	ldp	q8, q9, [x0, #128]
	ldp	q10, q11, [x0, #160]
	ldp	q12, q13, [x0, #192]
	ldp	q14, q15, [x0, #224]
	ldp	q16, q17, [x0, #256]
	ldp	q18, q19, [x0, #288]
	ldp	q20, q21, [x0, #320]
	ldp	q22, q23, [x0, #352]
	ldp	q24, q25, [x0, #384]
	ldp	q26, q27, [x0, #416]
	ldp	q28, q29, [x0, #448]
	ldp	q30, q31, [x0, #480]
	ldr	x9, [x0, #512]
	msr	fpsr, x9
	ldr	x9, [x0, #520]
	msr	fpcr, x9
	ret
