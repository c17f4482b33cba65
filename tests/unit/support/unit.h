/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests of core/ on the fake arch. */
#ifndef CVISOR_TESTS_UNIT_H
#define CVISOR_TESTS_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <cvisor/vcpu.h>

/* A vCPU of VM 1 with id vcpu_id, created on the fake arch (asserts success). */
struct vcpu *unit_new_vcpu(uint32_t vcpu_id);

/* Runs fn in a child process; true when the child died of SIGABRT. */
bool unit_child_aborts(void (*fn)(void));

#endif
