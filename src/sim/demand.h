/*
 * demand.h - the simulator's stream of rental requests, in time order.
 *
 * A scenario's demand is either a trace (demand.csv, replayed as written) or a synthetic
 * generator (demand.json): per GPU model, Poisson arrivals at arrivals_per_hour, a duration
 * distribution (fixed, exponential, lognormal), and categorical GPU counts, terms, coupons and
 * queueing, with spot bids uniform in whole cents. The generator draws lazily (one pending
 * request per model), so a million requests cost no memory, and it is deterministic: each
 * model has its own xoshiro256** stream seeded from (seed, model position) with splitmix64,
 * so the same scenario and seed give the same requests on every run.
 */
#ifndef GPURENT_SIM_DEMAND_H
#define GPURENT_SIM_DEMAND_H

#include "../common/compat.h"

#include "scenario.h"

/* ---- The pseudo-random generator (ours, so results do not depend on the C library) ---- */

struct rng {
    uint64_t s[4];
};

/* splitmix64: advance *state and return the next output (seeds the xoshiro state). */
uint64_t rng_splitmix64(uint64_t *state);

/* Seed r from seed and a stream number: distinct streams are independent. */
void rng_seed(struct rng *r, uint64_t seed, uint64_t stream);

/* xoshiro256**: the next 64 random bits. */
uint64_t rng_next(struct rng *r);

/* Uniform in [0, 1), 53 bits. */
double rng_uniform(struct rng *r);

/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Exponential with mean 1. */
double rng_exponential(struct rng *r);

/* Standard normal (Box-Muller). */
double rng_normal(struct rng *r);

/* A duration in whole seconds from d, clamped to [min, max]. */
double duration_draw(const struct duration_dist *d, struct rng *r);

/* ---- The request stream --------------------------------------------------------------- */

struct demand_stream;

struct demand {
    const struct scenario *sc;     /* borrowed */
    int64_t end;                   /* requests at or after this time are not produced */
    size_t next;                   /* trace: the next request */
    struct demand_stream *streams; /* generator: owned, one per demand.json model */
    uint32_t stream_count;
};

/*
 * Start the stream of sc's requests in [sc->start, end) using seed (the generator's; a
 * trace ignores it). sc must outlive d. Returns 0 or ERR_NOMEM.
 */
int demand_init(struct demand *d, const struct scenario *sc, int64_t end, uint64_t seed);
void demand_release(struct demand *d);

/* The time of the next request, or INT64_MAX when there is none before the end. */
int64_t demand_peek(const struct demand *d);

/* Take the next request into *out: true, or false when there is none before the end. */
bool demand_next(struct demand *d, struct scenario_request *out);

#endif
