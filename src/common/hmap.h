/*
 * hmap.h - an open-addressing hash map from strings to uint32 values.
 *
 * Used for the engine's name and id indexes (GPU models, UUIDs, coupon codes, transfer ids).
 * Keys are copied into the map (owned); lookups and inserts are O(1) expected. Entries are
 * never removed, which is what append-only indexes need. Deterministic: iteration order
 * is not exposed, so nothing can depend on it.
 */
#ifndef GPURENT_HMAP_H
#define GPURENT_HMAP_H

#include "compat.h"

struct hmap_slot;

struct hmap {
    struct hmap_slot *slots; /* owned; capacity entries */
    size_t capacity;         /* a power of two, or 0 before the first insert */
    size_t count;            /* keys stored */
};

void hmap_init(struct hmap *m);
void hmap_release(struct hmap *m);

/* Look key up: 0 and *out set, or ERR_NOTFOUND. */
int hmap_get(const struct hmap *m, const char *key, uint32_t *out);

/* Insert key -> value: 0, ERR_EXISTS (key present, map unchanged) or ERR_NOMEM. */
int hmap_put(struct hmap *m, const char *key, uint32_t value);

#endif
