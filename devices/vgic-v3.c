/* SPDX-License-Identifier: MIT */
/*
 * Emulated GICv3 distributor and redistributors (ARM IHI 0069H), the software half of
 * cvisor's vGIC; the hardware's virtual CPU interface is the other half.
 *
 * State: one struct irq per INTID a vCPU can see (32 private ones per vCPU, the SPIs
 * shared), holding what the architecture holds: enabled, pending (a latch for edges and
 * ISPENDR, the line for level-sensitive sources), active, priority, group, trigger,
 * route. While an interrupt sits in a vCPU's list registers, that vCPU "owns" it: the
 * hardware has its pending and active state, and vgic_flush_lrs takes it back before
 * the next entry (as Linux KVM folds and refills its LRs; read, not copied).
 *
 * Locking: v->lock protects every struct irq, GICD_CTLR and each vCPU's WAKER. The LR
 * bookkeeping of a vCPU (struct vcpu_state: used, lr_intid, lr_written, hcr) is touched
 * only by that vCPU's own task, in vgic_flush_lrs; `dirty` is an atomic set by anyone.
 * Cross-vCPU requests follow DESIGN.md: write the state under the lock, set the target's
 * dirty flag, unlock (release), then notify (kick / wake): a vCPU that misses the kick
 * flushes before it enters again, because it reads dirty after its own kick check.
 * The resample callback runs under the lock; notify never does.
 */
#include <stdatomic.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>
#include <cvisor/spinlock.h>
#include <cvisor/vgic.h>

/* ---- GICD registers (IHI 0069 12.9) ---- */
#define GICD_CTLR	 0x0000
#define GICD_TYPER	 0x0004
#define GICD_IIDR	 0x0008
#define GICD_TYPER2	 0x000c
#define GICD_IGROUPR	 0x0080
#define GICD_ISENABLER	 0x0100
#define GICD_ICENABLER	 0x0180
#define GICD_ISPENDR	 0x0200
#define GICD_ICPENDR	 0x0280
#define GICD_ISACTIVER	 0x0300
#define GICD_ICACTIVER	 0x0380
#define GICD_IPRIORITYR	 0x0400
#define GICD_ICFGR	 0x0c00
#define GICD_IROUTER	 0x6000 /* IROUTER<n> at 0x6000 + 8n, n = 32..1019 */
#define GICD_IROUTER_END 0x7fe0
#define GICD_ID_REGS	 0xffd0

#define GICD_CTLR_GRP0 (1u << 0)
#define GICD_CTLR_GRP1 (1u << 1)
#define GICD_CTLR_ARE  (1u << 4) /* RAO/WI: affinity routing is always on */
#define GICD_CTLR_DS   (1u << 6) /* RAO/WI: one security state */

/* ---- GICR registers (IHI 0069 12.10, 12.11) ---- */
#define GICR_CTLR	0x0000
#define GICR_IIDR	0x0004
#define GICR_TYPER	0x0008
#define GICR_WAKER	0x0014
#define GICR_ID_REGS	0xffd0
#define GICR_SGI_BASE	0x10000
#define GICR_IGROUPR0	0x0080
#define GICR_ISENABLER0 0x0100
#define GICR_ICENABLER0 0x0180
#define GICR_ISPENDR0	0x0200
#define GICR_ICPENDR0	0x0280
#define GICR_ISACTIVER0 0x0300
#define GICR_ICACTIVER0 0x0380
#define GICR_IPRIORITYR 0x0400
#define GICR_ICFGR0	0x0c00
#define GICR_ICFGR1	0x0c04

#define WAKER_PROCESSOR_SLEEP (1u << 1)
#define WAKER_CHILDREN_ASLEEP (1u << 2)

#define TYPER_LAST (1ull << 4)

/* IIDR: Implementer ARM (JEP106 0x43b), ProductID 'C' (cvisor), revision 0. */
#define VGIC_IIDR 0x4300043bu
/* 5 priority bits (the minimum a virtual CPU interface implements, IHI 0069 4.8). */
#define PRIO_MASK 0xf8u
/* IROUTER: Aff3 (39:32) and Aff2.Aff1.Aff0 (23:0); IRM (31) is RAZ/WI since No1N = 1. */
#define IROUTER_MASK 0xff00ffffffull

#define NO_VCPU (-1)

struct irq {
	bool enabled;
	bool latch; /* pending set by an edge, an SGI or GICD_ISPENDR */
	bool line;  /* level of the input line */
	bool active;
	bool group1;
	bool edge;	    /* ICFGR: edge-triggered */
	bool lr_pending;    /* written to its owner's LR in the pending state */
	bool stale_pending; /* the guest changed its pending state by MMIO while an LR held it */
	bool stale_active;  /* the same for its active state */
	uint8_t prio;
	int8_t owner;	  /* vCPU whose list registers hold it, or NO_VCPU */
	int8_t active_on; /* SPIs: the vCPU it is active on */
	uint16_t pintid;  /* physical INTID it is linked to (HW = 1), 0: none */
	uint64_t route;	  /* SPIs: GICD_IROUTER */
	bool (*resample)(void *ctx, uint32_t vcpu_id);
	void *resample_ctx;
};

struct vcpu_state {
	struct irq priv[VGIC_NR_PRIVATE]; /* v->lock */
	uint32_t waker;			  /* v->lock: GICR_WAKER.ProcessorSleep */
	_Atomic bool dirty;		  /* something for this vCPU changed: flush under the lock */
	/* the vCPU's own task only: */
	unsigned used; /* LRs written at the last flush */
	uint32_t lr_intid[VGIC_MAX_LRS];
	uint64_t lr_written[VGIC_MAX_LRS];
	uint64_t hcr;
};

struct vgic {
	struct cv_spinlock lock;
	unsigned nvcpus;
	unsigned nr_spis;
	uint32_t ctlr; /* lock: EnableGrp0 / EnableGrp1 */
	vgic_notify_fn notify;
	void *ctx;
	struct irq *spis;			       /* nr_spis of them, INTID 32 + i */
	uint64_t spi_live[(VGIC_MAX_INTID + 63) / 64]; /* lock: SPI i may be pending, active or owned */
	struct vcpu_state cpu[];
};

/* ---- creation ---- */

static void irq_reset(struct irq *irq, bool sgi)
{
	*irq = (struct irq){.owner = NO_VCPU, .active_on = NO_VCPU, .edge = sgi};
}

int vgic_create(struct vgic **out, unsigned nvcpus, unsigned spi_blocks, vgic_notify_fn notify, void *ctx)
{
	struct vgic *v;

	if (!out || nvcpus == 0 || nvcpus > VGIC_MAX_VCPUS || spi_blocks == 0 || spi_blocks > 31)
		return -CV_EINVAL;
	*out = NULL;
	v = hal_alloc(sizeof(*v) + nvcpus * sizeof(v->cpu[0]));
	if (!v)
		return -CV_ENOMEM;
	v->spis = hal_alloc(spi_blocks * 32 * sizeof(v->spis[0]));
	if (!v->spis) {
		hal_free(v);
		return -CV_ENOMEM;
	}
	v->nvcpus = nvcpus;
	/* INTIDs 1020-1023 are special (IHI 0069 2.2.1): the last block has 28 SPIs at most. */
	v->nr_spis = spi_blocks * 32 > VGIC_MAX_INTID - 32 ? VGIC_MAX_INTID - 32 : spi_blocks * 32;
	v->notify = notify;
	v->ctx = ctx;
	for (unsigned i = 0; i < v->nr_spis; i++)
		irq_reset(&v->spis[i], false);
	for (unsigned c = 0; c < nvcpus; c++) {
		struct vcpu_state *s = &v->cpu[c];

		for (unsigned i = 0; i < VGIC_NR_PRIVATE; i++)
			irq_reset(&s->priv[i], i < 16); /* SGIs are edge-triggered, PPIs level (ICFGR) */
		/* A redistributor starts asleep (IHI 0069 12.11.42: ProcessorSleep resets to 1). */
		s->waker = WAKER_PROCESSOR_SLEEP;
		atomic_init(&s->dirty, false);
	}
	*out = v;
	return 0;
}

void vgic_destroy(struct vgic *v)
{
	if (!v)
		return;
	hal_free(v->spis);
	hal_free(v);
}

/* ---- interrupt state ---- */

/* The interrupt intid as vCPU cid sees it, or NULL. */
static struct irq *irq_at(struct vgic *v, uint32_t cid, uint32_t intid)
{
	if (intid < VGIC_NR_PRIVATE)
		return cid < v->nvcpus ? &v->cpu[cid].priv[intid] : NULL;
	if (intid - VGIC_NR_PRIVATE < v->nr_spis)
		return &v->spis[intid - VGIC_NR_PRIVATE];
	return NULL;
}

static bool irq_pending(const struct irq *irq)
{
	return irq->latch || (!irq->edge && irq->line) || irq->lr_pending;
}

/*
 * Whether the pending latch moves into the LR and back (edges, and interrupts linked to a
 * physical one, whose level the physical GIC keeps), or stays until the guest
 * acknowledges (a GICD_ISPENDR write to a level-sensitive interrupt, IHI 0069 4.1.2).
 */
static bool latch_moves(const struct irq *irq)
{
	return irq->edge || irq->pintid;
}

static bool group_enabled(const struct vgic *v, const struct irq *irq)
{
	return v->ctlr & (irq->group1 ? GICD_CTLR_GRP1 : GICD_CTLR_GRP0);
}

/* The vCPU an SPI is routed to (IROUTER with IRM = 0 names one PE), or NO_VCPU. */
static int spi_target(const struct vgic *v, const struct irq *irq)
{
	long t = cv_cpu_id_to_vcpu(irq->route & IROUTER_MASK);

	return t >= 0 && (unsigned long)t < v->nvcpus ? (int)t : NO_VCPU;
}

/* Where intid goes now: its owner, the vCPU it is private to, or its route. */
static int irq_vcpu(const struct vgic *v, const struct irq *irq, uint32_t cid, uint32_t intid)
{
	if (irq->owner != NO_VCPU)
		return irq->owner;
	if (intid < VGIC_NR_PRIVATE)
		return (int)cid;
	if (irq->active && irq->active_on != NO_VCPU)
		return irq->active_on;
	return spi_target(v, irq);
}

static void mark_dirty(struct vgic *v, int cid)
{
	if (cid != NO_VCPU)
		atomic_store(&v->cpu[cid].dirty, true);
}

/* Keeps the SPI scan set (lock held): SPIs that may be pending, active or in an LR. */
static void update_live(struct vgic *v, const struct irq *irq, uint32_t intid)
{
	uint32_t i = intid - VGIC_NR_PRIVATE;

	if (intid < VGIC_NR_PRIVATE)
		return;
	if (irq->latch || irq->line || irq->active || irq->owner != NO_VCPU)
		v->spi_live[i / 64] |= 1ull << (i % 64);
	else
		v->spi_live[i / 64] &= ~(1ull << (i % 64));
}

static bool deliverable(const struct vgic *v, const struct irq *irq)
{
	return irq_pending(irq) && irq->enabled && group_enabled(v, irq);
}

/*
 * Called under the lock after anything about intid changed: keeps the SPI scan set, marks
 * whoever must look at it again, and adds the vCPU to kick when it is now deliverable.
 */
static void changed(struct vgic *v, struct irq *irq, uint32_t cid, uint32_t intid, uint64_t *kick)
{
	int t = irq_vcpu(v, irq, cid, intid);

	update_live(v, irq, intid);
	if (t == NO_VCPU)
		return; /* routed to no vCPU: it waits, pending, until IROUTER names one */
	mark_dirty(v, t);
	if (deliverable(v, irq))
		*kick |= 1ull << t;
}

/* Notifies (outside the lock) every vCPU in kick. */
static void kick_all(struct vgic *v, uint64_t kick, uint32_t intid)
{
	while (kick) {
		uint32_t c = (uint32_t)__builtin_ctzll(kick);

		kick &= kick - 1;
		if (v->notify)
			v->notify(v->ctx, c, intid);
	}
}

/* ---- the bit-per-INTID registers ---- */

enum bitreg {
	BR_GROUP,
	BR_SET_ENABLE,
	BR_CLEAR_ENABLE,
	BR_SET_PENDING,
	BR_CLEAR_PENDING,
	BR_SET_ACTIVE,
	BR_CLEAR_ACTIVE
};

static bool bit_read(const struct irq *irq, enum bitreg r)
{
	switch (r) {
	case BR_GROUP:
		return irq->group1;
	case BR_SET_ENABLE:
	case BR_CLEAR_ENABLE:
		return irq->enabled;
	case BR_SET_PENDING:
	case BR_CLEAR_PENDING:
		return irq_pending(irq);
	case BR_SET_ACTIVE:
	case BR_CLEAR_ACTIVE:
		return irq->active;
	default:
		return false;
	}
}

/* One bit of a write; the IS* and IC* registers act on the bits written as 1 only. */
static void bit_write(struct vgic *v, struct irq *irq, uint32_t cid, uint32_t intid, enum bitreg r, bool bit,
		      uint64_t *kick)
{
	if (!bit && r != BR_GROUP)
		return;
	switch (r) {
	case BR_GROUP:
		irq->group1 = bit;
		break;
	case BR_SET_ENABLE:
		irq->enabled = true;
		break;
	case BR_CLEAR_ENABLE:
		irq->enabled = false;
		break;
	case BR_SET_PENDING:
		irq->latch = true;
		irq->stale_pending = irq->owner != NO_VCPU;
		break;
	case BR_CLEAR_PENDING:
		/* The line of a level-sensitive source stays as it is (IHI 0069 4.1.2). */
		irq->latch = false;
		irq->lr_pending = false;
		irq->stale_pending = irq->owner != NO_VCPU;
		break;
	case BR_SET_ACTIVE:
		irq->active = true;
		if (intid >= VGIC_NR_PRIVATE && irq->owner == NO_VCPU)
			irq->active_on = (int8_t)spi_target(v, irq);
		irq->stale_active = irq->owner != NO_VCPU;
		break;
	case BR_CLEAR_ACTIVE:
		irq->active = false;
		irq->active_on = NO_VCPU;
		irq->stale_active = irq->owner != NO_VCPU;
		break;
	default:
		return;
	}
	changed(v, irq, cid, intid, kick);
}

/* 32 INTIDs from first, as vCPU cid sees them: read the register or write val to it. */
static uint32_t bits_access(struct vgic *v, uint32_t cid, uint32_t first, enum bitreg r, bool write, uint32_t val)
{
	uint64_t kick = 0;
	uint32_t out = 0;

	cv_spin_lock(&v->lock);
	for (uint32_t i = 0; i < 32; i++) {
		struct irq *irq = irq_at(v, cid, first + i);

		if (!irq)
			break; /* INTIDs past the last SPI: RAZ/WI */
		if (write)
			bit_write(v, irq, cid, first + i, r, (val >> i) & 1, &kick);
		else if (bit_read(irq, r))
			out |= 1u << i;
	}
	cv_spin_unlock(&v->lock);
	kick_all(v, kick, first);
	return out;
}

/* Priority bytes [first, first + n) (IPRIORITYR is byte-accessible, IHI 0069 12.9.21). */
static uint32_t prio_access(struct vgic *v, uint32_t cid, uint32_t first, unsigned n, bool write, uint32_t val)
{
	uint32_t out = 0;

	cv_spin_lock(&v->lock);
	for (unsigned i = 0; i < n; i++) {
		struct irq *irq = irq_at(v, cid, first + i);

		if (!irq)
			break;
		if (write) {
			irq->prio = (uint8_t)(val >> (8 * i)) & PRIO_MASK;
			mark_dirty(v, irq_vcpu(v, irq, cid, first + i)); /* the LR order may change */
		} else {
			out |= (uint32_t)irq->prio << (8 * i);
		}
	}
	cv_spin_unlock(&v->lock);
	return out;
}

/* ICFGR: two bits per INTID, bit 1 of each = edge (IHI 0069 12.9.9). */
static uint32_t cfg_access(struct vgic *v, uint32_t cid, uint32_t first, bool write, uint32_t val)
{
	uint32_t out = 0;

	cv_spin_lock(&v->lock);
	for (uint32_t i = 0; i < 16; i++) {
		struct irq *irq = irq_at(v, cid, first + i);

		if (!irq)
			break;
		/* SGIs are always edge-triggered: GICR_ICFGR0 is read-only (IHI 0069 12.11.7). */
		if (write && first + i >= 16) {
			irq->edge = (val >> (2 * i + 1)) & 1;
			mark_dirty(v, irq_vcpu(v, irq, cid, first + i));
		}
		if (irq->edge)
			out |= 2u << (2 * i);
	}
	cv_spin_unlock(&v->lock);
	return out;
}

/* The CoreSight-style ID registers at 0xffd0 (IHI 0069 12.1.13): ArchRev 3 in PIDR2. */
static uint32_t id_reg(uint64_t off)
{
	switch (off) {
	case 0xffd0:
		return 0x44; /* PIDR4 */
	case 0xffe0:
		return 0x92; /* PIDR0 */
	case 0xffe4:
		return 0xb4; /* PIDR1 */
	case 0xffe8:
		return 0x3b; /* PIDR2: ArchRev 3 (GICv3), JEDEC */
	case 0xfff0:
		return 0x0d; /* CIDR0-3 */
	case 0xfff4:
		return 0xf0;
	case 0xfff8:
		return 0x05;
	case 0xfffc:
		return 0xb1;
	default:
		return 0;
	}
}

/* ---- distributor ---- */

static bool in(uint64_t off, uint64_t base, uint64_t size)
{
	return off >= base && off - base < size;
}

/*
 * The widths the architecture allows (IHI 0069 12.1.3): 32-bit accesses everywhere,
 * bytes to IPRIORITYR (and ITARGETSR, SPENDSGIR, CPENDSGIR, all RAZ/WI here), 64-bit
 * to IROUTER, all naturally aligned. Anything else is RAZ/WI.
 */
static bool dist_width_ok(uint64_t off, enum access_width w)
{
	if (off & ((uint64_t)w - 1) || off >= VGIC_GICD_SIZE)
		return false;
	switch (w) {
	case ACCESS_WIDTH_4:
		return true;
	case ACCESS_WIDTH_1:
		return in(off, GICD_IPRIORITYR, 0x400);
	case ACCESS_WIDTH_8:
		return in(off, GICD_IROUTER, GICD_IROUTER_END - GICD_IROUTER);
	case ACCESS_WIDTH_2:
	default:
		return false;
	}
}

static uint32_t dist_typer(const struct vgic *v)
{
	/* ITLinesNumber = N with 32 (N + 1) INTIDs; IDbits = 9 (10 bits); No1N (25): no 1-of-N SPIs. */
	return ((v->nr_spis + 31) / 32) | (9u << 19) | (1u << 25);
}

/* The bit-register block and the INTID a dist offset names; false for other offsets. */
static bool dist_bitreg(uint64_t off, enum bitreg *r, uint32_t *first)
{
	static const struct {
		uint32_t base;
		enum bitreg r;
	} map[] = {
	    {GICD_IGROUPR, BR_GROUP},	       {GICD_ISENABLER, BR_SET_ENABLE},	 {GICD_ICENABLER, BR_CLEAR_ENABLE},
	    {GICD_ISPENDR, BR_SET_PENDING},    {GICD_ICPENDR, BR_CLEAR_PENDING}, {GICD_ISACTIVER, BR_SET_ACTIVE},
	    {GICD_ICACTIVER, BR_CLEAR_ACTIVE},
	};

	for (unsigned i = 0; i < CV_ARRAY_SIZE(map); i++) {
		if (in(off, map[i].base, 0x80)) {
			*r = map[i].r;
			*first = (uint32_t)(off - map[i].base) * 8;
			return true;
		}
	}
	return false;
}

static uint64_t dist_access(struct vgic *v, uint32_t cid, uint64_t off, enum access_width w, bool write, uint64_t val)
{
	enum bitreg r;
	uint32_t first;

	if (!dist_width_ok(off, w))
		return 0;
	/* With affinity routing the private INTIDs live in the redistributors: their GICD bits are RAZ/WI. */
	if (dist_bitreg(off, &r, &first))
		return first < VGIC_NR_PRIVATE ? 0 : bits_access(v, cid, first, r, write, (uint32_t)val);
	if (in(off, GICD_IPRIORITYR, 0x400)) {
		first = (uint32_t)(off - GICD_IPRIORITYR);
		return first < VGIC_NR_PRIVATE ? 0 : prio_access(v, cid, first, (unsigned)w, write, (uint32_t)val);
	}
	if (in(off, GICD_ICFGR, 0x100)) {
		first = (uint32_t)(off - GICD_ICFGR) * 4;
		return first < VGIC_NR_PRIVATE ? 0 : cfg_access(v, cid, first, write, (uint32_t)val);
	}
	if (in(off, GICD_IROUTER, GICD_IROUTER_END - GICD_IROUTER)) {
		uint32_t intid = (uint32_t)((off - GICD_IROUTER) / 8);
		unsigned shift = (off & 4) ? 32 : 0; /* a 32-bit access to either half */
		uint64_t mask = w == ACCESS_WIDTH_8 ? ~0ull : 0xffffffffull << shift;
		uint64_t kick = 0, out = 0;
		struct irq *irq;

		cv_spin_lock(&v->lock);
		irq = intid >= VGIC_NR_PRIVATE ? irq_at(v, cid, intid) : NULL;
		if (irq && write) {
			int old = irq_vcpu(v, irq, cid, intid);

			irq->route = ((irq->route & ~mask) | ((val << shift) & mask)) & IROUTER_MASK;
			mark_dirty(v, old);
			changed(v, irq, cid, intid, &kick);
		} else if (irq) {
			out = (irq->route & mask) >> shift;
		}
		cv_spin_unlock(&v->lock);
		kick_all(v, kick, intid);
		return out;
	}
	if (off >= GICD_ID_REGS)
		return write ? 0 : id_reg(off);
	switch (off) {
	case GICD_CTLR:
		if (write) {
			uint64_t kick = 0;

			cv_spin_lock(&v->lock);
			v->ctlr = (uint32_t)val & (GICD_CTLR_GRP0 | GICD_CTLR_GRP1);
			/* A group enabled now may let waiting interrupts through: every vCPU looks again. */
			for (unsigned c = 0; c < v->nvcpus; c++) {
				mark_dirty(v, (int)c);
				kick |= 1ull << c;
			}
			cv_spin_unlock(&v->lock);
			kick_all(v, kick, VGIC_MAX_INTID);
			return 0;
		}
		return v->ctlr | GICD_CTLR_ARE | GICD_CTLR_DS; /* RWP (31) is 0: writes take effect at once */
	case GICD_TYPER:
		return write ? 0 : dist_typer(v);
	case GICD_IIDR:
		return write ? 0 : VGIC_IIDR;
	case GICD_TYPER2:
	default:
		return 0; /* TYPER2 (no vSGIs, no extended ranges) and every reserved or absent register */
	}
}

int vgic_dist_read(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	if (!v || !val)
		return -CV_EINVAL;
	*val = dist_access(v, vcpu_id, offset, width, false, 0);
	return 0;
}

int vgic_dist_write(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	if (!v)
		return -CV_EINVAL;
	dist_access(v, vcpu_id, offset, width, true, val);
	return 0;
}

/* ---- redistributors ---- */

/* RD_base: 32-bit registers, GICR_TYPER also 64-bit (IHI 0069 12.10). SGI_base: as GICD. */
static bool redist_width_ok(uint64_t off, enum access_width w)
{
	if (off & ((uint64_t)w - 1))
		return false;
	switch (w) {
	case ACCESS_WIDTH_4:
		return true;
	case ACCESS_WIDTH_1:
		return in(off, GICR_SGI_BASE + GICR_IPRIORITYR, 32);
	case ACCESS_WIDTH_8:
		return off == GICR_TYPER;
	case ACCESS_WIDTH_2:
	default:
		return false;
	}
}

static uint64_t redist_typer(const struct vgic *v, uint32_t c)
{
	uint64_t mpidr = cv_vcpu_to_cpu_id(c);
	uint64_t aff = (mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24;

	/* Affinity (63:32) = Aff3.Aff2.Aff1.Aff0, Processor_Number (23:8), Last (4); no LPIs. */
	return aff << 32 | (uint64_t)c << 8 | (c + 1 == v->nvcpus ? TYPER_LAST : 0);
}

static const struct {
	uint32_t off;
	enum bitreg r;
} sgi_bitregs[] = {
    {GICR_IGROUPR0, BR_GROUP},		{GICR_ISENABLER0, BR_SET_ENABLE},  {GICR_ICENABLER0, BR_CLEAR_ENABLE},
    {GICR_ISPENDR0, BR_SET_PENDING},	{GICR_ICPENDR0, BR_CLEAR_PENDING}, {GICR_ISACTIVER0, BR_SET_ACTIVE},
    {GICR_ICACTIVER0, BR_CLEAR_ACTIVE},
};

static uint64_t redist_access(struct vgic *v, uint64_t offset, enum access_width w, bool write, uint64_t val)
{
	uint64_t frame = offset / VGIC_GICR_STRIDE, off = offset % VGIC_GICR_STRIDE;
	uint32_t c = (uint32_t)frame;

	/* Each frame is the redistributor of one vCPU, whoever accesses it. */
	if (frame >= v->nvcpus || !redist_width_ok(off, w))
		return 0;
	if (off >= GICR_SGI_BASE) {
		uint64_t s = off - GICR_SGI_BASE;

		for (unsigned i = 0; i < CV_ARRAY_SIZE(sgi_bitregs); i++)
			if (s == sgi_bitregs[i].off)
				return bits_access(v, c, 0, sgi_bitregs[i].r, write, (uint32_t)val);
		if (in(s, GICR_IPRIORITYR, 32))
			return prio_access(v, c, (uint32_t)(s - GICR_IPRIORITYR), (unsigned)w, write, (uint32_t)val);
		if (s == GICR_ICFGR0 || s == GICR_ICFGR1)
			return cfg_access(v, c, s == GICR_ICFGR0 ? 0 : 16, write, (uint32_t)val);
		return 0; /* IGRPMODR0 and NSACR are RAZ/WI with DS = 1; the rest is reserved */
	}
	if (off >= GICR_ID_REGS)
		return write ? 0 : id_reg(off);
	switch (off) {
	case GICR_TYPER:
		return write ? 0 : redist_typer(v, c);
	case GICR_TYPER + 4:
		return write ? 0 : redist_typer(v, c) >> 32;
	case GICR_IIDR:
		return write ? 0 : VGIC_IIDR;
	case GICR_WAKER: {
		uint32_t out;

		/*
		 * The sleep handshake (IHI 0069 12.11.42): ChildrenAsleep follows
		 * ProcessorSleep at once, so a guest polling for it never waits.
		 */
		cv_spin_lock(&v->lock);
		if (write)
			v->cpu[c].waker = (uint32_t)val & WAKER_PROCESSOR_SLEEP;
		out = v->cpu[c].waker;
		cv_spin_unlock(&v->lock);
		return write ? 0 : out | (out & WAKER_PROCESSOR_SLEEP ? WAKER_CHILDREN_ASLEEP : 0);
	}
	case GICR_CTLR: /* no LPIs: EnableLPIs, RWP and UWP read 0 */
	default:
		return 0;
	}
}

int vgic_redist_read(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	(void)vcpu_id;
	if (!v || !val)
		return -CV_EINVAL;
	*val = redist_access(v, offset, width, false, 0);
	return 0;
}

int vgic_redist_write(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	(void)vcpu_id;
	if (!v)
		return -CV_EINVAL;
	redist_access(v, offset, width, true, val);
	return 0;
}

static int dist_read_op(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	return vgic_dist_read(dev, vcpu_id, offset, width, val);
}

static int dist_write_op(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	return vgic_dist_write(dev, vcpu_id, offset, width, val);
}

static int redist_read_op(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	return vgic_redist_read(dev, vcpu_id, offset, width, val);
}

static int redist_write_op(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	return vgic_redist_write(dev, vcpu_id, offset, width, val);
}

static void release_op(void *dev)
{
	vgic_destroy(dev);
}

const struct device_ops vgic_dist_ops = {.read = dist_read_op, .write = dist_write_op, .release = release_op};
const struct device_ops vgic_redist_ops = {.read = redist_read_op, .write = redist_write_op};

/* ---- interrupt sources ---- */

static int source(struct vgic *v, uint32_t cid, uint32_t intid, bool edge, bool level)
{
	uint64_t kick = 0;
	struct irq *irq;

	if (!v)
		return -CV_EINVAL;
	if (intid < VGIC_NR_PRIVATE && cid >= v->nvcpus)
		return -CV_ENOENT;
	cv_spin_lock(&v->lock);
	irq = irq_at(v, cid, intid);
	if (!irq) {
		cv_spin_unlock(&v->lock);
		return -CV_ERANGE;
	}
	if (edge) {
		irq->latch = true;
	} else {
		/* An edge-triggered interrupt fed by a line latches its rising edges. */
		if (irq->edge && level && !irq->line)
			irq->latch = true;
		irq->line = level;
	}
	changed(v, irq, cid, intid, &kick);
	cv_spin_unlock(&v->lock);
	kick_all(v, kick, intid);
	return 0;
}

int vgic_set_level(struct vgic *v, uint32_t vcpu_id, uint32_t intid, bool level)
{
	return source(v, vcpu_id, intid, false, level);
}

int vgic_raise_edge(struct vgic *v, uint32_t vcpu_id, uint32_t intid)
{
	return source(v, vcpu_id, intid, true, true);
}

int vgic_send_sgi(struct vgic *v, uint32_t from, const struct vcpu_exit *e)
{
	uint64_t base, list, kick = 0;
	uint32_t sgi;

	if (!v || !e || e->kind != VCPU_EXIT_SEND_IPI || e->send_ipi.vector >= 16)
		return -CV_EINVAL;
	sgi = (uint32_t)e->send_ipi.vector;
	base = e->send_ipi.target_cpu & CV_CPU_ID_AFF_MASK;
	list = e->send_ipi.target_cpu_aux & 0xffff;
	cv_spin_lock(&v->lock);
	for (uint32_t c = 0; c < v->nvcpus; c++) {
		uint64_t id = cv_vcpu_to_cpu_id(c), aff0 = id & 0xff;
		bool hit;

		if (e->send_ipi.send_to_all) /* IRM = 1: every PE but the sender (IHI 0069 12.2.21) */
			hit = c != from;
		else if (e->send_ipi.send_to_self)
			hit = c == from;
		else /* same Aff3.Aff2.Aff1, Aff0 in [RS * 16, RS * 16 + 15] and named in TargetList */
			hit = (id & ~0xffull) == (base & ~0xffull) && aff0 >= (base & 0xff) &&
			      aff0 - (base & 0xff) < 16 && ((list >> (aff0 - (base & 0xff))) & 1);
		if (hit) {
			struct irq *irq = &v->cpu[c].priv[sgi];

			irq->latch = true;
			changed(v, irq, c, sgi, &kick);
		}
	}
	cv_spin_unlock(&v->lock);
	kick_all(v, kick, sgi);
	return 0;
}

int vgic_map_hw(struct vgic *v, uint32_t vcpu_id, uint32_t intid, uint32_t pintid)
{
	struct irq *irq;

	if (!v)
		return -CV_EINVAL;
	if (intid < VGIC_NR_PRIVATE && vcpu_id >= v->nvcpus)
		return -CV_ENOENT;
	if (pintid != 0 && (pintid < 16 || pintid >= VGIC_MAX_INTID))
		return -CV_ERANGE; /* SGIs cannot be linked (IHI 0069 12.5.10, pINTID) */
	cv_spin_lock(&v->lock);
	irq = irq_at(v, vcpu_id, intid);
	if (irq) {
		irq->pintid = (uint16_t)pintid;
		mark_dirty(v, irq_vcpu(v, irq, vcpu_id, intid));
	}
	cv_spin_unlock(&v->lock);
	return irq ? 0 : -CV_ERANGE;
}

int vgic_set_resample(struct vgic *v, uint32_t vcpu_id, uint32_t intid, bool (*level)(void *ctx, uint32_t vcpu_id),
		      void *ctx)
{
	struct irq *irq;

	if (!v)
		return -CV_EINVAL;
	if (intid < VGIC_NR_PRIVATE && vcpu_id >= v->nvcpus)
		return -CV_ENOENT;
	cv_spin_lock(&v->lock);
	irq = irq_at(v, vcpu_id, intid);
	if (irq) {
		irq->resample = level;
		irq->resample_ctx = ctx;
	}
	cv_spin_unlock(&v->lock);
	return irq ? 0 : -CV_ERANGE;
}

/* ---- list registers ---- */

/*
 * Takes back what the guest did with the LRs written at the last flush (lock held). An
 * SPI leaving them that now belongs to another vCPU (IROUTER changed meanwhile) is
 * added to kick.
 */
static void fold(struct vgic *v, struct vcpu_state *s, uint32_t cid, const uint64_t *lr, uint64_t *kick)
{
	for (unsigned i = 0; i < s->used; i++) {
		uint32_t intid = s->lr_intid[i];
		struct irq *irq = irq_at(v, cid, intid);
		uint64_t val = lr[i];
		bool pending, active, was_pending;

		if (!irq)
			continue;
		if ((val & VGIC_LR_VINTID_MASK) != intid)
			val = 0; /* the backend reset the LRs (CPU_ON after CPU_OFF): the interrupt is over */
		pending = val & VGIC_LR_PENDING;
		active = val & VGIC_LR_ACTIVE;
		was_pending = irq->lr_pending;
		irq->owner = NO_VCPU;
		irq->lr_pending = false;
		/* GICD/GICR writes since the flush win over what the LR says of the same state. */
		if (!irq->stale_active) {
			irq->active = active;
			irq->active_on = active && intid >= VGIC_NR_PRIVATE ? (int8_t)cid : NO_VCPU;
		}
		if (!irq->stale_pending) {
			if (pending)
				irq->latch |= latch_moves(irq); /* an edge not yet taken stays pending */
			else if (!latch_moves(irq) && was_pending)
				irq->latch = false; /* acknowledged: a GICD_ISPENDR latch is consumed */
		}
		irq->stale_active = irq->stale_pending = false;
		/* Taken or ended: ask a level source that cannot tell us whether it is still high. */
		if (!pending && !irq->edge && irq->resample)
			irq->line = irq->resample(irq->resample_ctx, cid);
		update_live(v, irq, intid);
		if (intid >= VGIC_NR_PRIVATE) {
			int t = irq_vcpu(v, irq, cid, intid);

			if (t != NO_VCPU && t != (int)cid && deliverable(v, irq)) {
				mark_dirty(v, t);
				*kick |= 1ull << t;
			}
		}
	}
	s->used = 0;
}

struct cand {
	struct irq *irq;
	uint32_t intid;
	bool active, pending;
};

/* Sort key: active first (they must stay in the LRs), then priority, then INTID. */
static bool before(const struct cand *a, const struct cand *b)
{
	if (a->active != b->active)
		return a->active;
	if (a->irq->prio != b->irq->prio)
		return a->irq->prio < b->irq->prio;
	return a->intid < b->intid;
}

/* What vCPU cid should have in its LRs of intid (lock held); false for nothing. */
static bool candidate(struct vgic *v, uint32_t cid, struct irq *irq, uint32_t intid, struct cand *out)
{
	bool mine, active, pending;

	if (irq->owner != NO_VCPU && irq->owner != (int)cid)
		return false;
	if (intid < VGIC_NR_PRIVATE)
		mine = true;
	else if (irq->active)
		mine = irq->active_on == (int)cid;
	else
		mine = spi_target(v, irq) == (int)cid;
	if (!mine)
		return false;
	active = irq->active;
	pending = irq_pending(irq) && irq->enabled && group_enabled(v, irq);
	/* A linked (HW) interrupt is never pending and active in an LR: the physical GIC holds that. */
	if (active && irq->pintid)
		pending = false;
	if (!active && !pending)
		return false;
	*out = (struct cand){.irq = irq, .intid = intid, .active = active, .pending = pending};
	return true;
}

/* Keeps the best n candidates in best[] (sorted); counts the ones that did not fit. */
static void consider(struct cand *best, unsigned *k, unsigned n, const struct cand *c, unsigned *left)
{
	unsigned i;

	if (*k == n) {
		if (n == 0 || !before(c, &best[n - 1])) {
			(*left)++;
			return;
		}
		(*left)++; /* the last one falls out */
		(*k)--;
	}
	for (i = *k; i > 0 && before(c, &best[i - 1]); i--)
		best[i] = best[i - 1];
	best[i] = *c;
	(*k)++;
}

static uint64_t make_lr(struct cand *c, bool eoi)
{
	struct irq *irq = c->irq;
	uint64_t val = c->intid | (uint64_t)irq->prio << VGIC_LR_PRIO_SHIFT | (irq->group1 ? VGIC_LR_GROUP1 : 0);

	if (c->pending)
		val |= VGIC_LR_PENDING;
	if (c->active)
		val |= VGIC_LR_ACTIVE;
	if (irq->pintid)
		val |= VGIC_LR_HW | (uint64_t)irq->pintid << VGIC_LR_PINTID_SHIFT;
	else if (eoi)
		val |= VGIC_LR_EOI;
	return val;
}

/* Fills the LRs with the best candidates (lock held); returns the ICH_HCR_EL2 bits. */
static uint64_t refill(struct vgic *v, struct vcpu_state *s, uint32_t cid, uint64_t *lr, unsigned n)
{
	struct cand best[VGIC_MAX_LRS], c;
	unsigned k = 0, left = 0;
	bool any_pending = false;

	for (uint32_t i = 0; i < VGIC_NR_PRIVATE; i++)
		if (candidate(v, cid, &s->priv[i], i, &c))
			consider(best, &k, n, &c, &left);
	for (unsigned w = 0; w < CV_ARRAY_SIZE(v->spi_live); w++) {
		uint64_t bits = v->spi_live[w];

		while (bits) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			if (i < v->nr_spis && candidate(v, cid, &v->spis[i], VGIC_NR_PRIVATE + i, &c))
				consider(best, &k, n, &c, &left);
		}
	}
	for (unsigned i = 0; i < k; i++) {
		struct irq *irq = best[i].irq;

		/*
		 * LR.EOI on level-sensitive interrupts: the guest's EOI then raises the
		 * maintenance interrupt and the line is looked at again. With more waiting than
		 * fits, on every LR, so any EOI frees a place.
		 */
		lr[i] = make_lr(&best[i], !irq->edge || left);
		s->lr_written[i] = lr[i];
		s->lr_intid[i] = best[i].intid;
		irq->owner = (int8_t)cid;
		irq->lr_pending = best[i].pending;
		if (best[i].pending && latch_moves(irq))
			irq->latch = false; /* the LR holds the edge now */
		any_pending |= best[i].pending;
		update_live(v, irq, best[i].intid);
	}
	for (unsigned i = k; i < n; i++)
		lr[i] = s->lr_written[i] = 0;
	s->used = k;
	if (!left)
		return 0;
	/*
	 * NPIE fires once no LR is pending; with none pending now it would fire at once, so
	 * UIE (at most one LR valid), which with a single LR would fire at once too: then
	 * only the LR.EOI above frees a place.
	 */
	if (any_pending)
		return VGIC_HCR_NPIE;
	return n > 1 ? VGIC_HCR_UIE : 0;
}

uint64_t vgic_flush_lrs(struct vgic *v, uint32_t vcpu_id, uint64_t *lr, unsigned nr_lrs)
{
	struct vcpu_state *s;
	uint64_t kick = 0;
	bool dirty;

	if (!v || !lr || vcpu_id >= v->nvcpus)
		return 0;
	s = &v->cpu[vcpu_id];
	if (nr_lrs > VGIC_MAX_LRS)
		nr_lrs = VGIC_MAX_LRS;
	dirty = atomic_exchange(&s->dirty, false);
	if (!dirty) {
		bool same = true;

		/* Nothing new, and the guest left the LRs as they were written: keep them. */
		for (unsigned i = 0; i < nr_lrs; i++)
			same &= lr[i] == s->lr_written[i];
		if (same)
			return s->hcr;
	}
	cv_spin_lock(&v->lock);
	fold(v, s, vcpu_id, lr, &kick);
	s->hcr = refill(v, s, vcpu_id, lr, nr_lrs);
	cv_spin_unlock(&v->lock);
	kick_all(v, kick, VGIC_MAX_INTID);
	return s->hcr;
}

bool vgic_vcpu_pending(struct vgic *v, uint32_t vcpu_id, const uint64_t *lr, unsigned nr_lrs, uint64_t vmcr)
{
	unsigned pmr = (unsigned)(vmcr >> 24) & 0xff;

	if (!v || !lr || vcpu_id >= v->nvcpus)
		return false;
	/* Something changed since the last flush: let the guest run, the flush will tell. */
	if (atomic_load(&v->cpu[vcpu_id].dirty))
		return true;
	if (nr_lrs > VGIC_MAX_LRS)
		nr_lrs = VGIC_MAX_LRS;
	for (unsigned i = 0; i < nr_lrs; i++) {
		unsigned prio = (unsigned)(lr[i] >> VGIC_LR_PRIO_SHIFT) & 0xff;
		bool group_on = vmcr & ((lr[i] & VGIC_LR_GROUP1) ? 2u : 1u); /* ICH_VMCR_EL2.VENG1 / VENG0 */

		if ((lr[i] & VGIC_LR_PENDING) && prio < pmr && group_on)
			return true;
	}
	return false;
}
