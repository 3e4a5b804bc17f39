#include "../common/compat.h"

#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "econ_buckets.h"
#include "money.h"

static int64_t hour_of(int64_t t)
{
    int64_t h = t / USEC_PER_HOUR;

    return (t % USEC_PER_HOUR != 0 && t < 0) ? h - 1 : h;
}

void econ_series_init(struct econ_series *s)
{
    memset(s, 0, sizeof(*s));
}

void econ_series_release(struct econ_series *s)
{
    free(s->b);
    memset(s, 0, sizeof(*s));
}

/* The bucket of hour h, growing the series; NULL on OOM. Hours before the first are booked
 * into the first (time never goes backwards, so only the very first span can start early). */
static struct econ_bucket *bucket(struct econ_series *s, int64_t h)
{
    int64_t i;

    if (s->count == 0) {
        s->first_hour = h;
    }
    if (h < s->first_hour)
        h = s->first_hour;
    i = h - s->first_hour;
    if (i >= (int64_t)s->cap) {
        uint32_t cap = s->cap ? s->cap : 64;
        struct econ_bucket *b;
        while ((int64_t)cap <= i)
            cap *= 2;
        b = realloc(s->b, cap * sizeof(*b));
        if (b == NULL)
            return NULL;
        memset(b + s->cap, 0, (cap - s->cap) * sizeof(*b));
        s->b = b;
        s->cap = cap;
    }
    if (i >= (int64_t)s->count)
        s->count = (uint32_t)i + 1;
    return &s->b[i];
}

static int add_span(struct econ_series *s, int64_t t0, int64_t t1, int64_t gpus, bool rented)
{
    while (t0 < t1 && gpus > 0) {
        int64_t h = hour_of(t0);
        int64_t end = (h + 1) * USEC_PER_HOUR;
        int64_t upto = end < t1 ? end : t1;
        struct econ_bucket *b = bucket(s, h);
        if (b == NULL)
            return ERR_NOMEM;
        if (rented)
            b->rented_gpu_us += (upto - t0) * gpus;
        else
            b->available_gpu_us += (upto - t0) * gpus;
        t0 = upto;
    }
    return 0;
}

int econ_set_available(struct econ_series *s, int64_t now, int64_t n)
{
    int rc = 0;

    if (s->available_gpus > 0 && now > s->available_since)
        rc = add_span(s, s->available_since, now, s->available_gpus, false);
    s->available_gpus = n;
    s->available_since = now;
    return rc;
}

int econ_add_rented(struct econ_series *s, int64_t t0, int64_t t1, int64_t gpus)
{
    return add_span(s, t0, t1, gpus, true);
}

int econ_add_money(struct econ_series *s, int64_t t, int64_t list, int64_t discounts,
                   int64_t revenue)
{
    struct econ_bucket *b = bucket(s, hour_of(t));

    if (b == NULL)
        return ERR_NOMEM;
    b->list += list;
    b->discounts += discounts;
    b->revenue += revenue;
    return 0;
}

void econ_sum(const struct econ_series *s, int64_t from, int64_t to, int64_t now,
              struct econ_bucket *out)
{
    int64_t h0 = hour_of(from), h1 = hour_of(to - 1) + 1;

    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < s->count; i++) {
        int64_t h = s->first_hour + i;
        if (h < h0 || h >= h1)
            continue;
        out->available_gpu_us += s->b[i].available_gpu_us;
        out->rented_gpu_us += s->b[i].rented_gpu_us;
        out->list += s->b[i].list;
        out->discounts += s->b[i].discounts;
        out->revenue += s->b[i].revenue;
    }
    /* the open span [available_since, now) is not booked yet: clip it to the hours asked */
    if (s->available_gpus > 0) {
        int64_t a =
            s->available_since > h0 * USEC_PER_HOUR ? s->available_since : h0 * USEC_PER_HOUR;
        int64_t b = now < h1 * USEC_PER_HOUR ? now : h1 * USEC_PER_HOUR;
        if (b > a)
            out->available_gpu_us += (b - a) * s->available_gpus;
    }
}
