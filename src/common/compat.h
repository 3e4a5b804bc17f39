/*
 * compat.h - the first include of every gpurent source file.
 *
 * Fixes the language level and feature macros once, and pulls in the fixed-width
 * integer and boolean types that every module uses.
 */
#ifndef GPURENT_COMPAT_H
#define GPURENT_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
