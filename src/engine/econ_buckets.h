/*
 * econ_buckets.h - the operating data the economics report is computed from: per GPU model,
 * one bucket per hour of available GPU-time, billed GPU-time, and list, discount and
 * revenue amounts. Time spans are split exactly across hour boundaries; money is booked in
 * the hour it was earned (settled or recognised).
 */
#ifndef GPURENT_ECON_BUCKETS_H
#define GPURENT_ECON_BUCKETS_H

#include "../common/compat.h"

struct econ_bucket {
    int64_t available_gpu_us; /* GPU-microseconds registered and not down */
    int64_t rented_gpu_us;    /* GPU-microseconds billed */
    int64_t list;             /* list revenue earned */
    int64_t discounts;
    int64_t revenue; /* list - discounts */
};

struct econ_series {
    int64_t first_hour;    /* hour number (t / 1 h) of b[0] */
    struct econ_bucket *b; /* owned */
    uint32_t count, cap;
    int64_t available_gpus;  /* GPUs available now */
    int64_t available_since; /* since when that count holds */
};

void econ_series_init(struct econ_series *s);
void econ_series_release(struct econ_series *s);

/* The available-GPU count changes to n at now (the old count is booked up to now). */
int econ_set_available(struct econ_series *s, int64_t now, int64_t n);
/* gpus GPUs were billed over [t0, t1). */
int econ_add_rented(struct econ_series *s, int64_t t0, int64_t t1, int64_t gpus);
/* Money earned at t. */
int econ_add_money(struct econ_series *s, int64_t t, int64_t list, int64_t discounts,
                   int64_t revenue);

/* Sum the buckets whose hour starts in [from, to), plus the still-open available span up to
 * min(to, now), into *out. */
void econ_sum(const struct econ_series *s, int64_t from, int64_t to, int64_t now,
              struct econ_bucket *out);

#endif
