/* SPDX-License-Identifier: MIT */
/*
 * What the x86_64 test guests and the tests that drive them agree on (tests/kvm/,
 * bench/): ports, addresses and values. Not part of the guest ABI of cvisor itself.
 */
#ifndef CVISOR_GUEST_X86_TEST_ABI_H
#define CVISOR_GUEST_X86_TEST_ABI_H

/* A guest reports a 64-bit value as two 32-bit OUTs to this port: low half, then high. */
#define CV_TEST_REPORT_PORT 0x500u

/* Ports of the port-I/O guest: one per width. */
#define CV_TEST_PIO_PORT8  0x510u
#define CV_TEST_PIO_PORT16 0x512u
#define CV_TEST_PIO_PORT32 0x514u

/* MMIO: nothing is mapped here, so every access exits (inside the 4 GiB identity map). */
#define CV_TEST_MMIO_BASE 0xd0000000ull

/* The secondary entry is at this fixed offset from the image start (start.S .org). */
#define CV_TEST_SECONDARY_ENTRY_OFFSET 0x40u

/* The vector the interrupt guest has a gate for. */
#define CV_TEST_IRQ_VECTOR 0x40u

/* An MSR index no CPU or KVM defines: accesses exit to user space. */
#define CV_TEST_MSR 0x7f000120u

/* A canonical address the identity map leaves unmapped: a page fault. */
#define CV_TEST_UNMAPPED_VA 0x0000700000000000ull

/* spin guest modes (boot_arg): what it does forever. */
#define CV_SPIN_IDLE 0 /* a pause loop: no exits at all (kick tests) */
#define CV_SPIN_PIO  1 /* outb to CV_TEST_PIO_PORT8 */
#define CV_SPIN_MMIO 2 /* 4-byte stores to CV_TEST_MMIO_BASE */
#define CV_SPIN_HC   3 /* CV_HC_TEST_SUM hypercalls */

#endif /* CVISOR_GUEST_X86_TEST_ABI_H */
