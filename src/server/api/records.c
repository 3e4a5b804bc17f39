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
    *out = r;
    return 0;
}

void api_records_free(struct api_records *r)
{
    if (r == NULL)
        return;
    hmap_release(&r->by_uuid);
    free(r->telemetry);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int api_telemetry_put(struct api_records *r, const char *uuid, const struct gpu_telemetry *t)
{
    uint32_t i;
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    if (hmap_get(&r->by_uuid, uuid, &i) == 0) {
        r->telemetry[i] = *t;
        goto out;
    }
    if (r->count == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 64;
        struct gpu_telemetry *tt = realloc(r->telemetry, cap * sizeof(*tt));
        if (tt == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        r->telemetry = tt;
        r->cap = cap;
    }
    rc = hmap_put(&r->by_uuid, uuid, r->count);
    if (rc < 0)
        goto out;
    r->telemetry[r->count++] = *t;
out:
    pthread_mutex_unlock(&r->lock);
    return rc;
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
