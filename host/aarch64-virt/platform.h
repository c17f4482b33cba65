/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces of the bare-metal AArch64 host (QEMU virt, EL2): per-CPU data,
 * spinlocks, the console, the GICv3 host driver, the scheduler and PSCI calls to the
 * firmware. Nothing outside host/aarch64-virt includes this header.
 */
#ifndef CVISOR_A64_PLATFORM_H
#define CVISOR_A64_PLATFORM_H

#include <stdarg.h>
#include <stdatomic.h>

#include <cvisor/a64_sysreg.h>
#include <cvisor/hal.h>
#include <cvisor/types.h>

#define PLAT_MAX_CPUS	     8
#define PLAT_PAGE_SIZE	     4096ull
#define PLAT_BOOT_STACK_SIZE (16u * 1024u) /* per-CPU boot / idle stack (start.S knows it too) */

/* SGIs the host uses: a scheduler wake-up, also used by the backend's kick (arch_vcpu.h). */
#define PLAT_SGI_WAKE 0u
/*
 * The EL2 physical timer PPI (CNTHP): the scheduler's only timer. While a task runs it
 * ends the time slice (other tasks are waiting) or wakes a timed sleeper; in the idle
 * loop it wakes the CPU for a timed sleeper. It reaches the scheduler as an IRQ exit of
 * the guest, after which the backend passes through hal_wait_until (a scheduling point).
 */
#define PLAT_PPI_HYP_TIMER 26u
#define PLAT_SLICE_NS	   10000000ull /* 10 ms */


/* ---- spinlocks (IRQs are always masked at EL2, so no IRQ-safe variant is needed) ---- */
typedef struct {
	atomic_flag f;
} spinlock_t;
#define SPINLOCK_INIT                                                                                                  \
	{                                                                                                              \
		ATOMIC_FLAG_INIT                                                                                       \
	}
static inline void spin_lock(spinlock_t *l)
{
	while (atomic_flag_test_and_set_explicit(&l->f, memory_order_acquire))
		__asm__ volatile("yield");
}
static inline bool spin_trylock(spinlock_t *l)
{
	return !atomic_flag_test_and_set_explicit(&l->f, memory_order_acquire);
}
static inline void spin_unlock(spinlock_t *l)
{
	atomic_flag_clear_explicit(&l->f, memory_order_release);
}

/* ---- tasks (sched.c) ---- */

/* Callee-saved registers of a suspended task; start.S's plat_switch knows this layout. */
struct task_ctx {
	uint64_t x19_x28[10];
	uint64_t fp, lr, sp;
};

enum task_state {
	TASK_RUNNABLE,	/* on a run queue or running */
	TASK_BLOCKED,	/* in hal_wait_until */
	TASK_MIGRATING, /* switching away to run on task->cpu, which changed */
	TASK_DEAD,	/* returned; freed by hal_task_join */
};

struct hal_task {
	struct task_ctx ctx; /* first: plat_switch takes and returns task pointers */
	char name[24];
	void (*fn)(void *);
	void *arg;
	void *stack;
	size_t stack_pages;
	unsigned cpu;	   /* the pCPU it is pinned to */
	uint64_t cpu_mask; /* allowed pCPUs (0: any) */
	enum task_state state;
	bool queued;	     /* on its CPU's run queue */
	bool idle;	     /* the CPU's boot context */
	uint64_t deadline;   /* counter ticks; 0: none (timed hal_wait_until) */
	_Atomic bool exited; /* switched away for the last time: join may free it */
	struct hal_task *rq_next;
	struct hal_task *wq_next;
	struct hal_task *all_next; /* every task of the CPU, for deadlines */
	struct hal_waitq *join_wq;
	struct vcpu *vcpu_slot; /* the HAL's current-vCPU slot: per task, like a hosted thread's */
};

/* Per physical CPU data, reached through TPIDR_EL2. */
struct percpu {
	unsigned id;
	uint64_t mpidr;
	struct hal_task *current;
	struct hal_task idle;
	spinlock_t rq_lock; /* protects rq_head/rq_tail, all_tasks and every task's state/queued */
	struct hal_task *rq_head, *rq_tail, *all_tasks;
	_Atomic bool online;
};

extern struct percpu plat_percpu[PLAT_MAX_CPUS];
extern unsigned plat_ncpus;

static inline struct percpu *this_cpu(void)
{
	return (struct percpu *)read_sysreg(tpidr_el2);
}

/* Saves the callee-saved registers in prev, loads next's; returns the task switched from. */
struct hal_task *plat_switch(struct hal_task *prev, struct hal_task *next);
/* First code of a new task (start.S): calls sched_task_start(prev). */
void plat_task_trampoline(void);
void sched_task_start(struct hal_task *prev);
void sched_init_cpu(struct percpu *pc);
/* The idle loop of a CPU: runs tasks, sleeps in WFI when there are none. */
_Noreturn void sched_idle_loop(void);

/* ---- GICv3 host driver (gic.c) ---- */
void gic_init_distributor(void);
void gic_init_cpu(void);
void gic_send_sgi(uint64_t mpidr, unsigned sgi);
/* Acknowledges and ends every pending interrupt of this CPU (the idle loop polls). */
void gic_drain(void);

/* ---- console (console.c) ---- */
void console_init(uint64_t uart_base);
/* Writes len bytes as whole lines under the console lock. */
void console_write(const char *s, size_t len);
void plat_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int plat_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int plat_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A guest's UART as the console sees it: put takes a typed byte (false: no room now,
 * offered again later); idle(ctx, now_ns, idle_ns) may hand over the guest's partial line. */
struct console_input {
	bool (*put)(void *ctx, uint8_t byte);
	void (*idle)(void *ctx, uint64_t now_ns, uint64_t idle_ns);
};
/*
 * Guest consoles, one port per VM (console.c): added before any VM runs, in the order of
 * the configs (the first gets the input); with more than one, each guest line is shown
 * behind "[name] ". Returns the port or -CV_ENOSPC.
 */
int console_port_add(unsigned vm_id, const char *name);
/* Starts the input task (CPU 0) and says how input is switched; after the last console_port_add. */
int console_ports_ready(void);
/* The port's UART now (NULL: none). On return no call into the previous one is in progress. */
int console_port_bind(int port, const struct console_input *ops, void *ctx);
/* A guest's output (whole lines, or a partial line after quiet): prefixed, marked, never mixed. */
void console_port_write(int port, const char *s, size_t len);
/* Prints "cvisor: exit N" and powers the machine off through PSCI. */
_Noreturn void plat_exit(int code);

/* ---- memory (mm.c) ---- */
void mm_init(uint64_t ram_base, uint64_t ram_size, uint64_t free_start);
/* Takes [start, end) out of the page pool for good (before the first allocation). */
void mm_reserve(uint64_t start, uint64_t end);
void mm_build_el2_tables(uint64_t ram_base, uint64_t ram_size);
/* Enables the EL2 MMU on the calling CPU with the shared tables (start.S). */
void plat_mmu_on(uint64_t ttbr, uint64_t tcr, uint64_t mair);
extern uint64_t plat_el2_ttbr, plat_el2_tcr, plat_el2_mair;

/* ---- device tree (fdt.c) ---- */
struct plat_info {
	uint64_t ram_base, ram_size;
	uint64_t uart_base;
	uint64_t gicd_base, gicr_base;
	unsigned ncpus;
	uint64_t cpu_mpidr[PLAT_MAX_CPUS];
};
/* Fills *info from the DTB at dtb; false (info untouched) when it is not a valid DTB. */
bool fdt_parse(const void *dtb, struct plat_info *info);
extern struct plat_info plat_info;

/* ---- firmware (start.S) ---- */
uint64_t plat_smc(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);
void plat_secondary_entry(void);

/* ---- the VMM (run.c) ---- */
int plat_run_vms(void);
/* Cleans [p, p + n) to the point of coherency (DC CVAC), then DSB. */
void plat_clean_dcache(const void *p, size_t n);

/* ---- VMs from JSON configs (vmconfig.c, linux.c; include/cvisor/vmdtb.h) ---- */
#include <cvisor/boot.h>
#include <cvisor/config.h>

struct vm;

#define PLAT_MAX_VMS 8

/* One VM of the config blob: its config and where its boot files are. */
struct vm_spec {
	struct vm_config cfg;
	bool linux_image;		    /* an arm64 Image (else a flat binary) */
	uint64_t kernel_hpa, kernel_size;   /* the loaded originals, never written */
	uint64_t ramdisk_hpa, ramdisk_size; /* size 0: none */
	uint64_t dtb_hpa, dtb_size;	    /* size 0: generated */
	/* filled by linux_prepare */
	struct arm64_boot_layout layout; /* guest addresses of kernel, initrd, DTB */
	uint64_t copy_size;		 /* kernel bytes copied */
	const void *guest_dtb;		 /* the DTB copied into the guest (NULL: none) */
	size_t guest_dtb_size;
};

/*
 * True when QEMU's loader left a VM-config blob at VMDTB_ADDR inside the RAM
 * [ram_base, ram_base + ram_size): [*start, *end) is the blob and every file after it,
 * which the page allocator must never hand out. Byte reads only; any CPU state.
 */
bool vmconfig_reserved(uint64_t ram_base, uint64_t ram_size, uint64_t *start, uint64_t *end);
/*
 * Reads the blob's VMs into specs[0, max) (libfdt: MMU on, FP free, no guest FP live).
 * -CV_ENOENT when there is no blob (the built-in guest runs); else 0 or an error, logged.
 */
int vmconfig_read(struct vm_spec *specs, unsigned max, unsigned *count, bool *no_reboot);
/* Once per VM, before any guest runs: checks the Image, lays it out, writes the guest DTB. */
int linux_prepare(struct vm_spec *s);
/* On each build of the VM: copies kernel, initrd and DTB into its RAM, cleaned to the PoC. */
int linux_load(struct vm *vm, const struct vm_spec *s);

/* ---- lib.c ---- */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* What Debian's arm64 libfdt.a needs besides (HOST-NOTES.md). */
void *memmove(void *d, const void *s, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strnlen(const char *s, size_t max);
char *strrchr(const char *s, int c);
char *strchr(const char *s, int c);

#endif /* CVISOR_A64_PLATFORM_H */
