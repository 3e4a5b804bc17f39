#include "compat.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hmap.h"

struct hmap_slot {
    char *key; /* owned; NULL when empty */
    uint64_t hash;
    uint32_t value;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

void hmap_init(struct hmap *m)
{
    m->slots = NULL;
    m->capacity = 0;
    m->count = 0;
}

void hmap_release(struct hmap *m)
{
    for (size_t i = 0; i < m->capacity; i++)
        free(m->slots[i].key);
    free(m->slots);
    hmap_init(m);
}

static struct hmap_slot *find(const struct hmap *m, const char *key, uint64_t h)
{
    size_t mask = m->capacity - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct hmap_slot *s = &m->slots[i];
        if (s->key == NULL || (s->hash == h && strcmp(s->key, key) == 0))
            return s;
    }
}

int hmap_get(const struct hmap *m, const char *key, uint32_t *out)
{
    struct hmap_slot *s;

    if (m->capacity == 0)
        return ERR_NOTFOUND;
    s = find(m, key, hash_str(key));
    if (s->key == NULL)
        return ERR_NOTFOUND;
    *out = s->value;
    return 0;
}

static int grow(struct hmap *m)
{
    size_t cap = m->capacity ? m->capacity * 2 : 16;
    struct hmap_slot *old = m->slots;
    size_t old_cap = m->capacity;

    m->slots = calloc(cap, sizeof(*m->slots));
    if (m->slots == NULL) {
        m->slots = old;
        return ERR_NOMEM;
    }
    m->capacity = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key != NULL)
            *find(m, old[i].key, old[i].hash) = old[i];
    }
    free(old);
    return 0;
}

int hmap_put(struct hmap *m, const char *key, uint32_t value)
{
    uint64_t h = hash_str(key);
    struct hmap_slot *s;
    int rc;

    if ((m->count + 1) * 4 > m->capacity * 3) {
        rc = grow(m);
        if (rc < 0)
            return rc;
    }
    s = find(m, key, h);
    if (s->key != NULL)
        return ERR_EXISTS;
    s->key = strdup(key);
    if (s->key == NULL)
        return ERR_NOMEM;
    s->hash = h;
    s->value = value;
    m->count++;
    return 0;
}
