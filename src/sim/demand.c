#include "../common/compat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../engine/money.h"
#include "demand.h"

/* ---- PRNG ---------------------------------------------------------------------------- */

uint64_t rng_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t state = seed ^ (stream * UINT64_C(0xd1342543de82ef95));

    /* mix the stream in twice so that nearby (seed, stream) pairs share nothing */
    state = rng_splitmix64(&state) ^ stream;
    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix64(&state);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    /* reject the top partial block so every residue is equally likely */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do {
        x = rng_next(r);
    } while (x >= limit);
    return x % n;
}

double rng_exponential(struct rng *r)
{
    return -log(1.0 - rng_uniform(r)); /* 1 - u is in (0, 1]: log is finite */
}

double rng_normal(struct rng *r)
{
    double u1 = 1.0 - rng_uniform(r);
    double u2 = rng_uniform(r);

    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double duration_draw(const struct duration_dist *d, struct rng *r)
{
    double x;

    switch (d->kind) {
    case DURATION_EXPONENTIAL:
        x = d->mean_seconds * rng_exponential(r);
        break;
    case DURATION_LOGNORMAL: {
        /* mean of a lognormal is exp(mu + sigma^2 / 2) */
        double mu = log(d->mean_seconds) - d->sigma * d->sigma / 2;
        x = exp(mu + d->sigma * rng_normal(r));
        break;
    }
    default:
        x = d->mean_seconds;
    }
    x = floor(x + 0.5);
    if (x < d->min_seconds)
        x = ceil(d->min_seconds);
    if (d->max_seconds > 0 && x > d->max_seconds)
        x = floor(d->max_seconds);
    return x;
}

/* ---- Generator streams --------------------------------------------------------------- */

struct demand_stream {
    const struct demand_model_params *p; /* borrowed from the scenario */
    struct rng rng;
    double mean_gap_us;                     /* 1 / rate */
    double size_cdf[MAX_GPUS_PER_HOST + 1]; /* cumulative, normalised */
    double term_cdf[TERM_COUNT];
    int64_t clock;                   /* the last arrival, µs */
    struct scenario_request pending; /* the next request; pending.at = INT64_MAX when done */
};

static void cdf(double *out, const double *w, size_t n)
{
    double total = 0, acc = 0;
    size_t last = 0;

    for (size_t i = 0; i < n; i++) {
        total += w[i];
        if (w[i] > 0)
            last = i;
    }
    for (size_t i = 0; i < n; i++) {
        acc += w[i];
        /* from the last positive weight on, exactly 1: rounding can never pick a zero weight */
        out[i] = (i >= last || total <= 0) ? 1.0 : acc / total;
    }
}

/* The first i with u < cdf[i] among those of positive weight. */
static size_t pick(const double *c, size_t n, double u)
{
    for (size_t i = 0; i < n; i++) {
        if (u < c[i])
            return i;
    }
    return n - 1;
}

static void stream_draw(struct demand_stream *s, const struct scenario *sc, int64_t end)
{
    const struct demand_model_params *p = s->p;
    struct scenario_request *r = &s->pending;
    double gap = s->mean_gap_us * rng_exponential(&s->rng);
    double u, acc;

    memset(r, 0, sizeof(*r));
    if (gap > (double)(end - s->clock)) {
        r->at = INT64_MAX;
        return;
    }
    s->clock += (int64_t)llround(gap);
    if (s->clock >= end) {
        r->at = INT64_MAX;
        return;
    }
    r->at = s->clock;
    r->model = p->model;
    r->tenant = (uint32_t)rng_below(&s->rng, sc->tenants);
    r->gpu_count = (uint32_t)pick(s->size_cdf, ARRAY_SIZE(s->size_cdf), rng_uniform(&s->rng));
    r->term = (enum term)pick(s->term_cdf, TERM_COUNT, rng_uniform(&s->rng));
    r->duration = (int64_t)duration_draw(&p->duration, &s->rng) * USEC_PER_SEC;
    if (r->term == TERM_SPOT) {
        int64_t lo = (p->bid_min + 9999) / 10000, hi = p->bid_max / 10000; /* whole cents */

        r->bid = hi >= lo ? (lo + (int64_t)rng_below(&s->rng, (uint64_t)(hi - lo + 1))) * 10000
                          : p->bid_min;
    }
    r->coupon = -1;
    u = rng_uniform(&s->rng);
    acc = 0;
    for (uint32_t i = 0; i < p->coupon_count; i++) {
        const struct scenario_coupon *c = &sc->coupons[p->coupon[i]];

        if (c->term >= 0 && c->term != (int)r->term)
            continue; /* a coupon's share counts among the requests it applies to */
        acc += p->coupon_share[i];
        if (u < acc) {
            r->coupon = (int32_t)p->coupon[i];
            break;
        }
    }
    r->queue = p->queue_share >= 1.0 || rng_uniform(&s->rng) < p->queue_share;
    r->patience = (int64_t)llround(p->patience_seconds) * USEC_PER_SEC;
}

int demand_init(struct demand *d, const struct scenario *sc, int64_t end, uint64_t seed)
{
    memset(d, 0, sizeof(*d));
    d->sc = sc;
    d->end = end;
    if (sc->demand == DEMAND_TRACE)
        return 0;
    d->streams = calloc(sc->param_count ? sc->param_count : 1, sizeof(*d->streams));
    if (d->streams == NULL)
        return ERR_NOMEM;
    d->stream_count = sc->param_count;
    for (uint32_t i = 0; i < sc->param_count; i++) {
        struct demand_stream *s = &d->streams[i];
        const struct demand_model_params *p = &sc->params[i];

        s->p = p;
        rng_seed(&s->rng, seed, i);
        s->mean_gap_us = 3600.0 * 1e6 / p->arrivals_per_hour;
        cdf(s->size_cdf, p->size_weight, ARRAY_SIZE(s->size_cdf));
        cdf(s->term_cdf, p->term_weight, TERM_COUNT);
        s->clock = sc->start;
        stream_draw(s, sc, end);
    }
    return 0;
}

void demand_release(struct demand *d)
{
    free(d->streams);
    d->streams = NULL;
    d->stream_count = 0;
}

/* The stream with the earliest pending request (the lowest position on ties), or -1. */
static int earliest(const struct demand *d)
{
    int best = -1;

    for (uint32_t i = 0; i < d->stream_count; i++) {
        if (d->streams[i].pending.at != INT64_MAX &&
            (best < 0 || d->streams[i].pending.at < d->streams[best].pending.at))
            best = (int)i;
    }
    return best;
}

int64_t demand_peek(const struct demand *d)
{
    int s;

    if (d->sc->demand == DEMAND_TRACE) {
        if (d->next < d->sc->request_count && d->sc->requests[d->next].at < d->end)
            return d->sc->requests[d->next].at;
        return INT64_MAX;
    }
    s = earliest(d);
    return s < 0 ? INT64_MAX : d->streams[s].pending.at;
}

bool demand_next(struct demand *d, struct scenario_request *out)
{
    int s;

    if (d->sc->demand == DEMAND_TRACE) {
        if (demand_peek(d) == INT64_MAX)
            return false;
        *out = d->sc->requests[d->next++];
        return true;
    }
    s = earliest(d);
    if (s < 0)
        return false;
    *out = d->streams[s].pending;
    stream_draw(&d->streams[s], d->sc, d->end);
    return true;
}
