/*
 * ids.h - opaque public ids with a type prefix ("rnt_5b3kq9x2m1c0a").
 *
 * Inside the engine every object is a small integer; at the edges it is shown as
 * prefix + 13 characters of Crockford base32 of a bijective scramble of the integer, so ids
 * look unrelated to each other and decode without a lookup.
 *
 * The scramble is a codec the process sets once (ids_set_codec, before any thread starts):
 * `gpurent serve` sets a keyed permutation with its install's secret key (src/server/idkey.c),
 * so an id reveals neither how many objects exist nor which came first. Without one (tools,
 * unit tests, a database made before ids were keyed) it is a fixed odd multiplier: a public,
 * reversible scramble.
 */
#ifndef GPURENT_IDS_H
#define GPURENT_IDS_H

#include "compat.h"

#define ID_STR_MAX 24

/* Write prefix + "_" + code of n into buf (ID_STR_MAX bytes). prefix is 3 letters. Returns buf. */
char *id_format(char *buf, const char *prefix, uint64_t n);

/* Decode an id of the given prefix: 0 and *out set, or ERR_INVALID. */
int id_parse(uint64_t *out, const char *prefix, const char *s);

/* A bijection on 64-bit integers per prefix: decode(arg, p, encode(arg, p, n)) == n. */
struct id_codec {
    uint64_t (*encode)(const void *arg, const char *prefix, uint64_t n);
    uint64_t (*decode)(const void *arg, const char *prefix, uint64_t code);
    const void *arg;
};

/* Use c (copied; c->arg must outlive its use) for every id from now on; NULL: the fixed
 * scramble. Not thread-safe: call before any thread formats or parses an id. */
void ids_set_codec(const struct id_codec *c);

#endif
