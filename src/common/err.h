/*
 * err.h - the project-wide error codes.
 *
 * Fallible functions return 0 or one of these negative codes. The human detail travels
 * beside the code (in the engine's `struct result`, or in a caller-supplied buffer);
 * one table at the API edge maps each code to an HTTP status.
 */
#ifndef GPURENT_ERR_H
#define GPURENT_ERR_H

#include "compat.h"

enum err_code {
    ERR_OK = 0,
    ERR_INVALID = -1,    /* malformed or out-of-range input (400) */
    ERR_NOTFOUND = -2,   /* unknown id, or another tenant's id (404) */
    ERR_CONFLICT = -3,   /* state conflict (409) */
    ERR_NOCAPACITY = -4, /* no GPUs to place the request now (409) */
    ERR_FUNDS = -5,      /* balance or budget too short (402) */
    ERR_OVERFLOW = -6,   /* arithmetic would overflow (400) */
    ERR_NOMEM = -7,      /* allocation failed (500) */
    ERR_IO = -8,         /* file or storage error (500) */
    ERR_EXISTS = -9,     /* a unique name or id already exists (409) */
};

/* The stable lower-case name of a code ("invalid", "not_found", ...); never NULL. */
const char *err_name(int code);

#endif
