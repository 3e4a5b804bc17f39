/*
 * ratelimit.h - token buckets per caller, checked at the HTTP edge before a body is read.
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens a second; a request takes one
 * or is refused (429) with the seconds until a token is back (Retry-After). Tokens are kept
 * in micro-tokens (int64), so refills are exact integer arithmetic. A limiter is one table
 * of buckets keyed by a caller's name (an API key id, or "ip:" and a client address); one
 * limiter per class of route (every request, and creation routes on top of that).
 *
 * The table is bounded: when it reaches its size it forgets the buckets that are full
 * again (forgetting a full bucket changes nothing: a new one starts full).
 */
#ifndef GPURENT_RATELIMIT_H
#define GPURENT_RATELIMIT_H

#include "../common/compat.h"
#include "../common/hmap.h"

#include <pthread.h>

#define RATE_BUCKETS_MAX 65536 /* callers tracked at once before full buckets are forgotten */

/* rate_micro millionths of a token a second (1000000: one request a second), up to burst
 * tokens; rate_micro 0 disables the limit. */
struct rate_config {
    int64_t rate_micro;
    uint32_t burst;
};

struct rate_bucket {
    int64_t tokens; /* micro-tokens */
    int64_t at;     /* µs: when tokens was right */
};

struct rate_limiter {
    pthread_mutex_t lock;
    struct rate_config cfg;
    struct hmap index;           /* name -> bucket number */
    struct rate_bucket *buckets; /* owned */
    char **names;                /* owned, per bucket (to rebuild the index) */
    uint32_t count, cap, max;
};

void rate_init(struct rate_limiter *l, struct rate_config cfg, uint32_t max_buckets);
void rate_release(struct rate_limiter *l);
bool rate_enabled(const struct rate_limiter *l);

/*
 * Take a token from name's bucket at time now (µs). 0 when one was there; else the whole
 * seconds (at least 1) until one is, for Retry-After. Always 0 when the limit is disabled.
 */
int64_t rate_take(struct rate_limiter *l, const char *name, int64_t now);

/* "RPS" or "RPS:BURST": RPS a decimal number of requests a second (up to 6 decimals, at
 * most 1000000; "0" disables), BURST a whole number from 1 (default 2 x RPS, at least 1).
 * 0, or ERR_INVALID. */
int rate_parse(const char *text, struct rate_config *out);

#endif
