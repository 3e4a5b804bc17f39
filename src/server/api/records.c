#include "../../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../server.h"
#include "records.h"

int api_records_new(struct api_records **out)
{
    struct api_records *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return ERR_NOMEM;
    pthread_mutex_init(&r->lock, NULL);
    hmap_init(&r->by_uuid);
    hmap_init(&r->by_rental);
    *out = r;
    return 0;
}

void api_records_free(struct api_records *r)
{
    if (r == NULL)
        return;
    hmap_release(&r->by_uuid);
    for (uint32_t i = 0; i < r->count; i++)
        free(r->history[i].s);
    free(r->history);
    free(r->telemetry);
    hmap_release(&r->by_rental);
    free(r->idle);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* Append t to ring (allocated at the first report). */
static void ring_push(struct telemetry_ring *ring, const struct gpu_telemetry *t)
{
    if (ring->s == NULL) {
        ring->s = malloc(TELEMETRY_HISTORY * sizeof(*ring->s));
        if (ring->s == NULL)
            return; /* history is a convenience: the latest report is still kept */
    }
    ring->s[ring->next] = *t;
    ring->next = (ring->next + 1) % TELEMETRY_HISTORY;
    if (ring->count < TELEMETRY_HISTORY)
        ring->count++;
}

int api_telemetry_put(struct api_records *r, const char *uuid, const struct gpu_telemetry *t)
{
    uint32_t i;
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    if (hmap_get(&r->by_uuid, uuid, &i) == 0) {
        r->telemetry[i] = *t;
        ring_push(&r->history[i], t);
        goto out;
    }
    if (r->count == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 64;
        struct gpu_telemetry *tt = realloc(r->telemetry, cap * sizeof(*tt));
        struct telemetry_ring *hh;
        if (tt == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        r->telemetry = tt;
        hh = realloc(r->history, cap * sizeof(*hh));
        if (hh == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        r->history = hh;
        r->cap = cap;
    }
    rc = hmap_put(&r->by_uuid, uuid, r->count);
    if (rc < 0)
        goto out;
    r->telemetry[r->count] = *t;
    memset(&r->history[r->count], 0, sizeof(r->history[0]));
    ring_push(&r->history[r->count], t);
    r->count++;
out:
    pthread_mutex_unlock(&r->lock);
    return rc;
}

uint32_t api_telemetry_history(struct api_records *r, const char *uuid, int64_t from, int64_t to,
                               struct gpu_telemetry *out, uint32_t cap)
{
    uint32_t i, n = 0;

    if (r == NULL || cap == 0)
        return 0;
    pthread_mutex_lock(&r->lock);
    if (hmap_get(&r->by_uuid, uuid, &i) == 0 && r->history[i].s != NULL) {
        const struct telemetry_ring *ring = &r->history[i];
        uint32_t first = (ring->next + TELEMETRY_HISTORY - ring->count) % TELEMETRY_HISTORY;

        for (uint32_t k = 0; k < ring->count; k++) {
            const struct gpu_telemetry *t = &ring->s[(first + k) % TELEMETRY_HISTORY];
            if (t->at < from || t->at > to)
                continue;
            if (n == cap) { /* keep the newest: shift the window */
                memmove(out, out + 1, (cap - 1) * sizeof(*out));
                n--;
            }
            out[n++] = *t;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}

bool api_telemetry_get(struct api_records *r, const char *uuid, struct gpu_telemetry *out)
{
    uint32_t i;
    bool found = false;

    if (r == NULL)
        return false;
    pthread_mutex_lock(&r->lock);
    if (hmap_get(&r->by_uuid, uuid, &i) == 0) {
        *out = r->telemetry[i];
        found = true;
    }
    pthread_mutex_unlock(&r->lock);
    return found;
}

/*
 * Join tokens and workloads live in the store and are read on the engine thread when a
 * request needs them (inside the batch's transaction); telemetry starts empty.
 */
int api_load_records(struct server *s, struct store *st, char *err, size_t cap)
{
    (void)st;
    if (api_records_new(&s->api) < 0) {
        snprintf(err, cap, "out of memory");
        return ERR_NOMEM;
    }
    return 0;
}

void api_release_records(struct server *s)
{
    api_records_free(s->api);
    s->api = NULL;
}

int api_idle_rule(struct api_records *r, uint64_t rental, struct idle_rule **out)
{
    char key[24];
    uint32_t i;

    snprintf(key, sizeof(key), "%llu", (unsigned long long)rental);
    if (hmap_get(&r->by_rental, key, &i) == 0) {
        *out = &r->idle[i];
        return 0;
    }
    if (r->idle_count == r->idle_cap) {
        uint32_t cap = r->idle_cap ? r->idle_cap * 2 : 64;
        struct idle_rule *ir = realloc(r->idle, cap * sizeof(*ir));
        if (ir == NULL)
            return ERR_NOMEM;
        r->idle = ir;
        r->idle_cap = cap;
    }
    if (hmap_put(&r->by_rental, key, r->idle_count) < 0)
        return ERR_NOMEM;
    memset(&r->idle[r->idle_count], 0, sizeof(r->idle[0]));
    *out = &r->idle[r->idle_count++];
    return 0;
}
