/* SPDX-License-Identifier: MIT */
#include <cvisor/errors.h>

static const char *const err_names[CV_ERR_COUNT] = {
	[CV_OK] = "success",
	[CV_EINVAL] = "invalid argument",
	[CV_ENOMEM] = "out of memory",
	[CV_EBADSTATE] = "bad state for this operation",
	[CV_ENOENT] = "no such object",
	[CV_EEXIST] = "already exists",
	[CV_EBUSY] = "busy",
	[CV_ERANGE] = "value out of range",
	[CV_EFAULT] = "guest address outside guest memory",
	[CV_EIO] = "host I/O error",
	[CV_ENOTSUP] = "not supported",
	[CV_ETIMEDOUT] = "timed out",
	[CV_EAGAIN] = "interrupted, try again",
	[CV_ENODEV] = "no device",
	[CV_EGUEST] = "guest failure",
	[CV_ESHUTDOWN] = "shutting down",
};

const char *cv_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= CV_ERR_COUNT || !err_names[err])
		return "unknown error";
	return err_names[err];
}
