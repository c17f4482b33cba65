/* SPDX-License-Identifier: MIT */
/*
 * KVM_RUN and the decoding of its exits into the seed's exit kinds (api.rst 4.10 and
 * 5 "The kvm_run structure"), the interrupt-window protocol of a user-space interrupt
 * controller, and the kick.
 *
 * Kick protocol (DESIGN.md "Hosted KVM specifics"): the controller sets its request,
 * then (full fence) stores kvm_run->immediate_exit = 1 and sends the kick signal to the
 * vCPU thread; the signal's handler is empty, it only makes a running KVM_RUN return
 * -EINTR. arch_vcpu_run, before it returns to its caller, clears immediate_exit and then
 * issues a full fence, so that the caller's next read of its request word cannot be
 * ordered before the clear: either the caller sees the request, or immediate_exit is
 * still 1 at the next KVM_RUN, which then returns at once. No kick is lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>
#include <cvisor/psci.h>

#include "kvm_private.h"

/* What one decoded exit means for the run loop. */
enum exit_action {
	ACT_RETURN,   /* *exit is filled: return it to the caller */
	ACT_CONTINUE, /* handled in place: enter the guest again */
};

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static int kick_signo;
static int kick_init_err;

static void kick_handler(int signo)
{
	/* Empty: the signal's only job is to interrupt KVM_RUN with -EINTR. */
	(void)signo;
}

static void kick_install(void)
{
	struct sigaction sa;

	/* The first real-time signal: libc keeps the ones below SIGRTMIN for itself. */
	kick_signo = SIGRTMIN;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	/*
	 * SA_RESTART: KVM_RUN returns a plain -EINTR that is never restarted (api.rst 4.10),
	 * while the other system calls of a bound vCPU thread (a device writing to stdout)
	 * must not fail because a kick arrived outside the guest.
	 */
	sa.sa_flags = SA_RESTART;
	if (sigaction(kick_signo, &sa, NULL) < 0) {
		hal_log(HAL_LOG_ERROR, "kick signal %d: sigaction: %s", kick_signo, strerror(errno));
		kick_init_err = -CV_EIO;
	}
}

int x86_kvm_kick_signal_init(void)
{
	pthread_once(&kick_once, kick_install);
	return kick_init_err;
}

int x86_kvm_kick_signal(void)
{
	return kick_signo;
}

void arch_vcpu_kick(struct vcpu_arch *arch)
{
	if (!arch->run)
		return;
	/* The caller's request store is ordered before immediate_exit (see the top). */
	atomic_thread_fence(memory_order_seq_cst);
	__atomic_store_n(&arch->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	x86_kvm_signal_thread(arch);
}

/* Highest pending vector (the highest priority class, SDM Vol. 3A 11.8.3), or -1. */
static int highest_pending_irq(const struct vcpu_arch *arch)
{
	int i;

	for (i = 3; i >= 0; i--)
		if (arch->irq_pending[i])
			return i * 64 + 63 - __builtin_clzll(arch->irq_pending[i]);
	return -1;
}

/*
 * With the interrupt controller in user space, KVM_INTERRUPT may only be used when the
 * last exit said the guest can take one (ready_for_interrupt_injection, and IF set);
 * otherwise request_interrupt_window makes KVM exit with KVM_EXIT_IRQ_WINDOW_OPEN as
 * soon as it can (api.rst 4.16 KVM_INTERRUPT, 5 request_interrupt_window).
 */
static void deliver_interrupts(struct vcpu_arch *arch)
{
	struct kvm_run *run = arch->run;
	struct kvm_interrupt irq;
	int v = highest_pending_irq(arch);

	if (v >= 0 && run->ready_for_interrupt_injection && run->if_flag) {
		irq.irq = (uint32_t)v;
		if (ioctl(arch->fd, KVM_INTERRUPT, &irq) == 0)
			arch->irq_pending[v / 64] &= ~(1ull << (v % 64));
		else if (errno != EEXIST)
			hal_log(HAL_LOG_WARN, "vm %u vcpu %u: KVM_INTERRUPT %d: %s", arch->vm_id, arch->vcpu_id, v,
				strerror(errno));
		v = highest_pending_irq(arch);
	}
	run->request_interrupt_window = v >= 0;
}

/* The hypercall doorbell (guest_abi.h): PSCI answered in place or an exit, else HYPERCALL. */
static enum exit_action doorbell(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	struct kvm_regs *r = &arch->run->s.regs.regs;
	uint64_t args[3] = {r->rdi, r->rsi, r->rdx};
	uint64_t answer;

	switch (psci_decode(r->rax, args, exit, &answer)) {
	case PSCI_ACT_ANSWER:
		r->rax = answer;
		arch->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return ACT_CONTINUE;
	case PSCI_ACT_EXIT:
		r->rax = answer; /* the VMM may still replace it (CPU_ON: ALREADY_ON) */
		arch->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return ACT_RETURN;
	case PSCI_ACT_HYPERCALL:
	default:
		exit->kind = VCPU_EXIT_HYPERCALL;
		exit->hypercall.nr = r->rax;
		exit->hypercall.args[0] = r->rdi;
		exit->hypercall.args[1] = r->rsi;
		exit->hypercall.args[2] = r->rdx;
		exit->hypercall.args[3] = r->rcx;
		exit->hypercall.args[4] = r->r8;
		exit->hypercall.args[5] = r->r9;
		return ACT_RETURN;
	}
}

static int decode_io(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	struct kvm_run *run = arch->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;
	uint32_t val = 0;

	/*
	 * String I/O: KVM's emulator hands REP OUTS over one item per exit (count 1, an
	 * ordinary exit here), but REP INS asks for several items at once (count > 1). The
	 * exit kinds have room for one value, so such an exit is refused, never half done.
	 */
	if (run->io.count != 1) {
		hal_log(HAL_LOG_ERROR,
			"vm %u vcpu %u: string port I/O (rep ins/outs) to port %#x, %u x %u bytes, is not supported",
			arch->vm_id, arch->vcpu_id, run->io.port, run->io.count, size);
		return -CV_ENOTSUP;
	}
	if (size != 1 && size != 2 && size != 4) {
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: port I/O of %u bytes", arch->vm_id, arch->vcpu_id, size);
		return -CV_EGUEST;
	}
	if (run->io.port == CV_X86_HC_PORT && run->io.direction == KVM_EXIT_IO_OUT && size == 4)
		return doorbell(arch, exit);
	if (run->io.direction == KVM_EXIT_IO_OUT) {
		memcpy(&val, data, size);
		exit->kind = VCPU_EXIT_IO_WRITE;
		exit->io_write.port = run->io.port;
		exit->io_write.width = (enum access_width)size;
		exit->io_write.data = val;
	} else {
		/* Zero first: a read nobody answers returns 0, never the last value. */
		memset(data, 0, size);
		arch->pending = X86_KVM_PENDING_IO_IN;
		arch->pending_width = size;
		exit->kind = VCPU_EXIT_IO_READ;
		exit->io_read.port = run->io.port;
		exit->io_read.width = (enum access_width)size;
	}
	return ACT_RETURN;
}

static int decode_mmio(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	struct kvm_run *run = arch->run;
	unsigned len = run->mmio.len;
	uint64_t val = 0;

	if (len != 1 && len != 2 && len != 4 && len != 8) {
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: MMIO of %u bytes at %#llx", arch->vm_id, arch->vcpu_id, len,
			(unsigned long long)run->mmio.phys_addr);
		return -CV_EGUEST;
	}
	if (run->mmio.is_write) {
		memcpy(&val, run->mmio.data, len);
		exit->kind = VCPU_EXIT_MMIO_WRITE;
		exit->mmio_write.addr = gpa(run->mmio.phys_addr);
		exit->mmio_write.width = (enum access_width)len;
		exit->mmio_write.data = val;
	} else {
		/*
		 * KVM's instruction emulator does the load into the real destination (with any
		 * zero or sign extension) from mmio.data: the exit names the pseudo-register
		 * for that buffer, exactly len bytes wide.
		 */
		memset(run->mmio.data, 0, sizeof(run->mmio.data));
		arch->pending = X86_KVM_PENDING_MMIO_IN;
		arch->pending_width = len;
		exit->kind = VCPU_EXIT_MMIO_READ;
		exit->mmio_read.addr = gpa(run->mmio.phys_addr);
		exit->mmio_read.width = (enum access_width)len;
		exit->mmio_read.reg = X86_KVM_REG_MMIO_DATA;
		exit->mmio_read.reg_width = (enum access_width)len;
		exit->mmio_read.signed_ext = false;
	}
	return ACT_RETURN;
}

/*
 * RDMSR / WRMSR of an MSR KVM does not know. error stays 0: the access succeeds (a read
 * gives 0 unless the VMM answers), as the VM's "ignore" policy for unmapped accesses
 * does; KVM raises #GP only when error is set (api.rst KVM_EXIT_X86_RDMSR).
 */
static int decode_msr(struct vcpu_arch *arch, struct vcpu_exit *exit, bool write)
{
	struct kvm_run *run = arch->run;

	run->msr.error = 0;
	if (write) {
		exit->kind = VCPU_EXIT_SYSREG_WRITE;
		exit->sysreg_write.addr = run->msr.index;
		exit->sysreg_write.value = run->msr.data;
	} else {
		run->msr.data = 0;
		arch->pending = X86_KVM_PENDING_MSR_IN;
		exit->kind = VCPU_EXIT_SYSREG_READ;
		exit->sysreg_read.addr = run->msr.index;
		exit->sysreg_read.reg = X86_KVM_REG_MSR_DATA;
	}
	return ACT_RETURN;
}

static int internal_error(struct vcpu_arch *arch)
{
	struct kvm_run *run = arch->run;
	unsigned i, n = run->internal.ndata;

	/*
	 * Suberror 1 is an instruction KVM had to emulate and could not (PVM hits this for
	 * some instructions, HOST-NOTES.md): the guest cannot go on, cvisor can.
	 */
	hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: KVM internal error, suberror %u at rip %#llx", arch->vm_id,
		arch->vcpu_id, run->internal.suberror, (unsigned long long)run->s.regs.regs.rip);
	if (n > CV_ARRAY_SIZE(run->internal.data))
		n = CV_ARRAY_SIZE(run->internal.data);
	for (i = 0; i < n; i++)
		hal_log(HAL_LOG_ERROR, "  data[%u] = %#llx", i, (unsigned long long)run->internal.data[i]);
	return -CV_EGUEST;
}

static enum system_down_reason system_event_reason(uint32_t type)
{
	switch (type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return SYSTEM_DOWN_OFF;
	case KVM_SYSTEM_EVENT_RESET:
		return SYSTEM_DOWN_RESET;
	default:
		return SYSTEM_DOWN_CRASH;
	}
}

/* One KVM exit: ACT_RETURN / ACT_CONTINUE, or a negative CV_E* code. */
static int decode_exit(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	struct kvm_run *run = arch->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return decode_io(arch, exit);
	case KVM_EXIT_MMIO:
		return decode_mmio(arch, exit);
	case KVM_EXIT_X86_RDMSR:
		return decode_msr(arch, exit, false);
	case KVM_EXIT_X86_WRMSR:
		return decode_msr(arch, exit, true);
	case KVM_EXIT_HLT:
		/*
		 * Without an in-kernel LAPIC, KVM leaves HLT to user space, rip past it. An
		 * interrupt that arrived while IF was clear is still queued here, and `sti; hlt`
		 * (how Linux idles) reaches the HLT inside the STI shadow before the interrupt
		 * window exit: with IF now set, the interrupt ends the halt at once (SDM Vol. 2A
		 * HLT: "an enabled interrupt ... resumes execution"), so re-enter and deliver it
		 * rather than park a vCPU whose wake-up the VMM has already consumed.
		 */
		if (highest_pending_irq(arch) >= 0 && arch->run->if_flag)
			return ACT_CONTINUE;
		exit->kind = VCPU_EXIT_HALT;
		return ACT_RETURN;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return ACT_CONTINUE; /* deliver_interrupts injects before the next entry */
	case KVM_EXIT_INTR:
		exit->kind = VCPU_EXIT_NOTHING;
		return ACT_RETURN;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault (SDM Vol. 3A 6.15, #DF during #DF): the guest is dead. */
		exit->kind = VCPU_EXIT_SYSTEM_DOWN;
		exit->system_down.reason = SYSTEM_DOWN_CRASH;
		return ACT_RETURN;
	case KVM_EXIT_FAIL_ENTRY:
		exit->kind = VCPU_EXIT_FAIL_ENTRY;
		exit->fail_entry.hw_reason = run->fail_entry.hardware_entry_failure_reason;
		return ACT_RETURN;
	case KVM_EXIT_SYSTEM_EVENT:
		/* Not expected without an in-kernel PSCI or irqchip; mapped all the same. */
		exit->kind = VCPU_EXIT_SYSTEM_DOWN;
		exit->system_down.reason = system_event_reason(run->system_event.type);
		return ACT_RETURN;
	case KVM_EXIT_INTERNAL_ERROR:
		return internal_error(arch);
	default:
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: unexpected KVM exit reason %u at rip %#llx", arch->vm_id,
			arch->vcpu_id, run->exit_reason, (unsigned long long)run->s.regs.regs.rip);
		return -CV_ENOTSUP;
	}
}

int arch_vcpu_run(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	struct kvm_run *run = arch->run;
	int ret;

	if (!run || !arch->setup_done)
		return -CV_EBADSTATE;
	for (;;) {
		deliver_interrupts(arch);
		/* This entry completes whatever the last exit left in the run area. */
		arch->pending = X86_KVM_PENDING_NONE;
		if (ioctl(arch->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR) {
				/* A kick (immediate_exit or the signal): nothing for the guest. */
				exit->kind = VCPU_EXIT_NOTHING;
				ret = 0;
			} else {
				hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: KVM_RUN: %s", arch->vm_id, arch->vcpu_id,
					strerror(errno));
				ret = -CV_EIO;
			}
			break;
		}
		ret = decode_exit(arch, exit);
		if (ret != ACT_CONTINUE) {
			if (ret == ACT_RETURN)
				ret = 0;
			break;
		}
	}
	/*
	 * An error leaves the vCPU INVALID: the core never unbinds it, so forget the thread
	 * here, or a later kick would signal a thread that may have been joined already.
	 */
	if (ret < 0)
		x86_kvm_forget_thread(arch);
	/* See the top of the file: clear, then a full fence, then the caller reads requests. */
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	return ret;
}
