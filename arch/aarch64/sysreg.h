/* SPDX-License-Identifier: MIT */
/* System-register access and the EL2 encodings the backend uses (private to arch/aarch64). */
#ifndef CVISOR_A64_SYSREG_H
#define CVISOR_A64_SYSREG_H

#include <stdint.h>

#include <cvisor/a64_sysreg.h>


/* GICv3 registers by encoding (IHI 0069 12.4/12.5), so no -march extension is needed. */
#define ICC_IAR1_EL1  S3_0_C12_C12_0
#define ICC_EOIR1_EL1 S3_0_C12_C12_1
#define ICC_SGI1R_EL1 S3_0_C12_C11_5
#define ICC_SRE_EL2   S3_4_C12_C9_5
#define ICH_AP0R0_EL2 S3_4_C12_C8_0
#define ICH_AP1R0_EL2 S3_4_C12_C9_0
#define ICH_HCR_EL2   S3_4_C12_C11_0
#define ICH_VTR_EL2   S3_4_C12_C11_1
#define ICH_VMCR_EL2  S3_4_C12_C11_7

/* ESR_EL2 (ARM ARM D13.2.37). */
#define ESR_EC(esr)  (((esr) >> 26) & 0x3f)
#define ESR_IL	     (1ull << 25)
#define ESR_ISS(esr) ((esr)&0x1ffffff)
#define EC_UNKNOWN   0x00
#define EC_WFX	     0x01
#define EC_PAC	     0x09
#define EC_HVC64     0x16
#define EC_SMC64     0x17
#define EC_SYS64     0x18
#define EC_SVE	     0x19
#define EC_SME	     0x1d
#define EC_IABT_LOW  0x20
#define EC_IABT_CUR  0x21
#define EC_DABT_LOW  0x24
#define EC_DABT_CUR  0x25
#define EC_MAX	     0x3f

/* Data-abort ISS (ARM ARM D13.2.37, "ISS encoding for an exception from a Data Abort"). */
#define DABT_ISV	       (1u << 24)
#define DABT_SAS(iss)	       (((iss) >> 22) & 3)
#define DABT_SSE	       (1u << 21)
#define DABT_SRT(iss)	       (((iss) >> 16) & 0x1f)
#define DABT_SF		       (1u << 15)
#define DABT_CM		       (1u << 8)
#define DABT_S1PTW	       (1u << 7)
#define DABT_WNR	       (1u << 6)
#define DABT_DFSC(iss)	       ((iss)&0x3f)
#define DFSC_TRANSLATION(dfsc) (((dfsc)&0x3c) == 0x04)
#define DFSC_SYNC_EXTERNAL     0x10

/* PSTATE / SPSR: EL1h with D, A, I and F masked. */
#define SPSR_EL1H_DAIF 0x3c5ull

#endif
