/*
 * timerq.h - the engine's timer queue: (due, seq) order over a binary min-heap and one FIFO
 * ring per fixed-delay timer kind.
 *
 * Timers are never cancelled: when one fires, the engine checks it against the object's
 * current state and drops it if stale (lazy deletion). Ties on `due` fire in insertion
 * order, which keeps the engine deterministic.
 */
#ifndef GPURENT_TIMERQ_H
#define GPURENT_TIMERQ_H

#include "../common/compat.h"

enum timer_kind {
    TIMER_SETTLE,        /* obj = rental: periodic settlement */
    TIMER_START_TIMEOUT, /* obj = rental */
    TIMER_END,           /* obj = rental: package term or max_duration reached */
    TIMER_PREEMPT,       /* obj = rental: a spot rental's notice is over */
    TIMER_HEARTBEAT,     /* obj = host: has it gone silent? */
    TIMER_LOST,          /* obj = host: down for lost_after */
    TIMER_GRACE,         /* obj = tenant: the insufficient-balance grace is over */
};

struct timer {
    int64_t due;
    uint64_t seq;
    uint64_t obj;
    uint32_t kind;
    uint32_t arg; /* an epoch or generation to recognise stale timers */
};

/* A FIFO of timers of one fixed-delay kind; cap is a power of two. */
struct timer_ring {
    struct timer *buf; /* owned */
    size_t head, count, cap;
};

#define TIMERQ_RINGS 5

struct timerq {
    struct timer *heap; /* owned; timers whose due times do not arrive in order */
    size_t count, cap;
    struct timer_ring rings[TIMERQ_RINGS]; /* fixed-delay kinds, each in due order */
    uint64_t seq;
};

void timerq_init(struct timerq *q);
void timerq_release(struct timerq *q);
/* 0 or ERR_NOMEM */
int timerq_push(struct timerq *q, int64_t due, enum timer_kind kind, uint64_t obj, uint32_t arg);
/* The earliest timer, or NULL. */
const struct timer *timerq_peek(const struct timerq *q);
/* Remove the earliest timer into *out; false when empty. */
bool timerq_pop(struct timerq *q, struct timer *out);

#endif
