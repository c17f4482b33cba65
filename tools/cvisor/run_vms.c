// SPDX-License-Identifier: MIT
/*
 * The part of `cvisor run` that starts VMs: for each checked config it builds the VM
 * (vm_create), loads the guest image through the VM's checked guest-memory helpers,
 * attaches the console UART, starts it under the VMM, and waits until every VM has
 * stopped. The exit status follows DESIGN.md: 0 when every VM powered off, 1 otherwise
 * (triple fault, failed entry, a VM stopped by cvisor on --timeout or a signal).
 *
 * Signals: SIGINT, SIGTERM and SIGHUP are blocked before any vCPU task exists, so every
 * task inherits the blocked mask and only this thread takes them, synchronously, with
 * sigtimedwait between waits: no handler ever runs on a vCPU task in the middle of KVM_RUN.
 * (The KVM backend's kick signal is a real-time one, untouched here.)
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cvisor/errors.h>
#include <cvisor/exit.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>
#include <cvisor/uart8250.h>
#include <cvisor/vm.h>
#include <cvisor/vmm.h>

#include "config_json.h"
#include "cvisor.h"

#define NS_PER_S  1000000000ull
#define NS_PER_MS 1000000ull
/* How long one wait for a VM lasts before signals and the deadline are checked again. */
#define POLL_NS (20 * NS_PER_MS)
/* How long VMs get to leave once cvisor asked them to stop. */
#define STOP_GRACE_NS (2 * NS_PER_S)
/* vmm_destroy's bound for joining the vCPU tasks. */
#define DESTROY_NS NS_PER_S
/* A guest that resets itself forever is stopped after this many rebuilds. */
#define MAX_RESETS 16

/* The built-in demo guest, embedded by demo_image.S. */
extern const unsigned char cvisor_demo_start[], cvisor_demo_end[];

size_t cvisor_demo_image(const void **out)
{
	*out = cvisor_demo_start;
	return (size_t)(cvisor_demo_end - cvisor_demo_start);
}

/*
 * A VM's console on stdout, a line at a time: lines of different VMs never mix, and with
 * several VMs each line starts with "[name] ". A guest line that starts "cvisor: " gets a
 * leading "[guest] " (as on the bare-metal console), so a guest cannot pass for cvisor.
 * The UART calls tx with its own lock held, which is what serialises this buffer.
 */
#define CONSOLE_LINE_MAX 256
struct console {
	char prefix[VM_NAME_MAX + 4];
	size_t len;
	char line[CONSOLE_LINE_MAX];
};

static void console_flush(struct console *c)
{
	static const char fake[] = "cvisor: ";
	char out[sizeof(c->prefix) + 8 + CONSOLE_LINE_MAX];
	size_t n = 0, plen = strlen(c->prefix);

	if (!c->len)
		return;
	memcpy(out, c->prefix, plen);
	n = plen;
	if (c->len >= sizeof(fake) - 1 && !memcmp(c->line, fake, sizeof(fake) - 1)) {
		memcpy(out + n, "[guest] ", 8);
		n += 8;
	}
	memcpy(out + n, c->line, c->len);
	n += c->len;
	c->len = 0;
	/* One fwrite per line: stdio's lock keeps lines of different VMs whole. */
	fwrite(out, 1, n, stdout);
	fflush(stdout);
}

static void console_tx(void *ctx, uint8_t byte)
{
	struct console *c = ctx;

	c->line[c->len++] = (char)byte;
	if (byte == '\n' || c->len == sizeof(c->line))
		console_flush(c);
}

struct live_vm {
	const struct run_vm *spec;
	struct console console;
	struct vm *vm;
	struct vmm_vm *vv;
	struct vmm_result res;
	unsigned resets;
	bool done;  /* stopped for good (not being rebuilt) */
	bool stuck; /* a vCPU task would not leave: the VM is leaked, not freed */
};

static const char *vm_label(const struct live_vm *l, char *buf, size_t n)
{
	snprintf(buf, n, "VM %u (%s)", l->spec->cfg.id, l->spec->cfg.name);
	return buf;
}

/* Builds the VM of l->spec (LOADED): fills its memory and attaches its console. */
static int build_vm(struct live_vm *l)
{
	const struct run_vm *s = l->spec;
	const struct uart8250_config ucfg = {.tx = console_tx, .ctx = &l->console};
	char label[64];
	int rc;

	vm_label(l, label, sizeof(label));
	rc = vm_create(&l->vm, &s->cfg);
	if (rc < 0) {
		cvisor_msg("%s: cannot create the VM: %s", label, cv_strerror(rc));
		l->vm = NULL;
		return rc;
	}
	rc = vm_write_guest(l->vm, gpa(s->cfg.kernel_load_addr), s->image, s->image_size);
	if (rc == 0 && s->ramdisk_buf)
		rc = vm_write_guest(l->vm, gpa(s->cfg.ramdisk_load_addr), s->ramdisk_buf, s->ramdisk_size);
	if (rc < 0) {
		cvisor_msg("%s: cannot load the guest image: %s", label, cv_strerror(rc));
		goto fail;
	}
	rc = vm_add_uart8250(l->vm, BUS_PIO, CV_X86_COM1_PORT, &ucfg, NULL);
	if (rc < 0) {
		cvisor_msg("%s: cannot attach the console UART: %s", label, cv_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	vm_destroy(l->vm);
	l->vm = NULL;
	return rc;
}

/* Boots a built VM under the VMM (vCPU 0's task starts); on failure the VM is freed. */
static int start_vm(struct live_vm *l)
{
	char label[64];
	int rc;

	rc = vmm_start(&l->vv, l->vm, NULL);
	if (rc < 0) {
		cvisor_msg("%s: cannot start the VM: %s", vm_label(l, label, sizeof(label)), cv_strerror(rc));
		l->vv = NULL;
		vm_destroy(l->vm);
		l->vm = NULL;
	}
	return rc;
}

/* Prints the exits of every vCPU of l's VM by kind: only kinds seen, plus totals. */
static void print_stats(const struct live_vm *l)
{
	unsigned n = vm_vcpu_count(l->vm);
	uint64_t col_total[VCPU_EXIT_KIND_COUNT] = {0};
	bool shown[VCPU_EXIT_KIND_COUNT] = {false};
	char label[64];

	for (unsigned v = 0; v < n; v++) {
		for (unsigned k = 0; k < VCPU_EXIT_KIND_COUNT; k++) {
			uint64_t c = vm_exit_count(l->vm, v, (enum vcpu_exit_kind)k);

			col_total[k] += c;
			shown[k] |= c != 0;
		}
	}
	fprintf(stderr, "cvisor: %s: exits by kind per vCPU\n", vm_label(l, label, sizeof(label)));
	fprintf(stderr, "%6s", "vcpu");
	for (unsigned k = 0; k < VCPU_EXIT_KIND_COUNT; k++)
		if (shown[k])
			fprintf(stderr, " %*s",
				(int)(strlen(vcpu_exit_name((enum vcpu_exit_kind)k)) < 8
					  ? 8
					  : strlen(vcpu_exit_name((enum vcpu_exit_kind)k))),
				vcpu_exit_name((enum vcpu_exit_kind)k));
	fprintf(stderr, " %10s\n", "total");
	for (unsigned v = 0; v <= n; v++) {
		uint64_t row = 0;

		if (v < n)
			fprintf(stderr, "%6u", v);
		else
			fprintf(stderr, "%6s", "all");
		for (unsigned k = 0; k < VCPU_EXIT_KIND_COUNT; k++) {
			const char *name = vcpu_exit_name((enum vcpu_exit_kind)k);
			uint64_t c = v < n ? vm_exit_count(l->vm, v, (enum vcpu_exit_kind)k) : col_total[k];

			if (!shown[k])
				continue;
			row += c;
			fprintf(stderr, " %*llu", (int)(strlen(name) < 8 ? 8 : strlen(name)), (unsigned long long)c);
		}
		fprintf(stderr, " %10llu\n", (unsigned long long)row);
	}
	if (vm_unmapped_count(l->vm))
		fprintf(stderr, "cvisor: %s: %llu accesses to no device were ignored\n", label,
			(unsigned long long)vm_unmapped_count(l->vm));
}

/* Frees l's VMM and VM (after the stats); a VMM whose tasks would not leave is leaked. */
static void teardown(struct live_vm *l, bool stats)
{
	char label[64];
	int rc;

	if (stats && l->vm)
		print_stats(l);
	if (l->vv) {
		rc = vmm_destroy(l->vv, DESTROY_NS);
		if (rc < 0) {
			/* A stuck task may still touch the VM: leaking it is the only safe choice. */
			cvisor_msg("%s: vCPU tasks would not leave (%s): not freeing the VM",
				   vm_label(l, label, sizeof(label)), cv_strerror(rc));
			l->stuck = true;
			l->vv = NULL;
			l->vm = NULL;
			return;
		}
		l->vv = NULL;
	}
	/* No vCPU runs any more: the last partial line can go out. */
	console_flush(&l->console);
	vm_destroy(l->vm);
	l->vm = NULL;
}

/* Says why l's VM stopped (nothing for a power-off) and whether that counts as success. */
static bool report(const struct live_vm *l, const char *host_why)
{
	const struct vm_stop_reason *r = &l->res.reason;
	char label[64];

	vm_label(l, label, sizeof(label));
	if (l->stuck)
		return false;
	switch (r->kind) {
	case VM_STOP_POWER_OFF:
		return true;
	case VM_STOP_CRASH:
		cvisor_msg("%s: the guest crashed (triple fault) on vCPU %u", label, r->vcpu_id);
		return false;
	case VM_STOP_FAILED:
		/*
		 * -CV_EGUEST covers FAIL_ENTRY (detail: the hardware reason) and exits the
		 * backend could not handle (KVM internal errors); the backend logged which.
		 */
		if (r->error == -CV_ENODEV)
			cvisor_msg("%s: vCPU %u accessed no device at 0x%llx (devices.unmapped_access is \"%s\")",
				   label, r->vcpu_id, (unsigned long long)r->detail,
				   config_unmapped_name(l->spec->cfg.unmapped_access));
		else
			cvisor_msg("%s: vCPU %u failed: %s (detail 0x%llx)", label, r->vcpu_id, cv_strerror(r->error),
				   (unsigned long long)r->detail);
		return false;
	case VM_STOP_HOST:
		cvisor_msg("%s: stopped by cvisor (%s)", label, host_why ? host_why : "on request");
		return false;
	case VM_STOP_RESET:
		if (l->resets >= MAX_RESETS)
			cvisor_msg("%s: the guest kept resetting (%u times): stopped", label, l->resets);
		else
			cvisor_msg("%s: the guest reset while cvisor was stopping it (%s)", label,
				   host_why ? host_why : "on request");
		return false;
	case VM_STOP_NONE:
	default:
		cvisor_msg("%s: stopped for no recorded reason", label);
		return false;
	}
}

static uint64_t now_ns(void)
{
	return hal_now_ns();
}

enum cvisor_exit run_vms(struct run_opts *o)
{
	static struct live_vm live[RUN_MAX_VMS];
	struct timespec zero = {0, 0};
	const char *host_why = NULL;
	uint64_t deadline = 0, stop_deadline = 0;
	bool stopping = false, all_ok = true;
	unsigned left = 0;
	sigset_t sigs, old;
	char label[64];
	int rc;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

	memset(live, 0, sizeof(live));
	/*
	 * Every VM is built before any starts, so that a VM the VM layer refuses (-CV_EINVAL:
	 * its config makes no sense there) is a config error with nothing started (exit 2).
	 */
	for (unsigned i = 0; i < o->nvms; i++) {
		live[i].spec = &o->vms[i];
		if (o->nvms > 1)
			snprintf(live[i].console.prefix, sizeof(live[i].console.prefix), "[%s] ", o->vms[i].cfg.name);
		rc = build_vm(&live[i]);
		if (rc < 0) {
			for (unsigned j = 0; j < i; j++)
				teardown(&live[j], false);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return rc == -CV_EINVAL ? CVISOR_EXIT_USAGE : CVISOR_EXIT_FAILED;
		}
	}
	for (unsigned i = 0; i < o->nvms; i++) {
		rc = start_vm(&live[i]);
		if (rc < 0) {
			/* Nothing half-started stays behind: stop what runs already, free the rest. */
			for (unsigned j = 0; j < o->nvms; j++) {
				if (live[j].vv) {
					vmm_shutdown(live[j].vv);
					vmm_wait(live[j].vv, STOP_GRACE_NS, NULL);
				}
				if (j != i)
					teardown(&live[j], false);
			}
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return CVISOR_EXIT_FAILED;
		}
		left++;
	}
	if (o->timeout_s)
		deadline = now_ns() + o->timeout_s * NS_PER_S;

	while (left) {
		int sig;

		for (unsigned i = 0; i < o->nvms; i++) {
			struct live_vm *l = &live[i];

			if (l->done)
				continue;
			rc = vmm_wait(l->vv, POLL_NS, &l->res);
			if (rc == -CV_ETIMEDOUT)
				continue;
			if (rc < 0) {
				cvisor_msg("%s: waiting for the VM failed: %s", vm_label(l, label, sizeof(label)),
					   cv_strerror(rc));
				l->res.reason.kind = VM_STOP_FAILED;
				l->res.reason.error = rc;
			}
			/* DESIGN.md: a reset destroys the VM and builds a new one from the same config. */
			if (rc == 0 && l->res.reason.kind == VM_STOP_RESET && !stopping && l->resets < MAX_RESETS) {
				l->resets++;
				cvisor_msg("%s: the guest reset: rebuilding the VM", vm_label(l, label, sizeof(label)));
				teardown(l, o->stats);
				if (!l->stuck && build_vm(l) == 0 && start_vm(l) == 0)
					continue;
				l->res.reason.kind = VM_STOP_FAILED;
				l->res.reason.error = -CV_EIO;
			}
			l->done = true;
			left--;
		}
		if (!left)
			break;

		sig = sigtimedwait(&sigs, NULL, &zero);
		if (sig > 0 && stopping) {
			/* A second signal: the user will not wait for the VMs to leave. */
			cvisor_msg("signal %d again: leaving without waiting for the VMs", sig);
			fflush(stdout);
			_exit(CVISOR_EXIT_FAILED);
		}
		if (sig > 0) {
			host_why = sig == SIGINT    ? "interrupted (SIGINT)"
				   : sig == SIGTERM ? "terminated (SIGTERM)"
						    : "hung up (SIGHUP)";
		} else if (deadline && now_ns() >= deadline && !stopping) {
			host_why = "--timeout ran out";
		} else if (stopping && now_ns() >= stop_deadline) {
			/* Tasks that ignore the stop: report them and give up on those VMs. */
			for (unsigned i = 0; i < o->nvms; i++) {
				if (live[i].done)
					continue;
				cvisor_msg("%s: did not stop within %llu s (stuck vCPU tasks 0x%llx)",
					   vm_label(&live[i], label, sizeof(label)),
					   (unsigned long long)(STOP_GRACE_NS / NS_PER_S),
					   (unsigned long long)live[i].res.stuck_mask);
				live[i].stuck = true;
				live[i].done = true;
				left--;
			}
			break;
		} else {
			continue;
		}
		if (host_why && !stopping) {
			cvisor_msg("%s: stopping every VM", host_why);
			stopping = true;
			stop_deadline = now_ns() + STOP_GRACE_NS;
			for (unsigned i = 0; i < o->nvms; i++)
				if (!live[i].done)
					vmm_shutdown(live[i].vv);
		}
	}

	for (unsigned i = 0; i < o->nvms; i++) {
		struct live_vm *l = &live[i];

		if (!l->stuck)
			teardown(l, o->stats);
		all_ok &= report(l, host_why);
	}
	fflush(stdout);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return all_ok ? CVISOR_EXIT_OK : CVISOR_EXIT_FAILED;
}
