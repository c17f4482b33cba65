/* SPDX-License-Identifier: MIT */
/*
 * Host/library error codes. Functions return 0 on success or a negative CV_E* code;
 * guest-visible results (PSCI codes) never travel on this channel.
 */
#ifndef CVISOR_ERRORS_H
#define CVISOR_ERRORS_H

enum cv_err {
	CV_OK = 0,
	CV_EINVAL,      /* an argument is out of its domain */
	CV_ENOMEM,      /* an allocation failed */
	CV_EBADSTATE,   /* the object is not in the state the operation needs */
	CV_ENOENT,      /* no such object (vCPU id, device, file) */
	CV_EEXIST,      /* already exists (overlapping range, duplicate id) */
	CV_EBUSY,       /* in use (vCPU already on, VM already running) */
	CV_ERANGE,      /* a value does not fit (width, register index, size) */
	CV_EFAULT,      /* a guest address is outside guest memory */
	CV_EIO,         /* a host call failed (ioctl, mmap, file read) */
	CV_ENOTSUP,     /* the host or hardware lacks a feature */
	CV_ETIMEDOUT,   /* a bounded wait ran out */
	CV_EAGAIN,      /* try again: the operation was interrupted */
	CV_ENODEV,      /* no device at an address or port */
	CV_EGUEST,      /* the guest did something that stops it (bad exit, failed entry) */
	CV_ESHUTDOWN,   /* the VM is shutting down */
	CV_ERR_COUNT
};

/* A fixed string naming err (either sign accepted); never NULL. */
const char *cv_strerror(int err);

#endif /* CVISOR_ERRORS_H */
