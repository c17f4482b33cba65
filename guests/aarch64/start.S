/* SPDX-License-Identifier: MIT */
/*
 * EL1 entry of the test guests. vCPU 0 enters at _start (x0 = boot argument), the others
 * at secondary_entry through PSCI CPU_ON (x0 = context id; its SCTLR_EL1 and DAIF at
 * entry are passed on). Each takes a 16 KiB stack by
 * its MPIDR (Aff1 * 16 + Aff0), installs the vectors and turns on its MMU with an
 * identity map (first GiB Device-nGnRnE, second GiB Normal write-back), so the guests
 * may use exclusives for their print lock.
 */
#define STACK_SIZE 16384

	.section .text.start, "ax"
	.globl _start
_start:
	mov	x20, x0
	adrp	x9, __bss_start
	add	x9, x9, :lo12:__bss_start
	adrp	x10, __bss_end
	add	x10, x10, :lo12:__bss_end
1:	cmp	x9, x10
	b.hs	2f
	str	xzr, [x9], #8
	b	1b
2:	mov	x21, #0
	b	common

	.globl secondary_entry
secondary_entry:
	mov	x20, x0
	mov	x21, #1
	mrs	x22, sctlr_el1 /* the state CPU_ON gave us, for guest_secondary */
	mrs	x23, daif
common:
	mrs	x9, mpidr_el1
	and	x10, x9, #0xff
	ubfx	x11, x9, #8, #8
	add	x19, x10, x11, lsl #4 /* vCPU index */
	adrp	x9, stacks
	add	x9, x9, :lo12:stacks
	mov	x10, #STACK_SIZE
	madd	x11, x19, x10, x10
	add	sp, x9, x11
	adrp	x9, guest_vectors
	add	x9, x9, :lo12:guest_vectors
	msr	vbar_el1, x9
	/* MAIR: attr0 Device-nGnRnE, attr1 Normal WB. TCR: T0SZ 25, WB walks, inner shareable, 4K, IPS 40 bits, EPD1. */
	mov	x9, #0xff00
	msr	mair_el1, x9
	ldr	x9, =(25 | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 32))
	msr	tcr_el1, x9
	adrp	x9, guest_l1
	msr	ttbr0_el1, x9
	isb
	tlbi	vmalle1
	dsb	nsh
	isb
	ldr	x9, =(0x30C50830 | (1 << 0) | (1 << 2) | (1 << 12))
	msr	sctlr_el1, x9
	isb
	mov	x0, x19
	mov	x1, x20
	cbnz	x21, 3f
	bl	guest_main
	b	4f
3:	mov	x2, x22
	mov	x3, x23
	bl	guest_secondary
4:	bl	psci_system_off
5:	wfi
	b	5b

	.macro vec n
	.balign 0x80
	sub	sp, sp, #256
	stp	x0, x1, [sp, #0]
	mov	x0, #\n
	b	vec_common
	.endm
	.balign 2048
guest_vectors:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vec \n
	.endr
vec_common:
	/* Save the caller-saved registers the C handler may clobber; return with ERET. */
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x29, [sp, #144]
	str	x30, [sp, #160]
	bl	guest_exception
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x29, [sp, #144]
	ldr	x30, [sp, #160]
	add	sp, sp, #256
	eret

	.section .data.pt, "aw"
	.balign 4096
	.globl guest_l1
guest_l1:
	.quad 0x0000000000000401 | (3 << 53)                      /* 0-1 GiB: Device-nGnRnE, XN */
	.quad 0x0000000040000000 | 0x401 | (1 << 2) | (3 << 8)    /* 1-2 GiB: Normal WB, inner shareable */
	.fill 510, 8, 0

	.section .bss
	.balign 16
stacks:
	.space STACK_SIZE * 8

/*
 * fp_fill(pattern): V0-V31 = pattern + register number in every 64-bit lane; FPCR too.
 * fp_check(pattern): the number of registers (and FPCR) that no longer hold it.
 * For the FP/SIMD switching test; the guests' C code is built -mgeneral-regs-only.
 */
	.text
	.arch_extension fp
	.arch_extension simd
	.globl fp_fill, fp_check
fp_fill:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	add	x1, x0, #\n
	dup	v\n\().2d, x1
	.endr
	mov	x1, #(1 << 24) /* FPCR.FZ */
	msr	fpcr, x1
	ret
fp_check:
	mov	x2, #0
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	add	x1, x0, #\n
	mov	x3, v\n\().d[0]
	mov	x4, v\n\().d[1]
	cmp	x3, x1
	cinc	x2, x2, ne
	cmp	x4, x1
	cinc	x2, x2, ne
	.endr
	mrs	x1, fpcr
	mov	x3, #(1 << 24)
	cmp	x1, x3
	cinc	x2, x2, ne
	mov	x0, x2
	ret
