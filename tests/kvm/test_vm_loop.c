/* SPDX-License-Identifier: MIT */
/*
 * Issue #4: 200 VMs created, run and destroyed in a loop on the real KVM backend, through
 * the whole VM + VMM stack (the `cvisor run` demo guest on 4 vCPUs: CPU_ON, console,
 * barrier, power-off), leave no file descriptor open and no memory growth behind.
 * Memory is compared after a warm-up, so that allocator and thread-stack caches the
 * first VMs fill are not counted as growth. Prints TAP.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/uart8250.h>
#include <cvisor/vm.h>
#include <cvisor/vmm.h>

#define LOOPS	      200
#define WARMUP	      20
#define NCPUS	      4
#define MAX_GROWTH_KB 4096 /* well below one VM's 16 MiB of guest RAM */

extern const unsigned char guest_demo_start[], guest_demo_end[];

struct console {
	char buf[512];
	size_t len;
};

static void console_tx(void *ctx, uint8_t byte)
{
	struct console *c = ctx;

	if (c->len + 1 < sizeof(c->buf))
		c->buf[c->len++] = (char)byte;
}

static unsigned open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Resident set size in KiB (/proc/self/statm counts pages). */
static long rss_kb(void)
{
	long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* One VM from config to destroy; 0 when it powered off with the demo's exact output. */
static int one_vm(unsigned i, char *why, size_t whylen)
{
	struct vm_config cfg;
	struct console con = {.len = 0};
	struct uart8250_config ucfg = {.tx = console_tx, .ctx = &con};
	struct vmm_result res;
	struct vmm_vm *vv = NULL;
	struct vm *vm = NULL;
	int ret;

	memset(&cfg, 0, sizeof(cfg));
	cfg.id = i + 1;
	snprintf(cfg.name, sizeof(cfg.name), "loop%u", i);
	cfg.cpu_num = NCPUS;
	cfg.has_entry_point = true;
	cfg.entry_point = CV_X86_GUEST_LOAD_GPA;
	cfg.nregions = 1;
	cfg.regions[0].gpa = 0;
	cfg.regions[0].size = 16u << 20;
	cfg.unmapped_access = UNMAPPED_IGNORE;

	ret = vm_create(&vm, &cfg);
	if (ret < 0) {
		snprintf(why, whylen, "vm_create: %s", cv_strerror(ret));
		return ret;
	}
	ret = vm_write_guest(vm, gpa(CV_X86_GUEST_LOAD_GPA), guest_demo_start,
			     (size_t)(guest_demo_end - guest_demo_start));
	if (ret == 0)
		ret = vm_add_uart8250(vm, BUS_PIO, CV_X86_COM1_PORT, &ucfg, NULL);
	if (ret == 0)
		ret = vmm_start(&vv, vm, NULL);
	if (ret == 0)
		ret = vmm_wait(vv, 10ull * 1000000000ull, &res);
	if (ret < 0)
		snprintf(why, whylen, "VM %u: %s", i, cv_strerror(ret));
	else if (res.reason.kind != VM_STOP_POWER_OFF)
		ret = -CV_EGUEST, snprintf(why, whylen, "VM %u stopped: %s", i, vm_stop_kind_name(res.reason.kind));
	else if (!strstr(con.buf, "demo: all 4 vCPUs met\n"))
		ret = -CV_EGUEST, snprintf(why, whylen, "VM %u console: %.*s", i, (int)con.len, con.buf);
	if (vv && vmm_destroy(vv, 1000000000ull) < 0 && ret == 0) {
		ret = -CV_ETIMEDOUT;
		snprintf(why, whylen, "VM %u: vmm_destroy timed out", i);
	}
	vm_destroy(vm);
	return ret;
}

int main(void)
{
	unsigned fds_before, fds_after, i;
	long rss_warm = 0, rss_end;
	char why[600] = "";
	int ret = 0;

	printf("1..2\n");
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("ok 1 - %u VMs run and destroyed # SKIP no /dev/kvm\n", LOOPS);
		printf("ok 2 - no fd or memory growth # SKIP no /dev/kvm\n");
		return 0;
	}
	fds_before = open_fds();
	for (i = 0; i < LOOPS && ret == 0; i++) {
		ret = one_vm(i, why, sizeof(why));
		if (i + 1 == WARMUP)
			rss_warm = rss_kb();
	}
	rss_end = rss_kb();
	fds_after = open_fds();
	if (ret == 0)
		printf("ok 1 - %u VMs (4 vCPUs each) created, run to power-off and destroyed\n", LOOPS);
	else
		printf("not ok 1 - %u VMs run and destroyed\n# %s\n", LOOPS, why);
	printf("# fds %u -> %u, RSS after %u VMs %ld KiB, after %u VMs %ld KiB\n", fds_before, fds_after, WARMUP,
	       rss_warm, LOOPS, rss_end);
	if (ret == 0 && fds_after == fds_before && rss_warm > 0 && rss_end - rss_warm <= MAX_GROWTH_KB)
		printf("ok 2 - no fd or memory growth over %u VMs\n", LOOPS);
	else
		printf("not ok 2 - no fd or memory growth over %u VMs\n", LOOPS);
	return 0;
}
