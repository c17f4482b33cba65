/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of devices/vgic-v3.c: the GICv3 distributor and redistributor registers as
 * a guest sees them (IHI 0069), the delivery decisions, the list registers the flush
 * writes (ICH_LR<n>_EL2 values, IHI 0069 12.5.10) and SGI target decoding. The list
 * registers are a plain array here, as the AArch64 backend hands them over.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <cvisor/errors.h>
#include <cvisor/vgic.h>

#include "support/unit.h"

#define NLR 4 /* QEMU's virtual CPU interface has four list registers */

/* GICD / GICR offsets (IHI 0069 12.9, 12.10, 12.11). */
#define GICD_CTLR	0x0000
#define GICD_TYPER	0x0004
#define GICD_IIDR	0x0008
#define GICD_TYPER2	0x000c
#define GICD_IGROUPR	0x0080
#define GICD_ISENABLER	0x0100
#define GICD_ICENABLER	0x0180
#define GICD_ISPENDR	0x0200
#define GICD_ICPENDR	0x0280
#define GICD_ISACTIVER	0x0300
#define GICD_ICACTIVER	0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ICFGR	0x0c00
#define GICD_IGRPMODR	0x0d00
#define GICD_IROUTER(n) (0x6000 + 8 * (n))
#define PIDR2		0xffe8
#define GICR_CTLR	0x0000
#define GICR_TYPER	0x0008
#define GICR_WAKER	0x0014
#define SGI		0x10000
#define GICR_IGROUPR0	(SGI + 0x0080)
#define GICR_ISENABLER0 (SGI + 0x0100)
#define GICR_ICENABLER0 (SGI + 0x0180)
#define GICR_ISPENDR0	(SGI + 0x0200)
#define GICR_ICPENDR0	(SGI + 0x0280)
#define GICR_IPRIORITYR (SGI + 0x0400)
#define GICR_ICFGR0	(SGI + 0x0c00)
#define GICR_ICFGR1	(SGI + 0x0c04)
#define FRAME(n)	((uint64_t)(n)*VGIC_GICR_STRIDE)

#define LR_STATE(v) ((v) >> 62)
#define LR_INTID(v) ((uint32_t)(v))
#define LR_PRIO(v)  ((unsigned)((v) >> 48) & 0xff)

struct notes {
	pthread_mutex_t lock;
	uint64_t mask;
	unsigned count;
	uint32_t last_intid;
};

static void note(void *ctx, uint32_t vcpu_id, uint32_t intid)
{
	struct notes *n = ctx;

	pthread_mutex_lock(&n->lock);
	n->mask |= 1ull << vcpu_id;
	n->count++;
	n->last_intid = intid;
	pthread_mutex_unlock(&n->lock);
}

static struct notes notes = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t take_notes(void)
{
	uint64_t m;

	pthread_mutex_lock(&notes.lock);
	m = notes.mask;
	notes.mask = 0;
	notes.count = 0;
	pthread_mutex_unlock(&notes.lock);
	return m;
}

static struct vgic *new_vgic(unsigned nvcpus, unsigned spi_blocks)
{
	struct vgic *v = NULL;

	assert_int_equal(vgic_create(&v, nvcpus, spi_blocks, note, &notes), 0);
	take_notes();
	return v;
}

static uint64_t drd(struct vgic *v, uint64_t off, enum access_width w)
{
	uint64_t val = 0xdeadbeef;

	assert_int_equal(vgic_dist_ops.read(v, 0, off, w, &val), 0);
	return val;
}

static void dwr(struct vgic *v, uint64_t off, enum access_width w, uint64_t val)
{
	assert_int_equal(vgic_dist_ops.write(v, 0, off, w, val), 0);
}

static uint64_t rrd(struct vgic *v, uint64_t off, enum access_width w)
{
	uint64_t val = 0xdeadbeef;

	assert_int_equal(vgic_redist_ops.read(v, 0, off, w, &val), 0);
	return val;
}

static void rwr(struct vgic *v, uint64_t off, enum access_width w, uint64_t val)
{
	assert_int_equal(vgic_redist_ops.write(v, 0, off, w, val), 0);
}

/* What Linux's gic_dist_init and gic_cpu_init do: groups 1, distributor on, redistributors awake. */
static void linux_init(struct vgic *v, unsigned nvcpus)
{
	dwr(v, GICD_CTLR, 4, 0);
	for (unsigned i = 1; i < 32; i++)
		dwr(v, GICD_IGROUPR + 4 * i, 4, ~0u);
	dwr(v, GICD_CTLR, 4, 0x13); /* ARE_NS | EnableGrp1A | EnableGrp1 (= Grp0 | Grp1 with DS = 1) */
	for (unsigned c = 0; c < nvcpus; c++) {
		rwr(v, FRAME(c) + GICR_WAKER, 4, 0);
		rwr(v, FRAME(c) + GICR_IGROUPR0, 4, ~0u);
	}
	take_notes();
}

/* ---- registers ---- */

static void test_create_args(void **state)
{
	struct vgic *v;

	(void)state;
	assert_int_equal(vgic_create(&v, 0, 1, NULL, NULL), -CV_EINVAL);
	assert_int_equal(vgic_create(&v, VGIC_MAX_VCPUS + 1, 1, NULL, NULL), -CV_EINVAL);
	assert_int_equal(vgic_create(&v, 1, 0, NULL, NULL), -CV_EINVAL);
	assert_int_equal(vgic_create(&v, 1, 32, NULL, NULL), -CV_EINVAL);
	assert_int_equal(vgic_create(NULL, 1, 1, NULL, NULL), -CV_EINVAL);
	assert_int_equal(vgic_create(&v, 1, 31, NULL, NULL), 0); /* 988 SPIs: INTIDs up to 1019 */
	assert_int_equal(drd(v, GICD_TYPER, 4) & 0x1f, 31);
	assert_int_equal(vgic_raise_edge(v, 0, 1019), 0);
	assert_int_equal(vgic_raise_edge(v, 0, 1020), -CV_ERANGE);
	vgic_destroy(v);
	vgic_destroy(NULL);
}

static void test_dist_id_registers(void **state)
{
	struct vgic *v = new_vgic(2, 2);
	uint64_t typer = drd(v, GICD_TYPER, 4);

	(void)state;
	assert_int_equal(typer & 0x1f, 2);	   /* ITLinesNumber: 32 * (2 + 1) INTIDs */
	assert_int_equal((typer >> 19) & 0x1f, 9); /* IDbits: 10 */
	assert_true(typer & (1u << 25));	   /* No1N */
	assert_false(typer & (1u << 17));	   /* no LPIs */
	assert_false(typer & (1u << 10));	   /* SecurityExtn 0: one security state */
	assert_int_equal(drd(v, GICD_IIDR, 4) & 0xfff, 0x43b);
	assert_int_equal(drd(v, GICD_TYPER2, 4), 0);
	assert_int_equal((drd(v, PIDR2, 4) >> 4) & 0xf, 3); /* ArchRev: GICv3 */
	assert_int_equal((rrd(v, FRAME(1) + PIDR2, 4) >> 4) & 0xf, 3);
	/* ARE and DS read as one and stay so; the group enables are kept. */
	assert_int_equal(drd(v, GICD_CTLR, 4), 0x50);
	dwr(v, GICD_CTLR, 4, 0xffffffff);
	assert_int_equal(drd(v, GICD_CTLR, 4), 0x53);
	dwr(v, GICD_CTLR, 4, 0);
	assert_int_equal(drd(v, GICD_CTLR, 4), 0x50);
	/* read-only registers ignore writes */
	dwr(v, GICD_TYPER, 4, 0);
	assert_int_equal(drd(v, GICD_TYPER, 4), typer);
	vgic_destroy(v);
}

static void test_redist_typer_last(void **state)
{
	struct vgic *v = new_vgic(18, 1);

	(void)state;
	for (unsigned c = 0; c < 18; c++) {
		uint64_t t = rrd(v, FRAME(c) + GICR_TYPER, 8);

		/* Affinity = the vCPU's MPIDR (Aff1 = c / 16, Aff0 = c % 16), Processor_Number = c. */
		assert_int_equal(t >> 32, ((c / 16) << 8) | (c % 16));
		assert_int_equal((t >> 8) & 0xffff, c);
		assert_int_equal(!!(t & (1u << 4)), c == 17); /* Last: only the last frame */
		assert_int_equal(t & 3, 0);		      /* no LPIs, no vLPIs */
		/* 32-bit halves give the same value */
		assert_int_equal(rrd(v, FRAME(c) + GICR_TYPER, 4) | rrd(v, FRAME(c) + GICR_TYPER + 4, 4) << 32, t);
	}
	assert_int_equal(rrd(v, FRAME(3) + GICR_CTLR, 4), 0);
	vgic_destroy(v);
}

static void test_waker_handshake(void **state)
{
	struct vgic *v = new_vgic(2, 1);

	(void)state;
	/* asleep at reset: ProcessorSleep and ChildrenAsleep */
	assert_int_equal(rrd(v, FRAME(1) + GICR_WAKER, 4), 6);
	rwr(v, FRAME(1) + GICR_WAKER, 4, 0); /* Linux: clear ProcessorSleep, poll ChildrenAsleep */
	assert_int_equal(rrd(v, FRAME(1) + GICR_WAKER, 4), 0);
	assert_int_equal(rrd(v, FRAME(0) + GICR_WAKER, 4), 6); /* per redistributor */
	rwr(v, FRAME(1) + GICR_WAKER, 4, 2);
	assert_int_equal(rrd(v, FRAME(1) + GICR_WAKER, 4), 6);
	rwr(v, FRAME(1) + GICR_WAKER, 4, 4); /* ChildrenAsleep is read-only */
	assert_int_equal(rrd(v, FRAME(1) + GICR_WAKER, 4), 0);
	vgic_destroy(v);
}

static void test_enable_pending_active_bits(void **state)
{
	struct vgic *v = new_vgic(2, 2);

	(void)state;
	dwr(v, GICD_ISENABLER + 4, 4, 0x00000105); /* INTIDs 32, 34, 40 */
	dwr(v, GICD_ISENABLER + 4, 4, 0x00010000); /* set-enable only sets */
	assert_int_equal(drd(v, GICD_ISENABLER + 4, 4), 0x00010105);
	assert_int_equal(drd(v, GICD_ICENABLER + 4, 4), 0x00010105);
	dwr(v, GICD_ICENABLER + 4, 4, 0x00000004);
	assert_int_equal(drd(v, GICD_ISENABLER + 4, 4), 0x00010101);
	/* pending and active */
	dwr(v, GICD_ISPENDR + 8, 4, 0x80000001); /* INTIDs 64 and 95 */
	assert_int_equal(drd(v, GICD_ISPENDR + 8, 4), 0x80000001);
	dwr(v, GICD_ICPENDR + 8, 4, 0x00000001);
	assert_int_equal(drd(v, GICD_ICPENDR + 8, 4), 0x80000000);
	dwr(v, GICD_ISACTIVER + 4, 4, 0x2);
	assert_int_equal(drd(v, GICD_ISACTIVER + 4, 4), 0x2);
	dwr(v, GICD_ICACTIVER + 4, 4, ~0u);
	assert_int_equal(drd(v, GICD_ISACTIVER + 4, 4), 0);
	/* groups */
	dwr(v, GICD_IGROUPR + 4, 4, 0xf0f0f0f0);
	assert_int_equal(drd(v, GICD_IGROUPR + 4, 4), 0xf0f0f0f0);
	/* the SGI frame of each redistributor holds that vCPU's SGIs and PPIs */
	rwr(v, FRAME(1) + GICR_ISENABLER0, 4, 0x08000020); /* SGI 5, PPI 27 */
	assert_int_equal(rrd(v, FRAME(1) + GICR_ISENABLER0, 4), 0x08000020);
	assert_int_equal(rrd(v, FRAME(0) + GICR_ISENABLER0, 4), 0);
	rwr(v, FRAME(1) + GICR_ICENABLER0, 4, 0x20);
	assert_int_equal(rrd(v, FRAME(1) + GICR_ICENABLER0, 4), 0x08000000);
	rwr(v, FRAME(0) + GICR_ISPENDR0, 4, 0x4);
	assert_int_equal(rrd(v, FRAME(0) + GICR_ISPENDR0, 4), 0x4);
	rwr(v, FRAME(0) + GICR_ICPENDR0, 4, 0x4);
	assert_int_equal(rrd(v, FRAME(0) + GICR_ISPENDR0, 4), 0);
	rwr(v, FRAME(0) + GICR_IGROUPR0, 4, ~0u);
	assert_int_equal(rrd(v, FRAME(0) + GICR_IGROUPR0, 4), ~0u);
	vgic_destroy(v);
}

static void test_priority_bytes(void **state)
{
	struct vgic *v = new_vgic(2, 1);

	(void)state;
	dwr(v, GICD_IPRIORITYR + 32, 4, 0xa0a0a0a0);
	dwr(v, GICD_IPRIORITYR + 34, 1, 0x11); /* byte writes: 5 bits kept (0x10) */
	dwr(v, GICD_IPRIORITYR + 35, 1, 0xff);
	assert_int_equal(drd(v, GICD_IPRIORITYR + 32, 4), 0xf810a0a0);
	assert_int_equal(drd(v, GICD_IPRIORITYR + 34, 1), 0x10);
	assert_int_equal(drd(v, GICD_IPRIORITYR + 33, 1), 0xa0);
	/* the private INTIDs' bytes in the distributor are RAZ/WI with affinity routing */
	dwr(v, GICD_IPRIORITYR + 4, 4, 0xffffffff);
	assert_int_equal(drd(v, GICD_IPRIORITYR + 4, 4), 0);
	/* in the redistributor, per vCPU */
	rwr(v, FRAME(1) + GICR_IPRIORITYR + 4, 4, 0x80706050);
	rwr(v, FRAME(1) + GICR_IPRIORITYR + 27, 1, 0x20);
	assert_int_equal(rrd(v, FRAME(1) + GICR_IPRIORITYR + 4, 4), 0x80706050);
	assert_int_equal(rrd(v, FRAME(1) + GICR_IPRIORITYR + 6, 1), 0x70);
	assert_int_equal(rrd(v, FRAME(1) + GICR_IPRIORITYR + 24, 4), 0x20000000);
	assert_int_equal(rrd(v, FRAME(0) + GICR_IPRIORITYR + 4, 4), 0);
	/* past the last SPI: RAZ/WI */
	dwr(v, GICD_IPRIORITYR + 64, 4, 0xffffffff);
	assert_int_equal(drd(v, GICD_IPRIORITYR + 64, 4), 0);
	vgic_destroy(v);
}

static void test_irouter(void **state)
{
	struct vgic *v = new_vgic(2, 1);

	(void)state;
	assert_int_equal(drd(v, GICD_IROUTER(32), 8), 0); /* reset: Aff 0.0.0.0 */
	dwr(v, GICD_IROUTER(40), 8, ~0ull);
	/* Aff3 (39:32) and Aff2.Aff1.Aff0 (23:0) kept; IRM (31) RAZ/WI (No1N); the rest RES0 */
	assert_int_equal(drd(v, GICD_IROUTER(40), 8), 0xff00ffffffull);
	dwr(v, GICD_IROUTER(41), 4, 0x0101); /* a 32-bit write to the low half */
	dwr(v, GICD_IROUTER(41) + 4, 4, 0x7);
	assert_int_equal(drd(v, GICD_IROUTER(41), 8), 0x700000101ull);
	assert_int_equal(drd(v, GICD_IROUTER(41) + 4, 4), 0x7);
	assert_int_equal(drd(v, GICD_IROUTER(41), 4), 0x101);
	/* IROUTER<n> for n < 32 is reserved */
	dwr(v, GICD_IROUTER(5), 8, 1);
	assert_int_equal(drd(v, GICD_IROUTER(5), 8), 0);
	vgic_destroy(v);
}

static void test_raz_wi(void **state)
{
	struct vgic *v = new_vgic(2, 1);
	static const uint64_t reserved[] = {0x0010, 0x0040, 0x0800, 0x0f00,	  0x0f10,
					    0x5000, 0x8000, 0xc000, 0xfffc - 0x20};

	(void)state;
	for (unsigned i = 0; i < CV_ARRAY_SIZE(reserved); i++) {
		dwr(v, reserved[i], 4, ~0u);
		assert_int_equal(drd(v, reserved[i], 4), 0);
	}
	/* widths the architecture does not allow: no effect, read zero */
	dwr(v, GICD_ISENABLER + 4, 1, 0xff);
	dwr(v, GICD_ISENABLER + 4, 2, 0xffff);
	dwr(v, GICD_ISENABLER + 4, 8, ~0ull);
	dwr(v, GICD_ISENABLER + 6, 4, ~0u); /* misaligned */
	assert_int_equal(drd(v, GICD_ISENABLER + 4, 4), 0);
	dwr(v, GICD_ISENABLER + 4, 4, 1);
	assert_int_equal(drd(v, GICD_ISENABLER + 4, 1), 0);
	assert_int_equal(drd(v, GICD_ISENABLER + 4, 2), 0);
	assert_int_equal(drd(v, GICD_CTLR, 8), 0);
	assert_int_equal(drd(v, GICD_IPRIORITYR + 33, 2), 0);
	assert_int_equal(drd(v, GICD_IROUTER(33) + 2, 4), 0);
	/* the private INTIDs' GICD bits are RAZ/WI, and so are INTIDs past the last SPI */
	dwr(v, GICD_ISENABLER, 4, ~0u);
	assert_int_equal(drd(v, GICD_ISENABLER, 4), 0);
	dwr(v, GICD_ISENABLER + 8, 4, ~0u);
	assert_int_equal(drd(v, GICD_ISENABLER + 8, 4), 0);
	/* IGRPMODR is RAZ/WI with one security state */
	dwr(v, GICD_IGRPMODR + 4, 4, ~0u);
	assert_int_equal(drd(v, GICD_IGRPMODR + 4, 4), 0);
	/* past the 64 KiB frame, or past the last redistributor */
	assert_int_equal(drd(v, 0x10000, 4), 0);
	assert_int_equal(rrd(v, FRAME(2) + GICR_TYPER, 8), 0);
	rwr(v, FRAME(2) + GICR_ISENABLER0, 4, ~0u);
	/* redistributor: TYPER is the only 64-bit register; SGI-frame bits only 32-bit */
	assert_int_equal(rrd(v, GICR_WAKER, 8), 0);
	rwr(v, GICR_ISENABLER0, 1, 0xff);
	assert_int_equal(rrd(v, GICR_ISENABLER0, 4), 0);
	rwr(v, GICR_IGROUPR0 + 0x40, 4, ~0u); /* reserved in the SGI frame */
	assert_int_equal(rrd(v, GICR_IGROUPR0 + 0x40, 4), 0);
	/* SGIs are edge-triggered, GICR_ICFGR0 read-only; PPIs (ICFGR1) configurable */
	assert_int_equal(rrd(v, GICR_ICFGR0, 4), 0xaaaaaaaa);
	rwr(v, GICR_ICFGR0, 4, 0);
	assert_int_equal(rrd(v, GICR_ICFGR0, 4), 0xaaaaaaaa);
	assert_int_equal(rrd(v, GICR_ICFGR1, 4), 0);
	rwr(v, GICR_ICFGR1, 4, 0x00800000); /* PPI 27 edge */
	assert_int_equal(rrd(v, GICR_ICFGR1, 4), 0x00800000);
	dwr(v, GICD_ICFGR + 8, 4, 0x5555aaaa); /* SPIs 32-47: only the edge bits count */
	assert_int_equal(drd(v, GICD_ICFGR + 8, 4), 0x0000aaaa);
	/* NULL arguments are host errors, not guest ones */
	assert_int_equal(vgic_dist_read(v, 0, 0, 4, NULL), -CV_EINVAL);
	assert_int_equal(vgic_redist_write(NULL, 0, 0, 4, 0), -CV_EINVAL);
	vgic_destroy(v);
}

/* ---- delivery ---- */

static void test_disabled_stays_pending(void **state)
{
	struct vgic *v = new_vgic(2, 1);
	uint64_t lr[NLR] = {0};

	(void)state;
	linux_init(v, 2);
	dwr(v, GICD_IPRIORITYR + 40, 1, 0xa0);
	assert_int_equal(vgic_set_level(v, 0, 40, true), 0);
	assert_int_equal(take_notes(), 0); /* disabled: nobody to tell */
	assert_int_equal(vgic_flush_lrs(v, 0, lr, NLR), 0);
	assert_int_equal(lr[0], 0);
	assert_int_equal(drd(v, GICD_ISPENDR + 4, 4), 1u << 8);
	dwr(v, GICD_ISENABLER + 4, 4, 1u << 8);
	assert_int_equal(take_notes(), 1); /* vCPU 0 (IROUTER reset value) */
	vgic_flush_lrs(v, 0, lr, NLR);
	/* pending, group 1, priority 0xa0, INTID 40, EOI (level-sensitive, software) */
	assert_int_equal(lr[0], VGIC_LR_PENDING | VGIC_LR_GROUP1 | 0xa0ull << 48 | VGIC_LR_EOI | 40);
	assert_int_equal(lr[1], 0);
	/* group 1 disabled in GICD_CTLR: taken out of the LRs at the next entry */
	dwr(v, GICD_CTLR, 4, 0x10);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(lr[0], 0);
	assert_int_equal(drd(v, GICD_ISPENDR + 4, 4), 1u << 8); /* still pending */
	dwr(v, GICD_CTLR, 4, 0x12);
	assert_int_equal(take_notes(), 3); /* every vCPU looks again */
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_INTID(lr[0]), 40);
	vgic_destroy(v);
}

static void test_level_resampled_on_eoi(void **state)
{
	struct vgic *v = new_vgic(1, 1);
	uint64_t lr[NLR] = {0};

	(void)state;
	linux_init(v, 1);
	dwr(v, GICD_ISENABLER + 4, 4, 1u << 1); /* INTID 33: the PL011's SPI 1 */
	vgic_set_level(v, 0, 33, true);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_STATE(lr[0]), 1);
	assert_true(lr[0] & VGIC_LR_EOI);
	/* the guest acknowledges it: active; the line is still high: pending and active */
	lr[0] = (lr[0] & ~(3ull << 62)) | VGIC_LR_ACTIVE;
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_STATE(lr[0]), 3);
	assert_int_equal(drd(v, GICD_ISACTIVER + 4, 4), 2);
	/* its handler reads the UART: the line drops; the LR keeps only the active state */
	vgic_set_level(v, 0, 33, false);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_STATE(lr[0]), 2);
	/* EOI: the LR is invalid (the maintenance interrupt ended the run); nothing is left */
	lr[0] &= ~(3ull << 62);
	assert_int_equal(vgic_flush_lrs(v, 0, lr, NLR), 0);
	assert_int_equal(lr[0], 0);
	assert_int_equal(drd(v, GICD_ISACTIVER + 4, 4), 0);
	assert_int_equal(drd(v, GICD_ISPENDR + 4, 4), 0);
	/* EOI with the line still high: pending again */
	vgic_set_level(v, 0, 33, true);
	vgic_flush_lrs(v, 0, lr, NLR);
	lr[0] &= ~(3ull << 62);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_INTID(lr[0]), 33);
	assert_int_equal(LR_STATE(lr[0]), 1);
	vgic_destroy(v);
}

static bool timer_level;

static bool timer_line(void *ctx, uint32_t vcpu_id)
{
	(void)ctx;
	(void)vcpu_id;
	return timer_level;
}

static void test_resample_and_hw(void **state)
{
	struct vgic *v = new_vgic(2, 1);
	uint64_t lr[NLR] = {0};

	(void)state;
	linux_init(v, 2);
	rwr(v, FRAME(1) + GICR_ISENABLER0, 4, 1u << 27);
	rwr(v, FRAME(1) + GICR_IPRIORITYR + 27, 1, 0x20);
	assert_int_equal(vgic_set_resample(v, 1, 27, timer_line, NULL), 0);
	assert_int_equal(vgic_set_resample(v, 9, 27, timer_line, NULL), -CV_ENOENT);
	timer_level = true;
	vgic_set_level(v, 1, 27, true);
	assert_int_equal(take_notes(), 2);
	vgic_flush_lrs(v, 1, lr, NLR);
	assert_int_equal(lr[0], VGIC_LR_PENDING | VGIC_LR_GROUP1 | 0x20ull << 48 | VGIC_LR_EOI | 27);
	/* the guest takes it and reprograms the timer: the source is asked again, now low */
	timer_level = false;
	lr[0] = (lr[0] & ~(3ull << 62)) | VGIC_LR_ACTIVE;
	vgic_flush_lrs(v, 1, lr, NLR);
	assert_int_equal(LR_STATE(lr[0]), 2);
	lr[0] &= ~(3ull << 62);
	vgic_flush_lrs(v, 1, lr, NLR);
	assert_int_equal(lr[0], 0);
	/* the same PPI linked to the physical one: HW = 1, pINTID 27, no EOI maintenance */
	assert_int_equal(vgic_map_hw(v, 1, 27, 27), 0);
	assert_int_equal(vgic_map_hw(v, 1, 27, 3), -CV_ERANGE);
	assert_int_equal(vgic_set_resample(v, 1, 27, NULL, NULL), 0);
	vgic_raise_edge(v, 1, 27);
	vgic_flush_lrs(v, 1, lr, NLR);
	assert_int_equal(lr[0], VGIC_LR_PENDING | VGIC_LR_HW | VGIC_LR_GROUP1 | 0x20ull << 48 | 27ull << 32 | 27);
	/* acknowledged: active only (never pending and active with HW = 1) */
	lr[0] = (lr[0] & ~(3ull << 62)) | VGIC_LR_ACTIVE;
	vgic_raise_edge(v, 1, 27);
	vgic_flush_lrs(v, 1, lr, NLR);
	assert_int_equal(LR_STATE(lr[0]), 2);
	assert_true(lr[0] & VGIC_LR_HW);
	/* deactivated by the guest (and so the physical one): the next edge is delivered */
	lr[0] &= ~(3ull << 62);
	vgic_flush_lrs(v, 1, lr, NLR);
	assert_int_equal(LR_STATE(lr[0]), 1);
	vgic_destroy(v);
}

static void test_priority_order_and_overflow(void **state)
{
	struct vgic *v = new_vgic(1, 1);
	static const uint8_t prio[6] = {0x80, 0x40, 0xc0, 0x40, 0x10, 0x60}; /* SGIs 0-5 */
	static const uint32_t order[6] = {4, 1, 3, 5, 0, 2};
	uint64_t lr[NLR] = {0};

	(void)state;
	linux_init(v, 1);
	for (unsigned i = 0; i < 6; i++)
		rwr(v, GICR_IPRIORITYR + i, 1, prio[i]);
	rwr(v, GICR_ISENABLER0, 4, 0x3f);
	for (unsigned i = 0; i < 6; i++)
		vgic_raise_edge(v, 0, i);
	/* the four most urgent in the LRs, most urgent first; NPIE: more wait */
	assert_int_equal(vgic_flush_lrs(v, 0, lr, NLR), VGIC_HCR_NPIE);
	for (unsigned i = 0; i < NLR; i++) {
		assert_int_equal(LR_INTID(lr[i]), order[i]);
		assert_int_equal(LR_PRIO(lr[i]), prio[order[i]]);
		assert_true(lr[i] & VGIC_LR_EOI); /* with more waiting, every EOI ends the run */
	}
	/* a new, more urgent one displaces the least urgent pending one */
	rwr(v, GICR_IPRIORITYR + 9, 1, 0x00);
	rwr(v, GICR_ISENABLER0, 4, 1u << 9);
	vgic_raise_edge(v, 0, 9);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_INTID(lr[0]), 9);
	assert_int_equal(LR_INTID(lr[3]), 3);
	/* the guest takes and ends all four (NPIE fired): the rest come in, in order */
	for (unsigned i = 0; i < NLR; i++)
		lr[i] &= ~(3ull << 62);
	assert_int_equal(vgic_flush_lrs(v, 0, lr, NLR), 0);
	assert_int_equal(LR_INTID(lr[0]), 5);
	assert_int_equal(LR_INTID(lr[1]), 0);
	assert_int_equal(LR_INTID(lr[2]), 2);
	assert_int_equal(lr[3], 0);
	assert_false(lr[0] & VGIC_LR_EOI); /* edge-triggered, nothing waiting: no maintenance */
	/* all LRs active and more waiting: UIE, since NPIE would fire at once */
	rwr(v, GICR_IPRIORITYR + 8, 4, 0xf0f0f0f0); /* SGIs 10-11 */
	rwr(v, GICR_ISENABLER0, 4, 3u << 10);
	vgic_raise_edge(v, 0, 10);
	assert_int_equal(vgic_flush_lrs(v, 0, lr, NLR), 0);
	assert_int_equal(LR_INTID(lr[3]), 10);
	for (unsigned i = 0; i < NLR; i++)
		lr[i] = (lr[i] & ~(3ull << 62)) | VGIC_LR_ACTIVE;
	vgic_raise_edge(v, 0, 11);
	vgic_raise_edge(v, 0, 1); /* more urgent than any active one, still waits: actives stay */
	assert_int_equal(vgic_flush_lrs(v, 0, lr, NLR), VGIC_HCR_UIE);
	for (unsigned i = 0; i < NLR; i++)
		assert_int_equal(LR_STATE(lr[i]), 2);
	/* one ended: the most urgent waiting one comes in */
	lr[1] &= ~(3ull << 62);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_INTID(lr[3]), 1);
	assert_int_equal(LR_STATE(lr[3]), 1);
	vgic_destroy(v);
}

static void test_routing(void **state)
{
	struct vgic *v = new_vgic(4, 1);
	uint64_t lr[4][NLR] = {{0}};

	(void)state;
	linux_init(v, 4);
	dwr(v, GICD_IROUTER(50), 8, 2); /* Aff0 2: vCPU 2 */
	dwr(v, GICD_ISENABLER + 4, 4, 1u << 18);
	vgic_raise_edge(v, 0, 50);
	assert_int_equal(take_notes(), 1u << 2);
	for (unsigned c = 0; c < 4; c++)
		vgic_flush_lrs(v, c, lr[c], NLR);
	assert_int_equal(lr[0][0], 0);
	assert_int_equal(LR_INTID(lr[2][0]), 50);
	/* the guest takes it on vCPU 2, then moves the SPI to vCPU 3: it stays active on 2 */
	lr[2][0] = (lr[2][0] & ~(3ull << 62)) | VGIC_LR_ACTIVE;
	dwr(v, GICD_IROUTER(50), 8, 3);
	vgic_flush_lrs(v, 2, lr[2], NLR);
	vgic_flush_lrs(v, 3, lr[3], NLR);
	assert_int_equal(LR_STATE(lr[2][0]), 2);
	assert_int_equal(lr[3][0], 0);
	/* pending again while active on 2: it stays with vCPU 2 until it is deactivated */
	vgic_raise_edge(v, 0, 50);
	take_notes();
	vgic_flush_lrs(v, 2, lr[2], NLR);
	assert_int_equal(LR_STATE(lr[2][0]), 3);
	lr[2][0] = (lr[2][0] & ~(3ull << 62)) | VGIC_LR_PENDING; /* deactivated, still pending */
	vgic_flush_lrs(v, 2, lr[2], NLR);
	assert_int_equal(lr[2][0], 0);
	assert_int_equal(take_notes(), 1u << 3); /* the next owner is told */
	vgic_flush_lrs(v, 3, lr[3], NLR);
	assert_int_equal(LR_INTID(lr[3][0]), 50);
	assert_int_equal(LR_STATE(lr[3][0]), 1);
	/* an IROUTER naming no vCPU: it waits */
	dwr(v, GICD_IROUTER(51), 8, 0x100); /* Aff1 1: vCPU 16, absent */
	dwr(v, GICD_ISENABLER + 4, 4, 1u << 19);
	vgic_raise_edge(v, 0, 51);
	assert_int_equal(take_notes(), 0);
	for (unsigned c = 0; c < 3; c++) {
		vgic_flush_lrs(v, c, lr[c], NLR);
		for (unsigned i = 0; i < NLR; i++)
			assert_int_not_equal(LR_INTID(lr[c][i]), 51);
	}
	dwr(v, GICD_IROUTER(51), 4, 1);
	assert_int_equal(take_notes(), 1u << 1);
	vgic_destroy(v);
}

static void test_icpendr_while_in_lr(void **state)
{
	struct vgic *v = new_vgic(1, 1);
	uint64_t lr[NLR] = {0};

	(void)state;
	linux_init(v, 1);
	rwr(v, GICR_ISENABLER0, 4, 1u << 7);
	vgic_raise_edge(v, 0, 7);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(rrd(v, GICR_ISPENDR0, 4), 1u << 7); /* pending in the LR counts */
	rwr(v, GICR_ICPENDR0, 4, 1u << 7);
	assert_int_equal(rrd(v, GICR_ISPENDR0, 4), 0);
	vgic_flush_lrs(v, 0, lr, NLR); /* the LR still says pending: the write wins */
	assert_int_equal(lr[0], 0);
	/* disabling takes a pending interrupt out of the LRs too */
	vgic_raise_edge(v, 0, 7);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_INTID(lr[0]), 7);
	rwr(v, GICR_ICENABLER0, 4, 1u << 7);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(lr[0], 0);
	assert_int_equal(rrd(v, GICR_ISPENDR0, 4), 1u << 7);
	/* GICR_ISPENDR0 while the guest has it active: the write adds pending, active stays */
	rwr(v, GICR_ISENABLER0, 4, 1u << 7);
	vgic_flush_lrs(v, 0, lr, NLR);
	lr[0] = (lr[0] & ~(3ull << 62)) | VGIC_LR_ACTIVE;
	rwr(v, GICR_ISPENDR0, 4, 1u << 7);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_INTID(lr[0]), 7);
	assert_int_equal(LR_STATE(lr[0]), 3);
	/* GICR_ICACTIVER0 then: pending stays, active goes */
	rwr(v, SGI + 0x380, 4, 1u << 7);
	assert_int_equal(rrd(v, SGI + 0x300, 4), 0);
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_int_equal(LR_STATE(lr[0]), 1);
	vgic_destroy(v);
}

static void test_wfi_pending(void **state)
{
	struct vgic *v = new_vgic(1, 1);
	uint64_t lr[NLR] = {0};
	const uint64_t vmcr_on = 0xf0ull << 24 | 2; /* VPMR 0xf0, VENG1 */

	(void)state;
	linux_init(v, 1);
	assert_true(vgic_vcpu_pending(v, 0, lr, NLR, vmcr_on)); /* GICD_CTLR changed: look again */
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_false(vgic_vcpu_pending(v, 0, lr, NLR, vmcr_on));
	rwr(v, GICR_IPRIORITYR, 1, 0xa0);
	rwr(v, GICR_ISENABLER0, 4, 1);
	vgic_raise_edge(v, 0, 0);
	assert_true(vgic_vcpu_pending(v, 0, lr, NLR, vmcr_on)); /* not flushed yet */
	vgic_flush_lrs(v, 0, lr, NLR);
	assert_true(vgic_vcpu_pending(v, 0, lr, NLR, vmcr_on));
	assert_false(vgic_vcpu_pending(v, 0, lr, NLR, 0xa0ull << 24 | 2)); /* masked by the PMR */
	assert_false(vgic_vcpu_pending(v, 0, lr, NLR, 0xf0ull << 24 | 1)); /* group 1 off */
	lr[0] = (lr[0] & ~(3ull << 62)) | VGIC_LR_ACTIVE;
	assert_false(vgic_vcpu_pending(v, 0, lr, NLR, vmcr_on));
	vgic_destroy(v);
}

/* ---- SGIs ---- */

static struct vcpu_exit sgi_exit(uint64_t sgi1r)
{
	/* as arch/aarch64 decodes ICC_SGI1R_EL1 (IHI 0069 12.2.21) */
	struct vcpu_exit e = {.kind = VCPU_EXIT_SEND_IPI};

	e.send_ipi.target_cpu = ((sgi1r >> 48) & 0xff) << 32 | ((sgi1r >> 32) & 0xff) << 16 |
				((sgi1r >> 16) & 0xff) << 8 | ((sgi1r >> 44) & 0xf) * 16;
	e.send_ipi.target_cpu_aux = sgi1r & 0xffff;
	e.send_ipi.send_to_all = (sgi1r >> 40) & 1;
	e.send_ipi.vector = (sgi1r >> 24) & 0xf;
	return e;
}

static uint64_t pending_sgis(struct vgic *v, unsigned c)
{
	return rrd(v, FRAME(c) + GICR_ISPENDR0, 4) & 0xffff;
}

static void test_sgi_targets(void **state)
{
	struct vgic *v = new_vgic(34, 1); /* vCPUs 0-15 Aff1 0, 16-31 Aff1 1, 32-33 Aff1 2 */
	struct vcpu_exit e;

	(void)state;
	linux_init(v, 34);
	for (unsigned c = 0; c < 34; c++)
		rwr(v, FRAME(c) + GICR_ISENABLER0, 4, 0xffff);
	take_notes();
	/* TargetList 0b1010, Aff1 0, INTID 5: vCPUs 1 and 3 */
	e = sgi_exit(5ull << 24 | 0xa);
	assert_int_equal(vgic_send_sgi(v, 0, &e), 0);
	assert_int_equal(take_notes(), (1u << 1) | (1u << 3));
	assert_int_equal(pending_sgis(v, 1), 1u << 5);
	assert_int_equal(pending_sgis(v, 3), 1u << 5);
	assert_int_equal(pending_sgis(v, 2), 0);
	/* Aff1 1, TargetList bit 2: vCPU 18 */
	e = sgi_exit(1ull << 16 | 9ull << 24 | 0x4);
	vgic_send_sgi(v, 0, &e);
	assert_int_equal(pending_sgis(v, 18), 1u << 9);
	assert_int_equal(pending_sgis(v, 2), 0);
	take_notes();
	/* RS = 1 names Aff0 16-31: no vCPU has those (Aff0 < 16), nothing happens */
	e = sgi_exit(1ull << 44 | 2ull << 24 | 0xffff);
	vgic_send_sgi(v, 0, &e);
	assert_int_equal(take_notes(), 0);
	/* Aff2 set: nobody */
	e = sgi_exit(1ull << 32 | 2ull << 24 | 0xffff);
	vgic_send_sgi(v, 0, &e);
	assert_int_equal(take_notes(), 0);
	/* Aff1 2, list 0b11: vCPUs 32, 33 */
	e = sgi_exit(2ull << 16 | 3ull << 24 | 0x3);
	vgic_send_sgi(v, 5, &e);
	assert_int_equal(pending_sgis(v, 32), 1u << 3);
	assert_int_equal(pending_sgis(v, 33), 1u << 3);
	/* IRM: everyone but the sender */
	take_notes();
	e = sgi_exit(1ull << 40 | 14ull << 24);
	vgic_send_sgi(v, 7, &e);
	for (unsigned c = 0; c < 34; c++)
		assert_int_equal(!!(pending_sgis(v, c) & (1u << 14)), c != 7);
	assert_int_equal(take_notes(), ((1ull << 34) - 1) & ~(1ull << 7));
	/* not a SEND_IPI, or not an SGI: refused */
	e.kind = VCPU_EXIT_HALT;
	assert_int_equal(vgic_send_sgi(v, 0, &e), -CV_EINVAL);
	e = sgi_exit(0);
	e.send_ipi.vector = 16;
	assert_int_equal(vgic_send_sgi(v, 0, &e), -CV_EINVAL);
	vgic_destroy(v);
}

static void test_sgi_delivered_to_target_lr(void **state)
{
	struct vgic *v = new_vgic(2, 1);
	uint64_t lr0[NLR] = {0}, lr1[NLR] = {0};
	struct vcpu_exit e;

	(void)state;
	linux_init(v, 2);
	rwr(v, FRAME(1) + GICR_IPRIORITYR + 4, 1, 0x90);
	e = sgi_exit(4ull << 24 | 0x2);
	vgic_send_sgi(v, 0, &e);
	assert_int_equal(take_notes(), 0); /* SGI 4 is not enabled on vCPU 1 yet */
	rwr(v, FRAME(1) + GICR_ISENABLER0, 4, 1u << 4);
	assert_int_equal(take_notes(), 1u << 1);
	vgic_flush_lrs(v, 0, lr0, NLR);
	vgic_flush_lrs(v, 1, lr1, NLR);
	assert_int_equal(lr0[0], 0);
	assert_int_equal(lr1[0], VGIC_LR_PENDING | VGIC_LR_GROUP1 | 0x90ull << 48 | 4);
	/* taken and ended: gone */
	lr1[0] &= ~(3ull << 62);
	vgic_flush_lrs(v, 1, lr1, NLR);
	assert_int_equal(lr1[0], 0);
	assert_int_equal(pending_sgis(v, 1), 0);
	/* an unchanged LR set and nothing new: the flush leaves them alone */
	vgic_send_sgi(v, 0, &e);
	vgic_flush_lrs(v, 1, lr1, NLR);
	assert_int_equal(vgic_flush_lrs(v, 1, lr1, NLR), 0);
	assert_int_equal(LR_INTID(lr1[0]), 4);
	vgic_destroy(v);
}

/* ---- concurrency: sources on several tasks while the target flushes ---- */

struct race {
	struct vgic *v;
	_Atomic unsigned done;
};

static void *raiser(void *p)
{
	struct race *r = p;

	for (unsigned i = 0; i < 20000; i++) {
		struct vcpu_exit e = sgi_exit((uint64_t)(i % 16) << 24 | 0x1);

		vgic_raise_edge(r->v, 0, 32 + (i % 64));
		vgic_send_sgi(r->v, 1, &e);
		vgic_set_level(r->v, 0, 96, i & 1);
	}
	atomic_fetch_add(&r->done, 1);
	return NULL;
}

static void test_concurrent_sources(void **state)
{
	struct vgic *v = new_vgic(2, 3);
	struct race r = {.v = v};
	pthread_t t[2];
	uint64_t lr[NLR] = {0};
	unsigned seen = 0;

	(void)state;
	linux_init(v, 2);
	rwr(v, GICR_ISENABLER0, 4, 0xffff);
	for (unsigned i = 1; i < 4; i++)
		dwr(v, GICD_ISENABLER + 4 * i, 4, ~0u);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, raiser, &r), 0);
	/* vCPU 0 takes and ends whatever is pending, as a guest would */
	for (unsigned i = 0; i < 1000 || atomic_load(&r.done) < 2; i++) {
		vgic_flush_lrs(v, 0, lr, NLR);
		for (unsigned k = 0; k < NLR; k++) {
			if (lr[k] & VGIC_LR_PENDING)
				seen++;
			lr[k] &= ~(3ull << 62);
		}
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	/*
	 * Drain what is left: every edge ends up taken, nothing stays owned. (The sources may
	 * have done all their work in one burst at the end: spinning threads on a small host
	 * can keep a preempted lock holder off its CPU for a while.)
	 */
	vgic_set_level(v, 0, 96, false);
	for (unsigned i = 0; i < 100; i++) {
		vgic_flush_lrs(v, 0, lr, NLR);
		for (unsigned k = 0; k < NLR; k++) {
			if (lr[k] & VGIC_LR_PENDING)
				seen++;
			lr[k] &= ~(3ull << 62);
		}
	}
	assert_true(seen >= 64 + 16); /* at least each SPI and SGI once */
	assert_int_equal(lr[0], 0);
	assert_int_equal(rrd(v, GICR_ISPENDR0, 4), 0);
	for (unsigned i = 1; i < 4; i++)
		assert_int_equal(drd(v, GICD_ISPENDR + 4 * i, 4), 0);
	vgic_destroy(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_args),
	    cmocka_unit_test(test_dist_id_registers),
	    cmocka_unit_test(test_redist_typer_last),
	    cmocka_unit_test(test_waker_handshake),
	    cmocka_unit_test(test_enable_pending_active_bits),
	    cmocka_unit_test(test_priority_bytes),
	    cmocka_unit_test(test_irouter),
	    cmocka_unit_test(test_raz_wi),
	    cmocka_unit_test(test_disabled_stays_pending),
	    cmocka_unit_test(test_level_resampled_on_eoi),
	    cmocka_unit_test(test_resample_and_hw),
	    cmocka_unit_test(test_priority_order_and_overflow),
	    cmocka_unit_test(test_routing),
	    cmocka_unit_test(test_icpendr_while_in_lr),
	    cmocka_unit_test(test_wfi_pending),
	    cmocka_unit_test(test_sgi_targets),
	    cmocka_unit_test(test_sgi_delivered_to_target_lr),
	    cmocka_unit_test(test_concurrent_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
