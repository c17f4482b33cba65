/* SPDX-License-Identifier: MIT */
/*
 * External interrupts through a guest IDT (SDM Vol. 3A 6.10-6.14): one interrupt gate,
 * CV_TEST_IRQ_VECTOR, whose handler counts. Reports: 1 (ready, interrupts off; the test
 * injects now), the count after a while with interrupts still off (0: the interrupt
 * must wait for the window), the count once interrupts are on (1), then the count after
 * `sti; hlt` (2: the test injects at the HALT exit and the interrupt wakes the guest).
 */
#include "rt.h"

struct idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off1;
	uint32_t off2;
	uint32_t reserved;
};

struct __attribute__((packed)) idt_reg {
	uint16_t limit;
	uint64_t base;
};

_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gates are 16 bytes");

static struct idt_gate idt[CV_TEST_IRQ_VECTOR + 1];
static struct idt_reg idtr; /* lidt reads it from here, not from the stack (HOST-NOTES.md) */
volatile uint32_t irq_count;

void irq_handler(void);
__asm__(".text\n"
	".globl irq_handler\n"
	"irq_handler:\n"
	"	lock incl irq_count\n"
	"	iretq\n");

static void spin(unsigned n)
{
	while (n--)
		cv_pause();
}

void guest_main(uint64_t boot_arg)
{
	uint64_t h = (uint64_t)irq_handler;
	struct idt_gate *g = &idt[CV_TEST_IRQ_VECTOR];
	unsigned i;

	(void)boot_arg;
	g->off0 = (uint16_t)h;
	g->sel = CV_X86_SEL_CODE64;
	g->ist = 0;
	g->type_attr = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
	g->off1 = (uint16_t)(h >> 16);
	g->off2 = (uint32_t)(h >> 32);
	idtr.limit = sizeof(idt) - 1;
	idtr.base = (uint64_t)idt;
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");

	cv_report(1);
	spin(200);
	cv_report(irq_count);
	/*
	 * The window exit may come late (PVM takes it at its next event, not at sti): wait
	 * for the interrupt with interrupts on, for a bounded time.
	 */
	__asm__ volatile("sti" : : : "memory");
	for (i = 0; i < 200000 && !irq_count; i++)
		cv_pause();
	__asm__ volatile("cli" : : : "memory");
	cv_report(irq_count);
	__asm__ volatile("sti; hlt; cli" : : : "memory");
	cv_report(irq_count);
}
