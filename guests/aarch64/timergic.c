/* SPDX-License-Identifier: MIT */
/* The timer guest (timer.c) in a VM with the emulated GICv3: the timer's PPI goes through the vGIC. */
#define TIMER_VGIC 1
#include "timer.c"
