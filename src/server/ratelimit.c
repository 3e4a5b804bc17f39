/*
 * ratelimit.c - token buckets per caller (see ratelimit.h).
 */
#include "../common/compat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "ratelimit.h"

#define MICRO 1000000LL

void rate_init(struct rate_limiter *l, struct rate_config cfg, uint32_t max_buckets)
{
    memset(l, 0, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    hmap_init(&l->index);
    l->cfg = cfg;
    l->max = max_buckets ? max_buckets : RATE_BUCKETS_MAX;
}

void rate_release(struct rate_limiter *l)
{
    for (uint32_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    free(l->buckets);
    hmap_release(&l->index);
    pthread_mutex_destroy(&l->lock);
}

bool rate_enabled(const struct rate_limiter *l)
{
    return l->cfg.rate_micro > 0;
}

/* The bucket's tokens at now: refilled at rate, capped at burst. */
static int64_t refilled(const struct rate_limiter *l, const struct rate_bucket *b, int64_t now)
{
    int64_t full = (int64_t)l->cfg.burst * MICRO, elapsed = now - b->at;

    if (elapsed <= 0 || b->tokens >= full)
        return b->tokens < full ? b->tokens : full;
    /* past the time a full refill takes the product does not matter (nor overflow) */
    if (elapsed > (full - b->tokens) / l->cfg.rate_micro * MICRO + MICRO)
        return full;
    int64_t t = b->tokens + elapsed * l->cfg.rate_micro / MICRO;
    return t < full ? t : full;
}

/* Forget the buckets that are full at now (they are as good as new): rebuild the index with
 * the others. The caller holds the lock. */
static void forget_full(struct rate_limiter *l, int64_t now)
{
    int64_t full = (int64_t)l->cfg.burst * MICRO;
    uint32_t kept = 0;

    hmap_release(&l->index);
    hmap_init(&l->index);
    for (uint32_t i = 0; i < l->count; i++) {
        if (refilled(l, &l->buckets[i], now) >= full ||
            hmap_put(&l->index, l->names[i], kept) < 0) {
            free(l->names[i]);
            continue;
        }
        l->buckets[kept] = l->buckets[i];
        l->names[kept] = l->names[i];
        kept++;
    }
    l->count = kept;
}

/* name's bucket, made full when new; NULL when out of memory. The caller holds the lock. */
static struct rate_bucket *bucket(struct rate_limiter *l, const char *name, int64_t now)
{
    uint32_t i;

    if (hmap_get(&l->index, name, &i) == 0)
        return &l->buckets[i];
    if (l->count >= l->max)
        forget_full(l, now);
    if (l->count >= l->max)
        return NULL; /* every tracked caller is mid-burst: refuse the new one */
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 64;
        struct rate_bucket *b = realloc(l->buckets, cap * sizeof(*b));
        char **n;
        if (b == NULL)
            return NULL;
        l->buckets = b;
        n = realloc(l->names, cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        l->names = n;
        l->cap = cap;
    }
    l->names[l->count] = strdup(name);
    if (l->names[l->count] == NULL || hmap_put(&l->index, name, l->count) < 0) {
        free(l->names[l->count]);
        return NULL;
    }
    l->buckets[l->count] = (struct rate_bucket){(int64_t)l->cfg.burst * MICRO, now};
    return &l->buckets[l->count++];
}

int64_t rate_take(struct rate_limiter *l, const char *name, int64_t now)
{
    struct rate_bucket *b;
    int64_t wait = 0;

    if (!rate_enabled(l))
        return 0;
    pthread_mutex_lock(&l->lock);
    b = bucket(l, name, now);
    if (b == NULL) {
        wait = 1;
    } else {
        b->tokens = refilled(l, b, now);
        if (now > b->at)
            b->at = now;
        if (b->tokens >= MICRO) {
            b->tokens -= MICRO;
        } else {
            /* ceil(missing micro-tokens / micro-tokens a second) */
            wait = (MICRO - b->tokens + l->cfg.rate_micro - 1) / l->cfg.rate_micro;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return wait;
}

/* Digits in [s, end) as a whole number up to max: 0, or ERR_INVALID. */
static int parse_whole(const char *s, const char *end, int64_t max, int64_t *out)
{
    int64_t v = 0;

    if (s == end)
        return ERR_INVALID;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return ERR_INVALID;
        v = v * 10 + (*p - '0');
        if (v > max)
            return ERR_INVALID;
    }
    *out = v;
    return 0;
}

int rate_parse(const char *text, struct rate_config *out)
{
    const char *colon = strchr(text, ':');
    const char *end = colon ? colon : text + strlen(text);
    const char *dot = memchr(text, '.', (size_t)(end - text));
    int64_t whole, frac = 0, burst;
    struct rate_config c = {0, 0};

    if (parse_whole(text, dot ? dot : end, 1000000, &whole) < 0)
        return ERR_INVALID;
    if (dot != NULL) {
        size_t digits = (size_t)(end - dot - 1);
        if (digits == 0 || digits > 6 || parse_whole(dot + 1, end, 999999, &frac) < 0)
            return ERR_INVALID;
        for (size_t i = digits; i < 6; i++)
            frac *= 10;
    }
    c.rate_micro = whole * MICRO + frac;
    if (c.rate_micro > 1000000 * MICRO)
        return ERR_INVALID;
    if (colon != NULL) {
        if (parse_whole(colon + 1, colon + strlen(colon), 1000000, &burst) < 0 || burst == 0)
            return ERR_INVALID;
        c.burst = (uint32_t)burst;
    } else {
        burst = 2 * c.rate_micro / MICRO;
        c.burst = burst < 1 ? 1 : (uint32_t)burst;
    }
    if (c.rate_micro == 0)
        c.burst = 0;
    *out = c;
    return 0;
}
