/* SPDX-License-Identifier: MIT */
/*
 * Entry stubs of the x86_64 test guests. The backend starts every vCPU in 64-bit mode
 * with paging on (guest_abi.h), so no mode switch is needed here: only a stack.
 *   _start               vCPU 0: rsi = boot argument; calls guest_main(arg), then powers
 *                        the system off. The loader provides zeroed RAM (.bss included).
 *   cv_secondary_entry   a vCPU started by PSCI CPU_ON: rax = context id; takes a stack
 *                        from the pool, calls guest_secondary(arg), then CPU_OFF.
 */
#include "test_abi.h"

/* guest_abi.h has C in it; rt.c checks that these copies match it. */
#define PSCI_CPU_OFF_ID 0x84000002
#define HC_PORT 0xe0

#define BSP_STACK_SIZE 16384
#define AP_STACK_SIZE 4096
#define AP_STACKS 64

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	/*
	 * .bss is not zeroed here: the image is loaded into fresh, zeroed guest RAM (vm_create
	 * and the tests zero it). Under PVM a store loop over the 270 KiB of .bss cost ~200 ms
	 * of emulated supervisor code per start.
	 */
	mov	$bsp_stack_top, %rsp
	mov	%rsi, %rdi		/* boot argument */
	call	guest_main
	call	cv_system_off
3:	cli
	hlt
	jmp	3b

	/* Fixed place, so that the tests know the entry CPU_ON must name. */
	.org	CV_TEST_SECONDARY_ENTRY_OFFSET
	.globl cv_secondary_entry
cv_secondary_entry:
	cli
	mov	%rax, %r12		/* context id (PSCI CPU_ON) */
	mov	$1, %eax
	lock xadd %eax, ap_next
	cmp	$AP_STACKS, %eax
	jae	5f
	inc	%eax
	shl	$12, %rax		/* AP_STACK_SIZE: stack i's top */
	lea	ap_stacks(%rax), %rsp
	mov	%r12, %rdi
	call	guest_secondary
	call	cv_cpu_off
	/* No stack left for this vCPU: turn it off at once. */
5:	mov	$PSCI_CPU_OFF_ID, %eax
	out	%eax, $HC_PORT
6:	cli
	hlt
	jmp	6b

	.data
	.balign 4
ap_next:
	.long	0

	.bss
	.balign 4096
bsp_stack:
	.skip	BSP_STACK_SIZE
bsp_stack_top:
ap_stacks:
	.skip	AP_STACK_SIZE * AP_STACKS
