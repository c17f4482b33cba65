/* SPDX-License-Identifier: MIT */
/*
 * The KVM integration tests' harness: a VM with RAM at CV_X86_GUEST_LOAD_GPA holding one
 * of the embedded test guests (guests/x86_64/), its vCPUs driven through core/vcpu.c and
 * the arch contract only (no VM layer), a watchdog that kicks a vCPU stuck in the guest,
 * and TAP output.
 */
#ifndef CVISOR_TESTS_KVM_HARNESS_H
#define CVISOR_TESTS_KVM_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <cvisor/arch.h>
#include <cvisor/vcpu.h>

#define KH_MAX_VCPUS	  4
#define KH_RAM_SIZE	  (2u << 20)	/* guest RAM from CV_X86_GUEST_LOAD_GPA */
#define KH_RUN_TIMEOUT_NS 5000000000ull /* one vcpu_run longer than this is kicked */

struct kh_vm {
	struct vm_arch vm;
	bool vm_live;
	void *ram;
	unsigned nvcpus;
	struct vcpu *vcpus[KH_MAX_VCPUS];
};

/* True when /dev/kvm can be opened read-write. */
bool kh_kvm_available(void);

/* The embedded flat image of guest `name`; false when there is none. */
bool kh_guest_image(const char *name, const uint8_t **data, uint64_t *size);

/*
 * Builds a VM running guest `name`: RAM mapped and the image loaded at
 * CV_X86_GUEST_LOAD_GPA, nvcpus vCPUs created with boot_arg and set up with their entry
 * there, vCPU 0 bound to the calling thread. 0 or a negative CV_E* code.
 */
int kh_vm_start(struct kh_vm *h, const char *name, unsigned nvcpus, uint64_t boot_arg);

/* Unbinds (when bound), destroys every vCPU and the VM, frees RAM; safe on a partial start. */
void kh_vm_stop(struct kh_vm *h);

/* vcpu_run, kicked by the watchdog if the guest does not exit within KH_RUN_TIMEOUT_NS. */
int kh_run(struct vcpu *v, struct vcpu_exit *exit);

/* Runs until the next exit whose kind is not NOTHING (at most a few NOTHINGs). */
int kh_run_exit(struct vcpu *v, struct vcpu_exit *exit);

/* Guest-physical address -> host pointer inside the harness RAM, or NULL. */
void *kh_gpa(struct kh_vm *h, uint64_t gpa, uint64_t len);

/* ---- TAP ---- */

/* Records a failed check with its text and place (a "# ..." line); returns cond. */
bool kt_check(bool cond, const char *what, const char *file, int line);

/* printf-style diagnostic line ("# ..."). */
void kt_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Ends the current test case: "ok N - name" unless a check failed since the last one. */
void kt_case_end(const char *name);

/* Reports a skipped case: "ok N - name # SKIP reason". */
void kt_skip(const char *name, const char *reason);

/* Cases that failed so far. */
unsigned kt_failures(void);

#define KT_REQUIRE(cond)                                                                                               \
	do {                                                                                                           \
		if (!kt_check(!!(cond), #cond, __FILE__, __LINE__))                                                    \
			goto out;                                                                                      \
	} while (0)

/* Equality of two integers with both values in the diagnostic. */
bool kt_check_eq(uint64_t got, uint64_t want, const char *what, const char *file, int line);
#define KT_REQUIRE_EQ(got, want)                                                                                       \
	do {                                                                                                           \
		if (!kt_check_eq((uint64_t)(got), (uint64_t)(want), #got " == " #want, __FILE__, __LINE__))            \
			goto out;                                                                                      \
	} while (0)

/* ---- exits ---- */

/* The next exit must be kind; false (and a diagnostic) otherwise. */
bool kh_expect_kind(struct vcpu *v, struct vcpu_exit *exit, enum vcpu_exit_kind kind, const char *file, int line);
#define KH_EXPECT(v, exit, kind) KT_REQUIRE(kh_expect_kind((v), (exit), (kind), __FILE__, __LINE__))

/* The guest's next report (two 4-byte OUTs to CV_TEST_REPORT_PORT) into *val. */
bool kh_expect_report(struct vcpu *v, uint64_t *val, const char *file, int line);
#define KH_REPORT(v, valp) KT_REQUIRE(kh_expect_report((v), (valp), __FILE__, __LINE__))
#define KH_REPORT_EQ(v, want)                                                                                          \
	do {                                                                                                           \
		uint64_t kh_got_;                                                                                      \
		KH_REPORT((v), &kh_got_);                                                                              \
		KT_REQUIRE_EQ(kh_got_, (want));                                                                        \
	} while (0)

#endif /* CVISOR_TESTS_KVM_HARNESS_H */
