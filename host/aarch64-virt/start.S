/* SPDX-License-Identifier: MIT */
/*
 * Entry of the bare-metal EL2 image. QEMU's -kernel starts an ELF at its entry on CPU 0,
 * at EL2 when virtualization=on, MMU and caches off; the other CPUs stay off until a
 * PSCI CPU_ON to the firmware (SMC conduit) starts them at plat_secondary_entry with
 * x0 = the context id we passed (the CPU index).
 */
#define BOOT_STACK_SIZE (16 * 1024) /* PLAT_BOOT_STACK_SIZE */

	.section .text.boot, "ax"
	.globl _start
_start:
	msr	daifset, #0xf
	mrs	x9, CurrentEL
	lsr	x9, x9, #2
	and	x9, x9, #3
	cmp	x9, #2
	b.ne	not_el2
	/* Zero .bss (the MMU is off: aligned 8-byte stores only). */
	adrp	x9, __bss_start
	add	x9, x9, :lo12:__bss_start
	adrp	x10, __bss_end
	add	x10, x10, :lo12:__bss_end
1:	cmp	x9, x10
	b.hs	2f
	str	xzr, [x9], #8
	b	1b
2:	mov	x0, #0
	b	cpu_common

	.globl plat_secondary_entry
plat_secondary_entry:
	msr	daifset, #0xf
	/* x0 = CPU index (CPU_ON's context id) */
cpu_common:
	/* Early vectors until arch_percpu_hardware_enable installs the backend's. */
	adrp	x9, plat_early_vectors
	add	x9, x9, :lo12:plat_early_vectors
	msr	vbar_el2, x9
	/* sp = plat_boot_stacks + (index + 1) * BOOT_STACK_SIZE */
	adrp	x9, plat_boot_stacks
	add	x9, x9, :lo12:plat_boot_stacks
	mov	x10, #BOOT_STACK_SIZE
	madd	x11, x0, x10, x10
	add	sp, x9, x11
	mov	x29, #0
	mov	x30, #0
	isb
	bl	plat_cpu_main
	/* not reached */
not_el2:
	wfe
	b	not_el2

/*
 * plat_mmu_on(ttbr, tcr, mair): enables the EL2 stage-1 MMU with the shared identity
 * map. SCTLR_EL2 is written whole: RES1 bits (0x30C50830) | M | C | I; A, SA, WXN and EE
 * stay 0 (ARM ARM D13.2.118, the non-E2H layout).
 */
	.globl plat_mmu_on
plat_mmu_on:
	msr	mair_el2, x2
	msr	tcr_el2, x1
	msr	ttbr0_el2, x0
	dsb	ish
	isb
	tlbi	alle2
	dsb	ish
	isb
	ldr	x9, =(0x30C50830 | (1 << 0) | (1 << 2) | (1 << 12))
	msr	sctlr_el2, x9
	isb
	ret

/* plat_smc(fn, a1, a2, a3): an SMCCC call to the firmware (QEMU's PSCI). */
	.globl plat_smc
plat_smc:
	smc	#0
	ret

/*
 * plat_switch(prev, next): cooperative task switch. Saves x19-x28, fp, lr and sp in
 * prev->ctx (offset 0 of struct hal_task), loads next's, and returns prev in x0 to the
 * code that resumes in next, so it can finish the hand-off (sched.c).
 */
	.globl plat_switch
plat_switch:
	stp	x19, x20, [x0, #0]
	stp	x21, x22, [x0, #16]
	stp	x23, x24, [x0, #32]
	stp	x25, x26, [x0, #48]
	stp	x27, x28, [x0, #64]
	stp	x29, x30, [x0, #80]
	mov	x9, sp
	str	x9, [x0, #96]
	ldp	x19, x20, [x1, #0]
	ldp	x21, x22, [x1, #16]
	ldp	x23, x24, [x1, #32]
	ldp	x25, x26, [x1, #48]
	ldp	x27, x28, [x1, #64]
	ldp	x29, x30, [x1, #80]
	ldr	x9, [x1, #96]
	mov	sp, x9
	ret

/* A new task's lr points here; x0 is the task switched from. */
	.globl plat_task_trampoline
plat_task_trampoline:
	mov	x29, #0
	bl	sched_task_start
1:	wfe
	b	1b

/*
 * Early EL2 vectors (ARM ARM D1.10.2: 16 entries of 0x80 bytes, 2 KiB aligned). Any
 * exception here is a hypervisor bug: report ESR/ELR/FAR and stop.
 */
	.macro early_vec n
	.balign 0x80
	mov	x0, #\n
	b	early_trap
	.endm
	.section .text, "ax"
	.balign 2048
	.globl plat_early_vectors
plat_early_vectors:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	early_vec \n
	.endr
early_trap:
	mrs	x1, esr_el2
	mrs	x2, elr_el2
	mrs	x3, far_el2
	bl	plat_early_trap
	b	.

	.section .bss, "aw", %nobits
	.balign 16
	.globl plat_boot_stacks
plat_boot_stacks:
	.space BOOT_STACK_SIZE * 8
