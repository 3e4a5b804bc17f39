/*
 * ids.h - opaque public ids with a type prefix ("rnt_5b3kq9x2m1c0a").
 *
 * Inside the engine every object is a small integer; at the edges it is shown as
 * prefix + 13 characters of Crockford base32 of a fixed bijective scramble of the integer,
 * so ids look unrelated to each other yet are deterministic and decode without a lookup.
 */
#ifndef GPURENT_IDS_H
#define GPURENT_IDS_H

#include "compat.h"

#define ID_STR_MAX 24

/* Write prefix + "_" + code of n into buf (ID_STR_MAX bytes). prefix is 3 letters. Returns buf. */
char *id_format(char *buf, const char *prefix, uint64_t n);

/* Decode an id of the given prefix: 0 and *out set, or ERR_INVALID. */
int id_parse(uint64_t *out, const char *prefix, const char *s);

#endif
