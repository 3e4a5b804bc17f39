#include "../common/compat.h"

#include <stdlib.h>

#include "../common/err.h"
#include "timerq.h"

/*
 * Most timers are "now + a fixed delay" (settlements, start timeouts, notices, grace, lost
 * hosts), so each such kind arrives in due order: a FIFO ring per kind holds them with O(1)
 * push and pop and sequential memory. The heap keeps the rest (package ends, heartbeat
 * checks). A push that would break a ring's order goes to the heap, so order is always right.
 */

static int ring_of(enum timer_kind kind)
{
    switch (kind) {
    case TIMER_SETTLE:
        return 0;
    case TIMER_START_TIMEOUT:
        return 1;
    case TIMER_PREEMPT:
        return 2;
    case TIMER_LOST:
        return 3;
    case TIMER_GRACE:
        return 4;
    default:
        return -1;
    }
}

void timerq_init(struct timerq *q)
{
    q->heap = NULL;
    q->count = q->cap = 0;
    q->seq = 0;
    for (int i = 0; i < TIMERQ_RINGS; i++)
        q->rings[i] = (struct timer_ring){0};
}

void timerq_release(struct timerq *q)
{
    free(q->heap);
    for (int i = 0; i < TIMERQ_RINGS; i++)
        free(q->rings[i].buf);
    timerq_init(q);
}

static bool before(const struct timer *a, const struct timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static int heap_push(struct timerq *q, const struct timer *t)
{
    size_t i;

    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct timer *h = realloc(q->heap, cap * sizeof(*h));
        if (h == NULL)
            return ERR_NOMEM;
        q->heap = h;
        q->cap = cap;
    }
    i = q->count++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = *t;
    return 0;
}

static void heap_pop(struct timerq *q)
{
    struct timer last = q->heap[--q->count];
    size_t i = 0;

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct timer *best = &last;
        if (l < q->count && before(&q->heap[l], best)) {
            m = l;
            best = &q->heap[l];
        }
        if (r < q->count && before(&q->heap[r], best))
            m = r;
        if (m == i)
            break;
        q->heap[i] = q->heap[m];
        i = m;
    }
    if (q->count)
        q->heap[i] = last;
}

static struct timer *ring_head(const struct timer_ring *r)
{
    return r->count ? &r->buf[r->head] : NULL;
}

static struct timer *ring_tail(const struct timer_ring *r)
{
    return r->count ? &r->buf[(r->head + r->count - 1) & (r->cap - 1)] : NULL;
}

static int ring_push(struct timer_ring *r, const struct timer *t)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct timer *b = malloc(cap * sizeof(*b));
        if (b == NULL)
            return ERR_NOMEM;
        for (size_t i = 0; i < r->count; i++)
            b[i] = r->buf[(r->head + i) & (r->cap - 1)];
        free(r->buf);
        r->buf = b;
        r->cap = cap;
        r->head = 0;
    }
    r->buf[(r->head + r->count) & (r->cap - 1)] = *t;
    r->count++;
    return 0;
}

int timerq_push(struct timerq *q, int64_t due, enum timer_kind kind, uint64_t obj, uint32_t arg)
{
    struct timer t = {.due = due, .seq = ++q->seq, .obj = obj, .kind = kind, .arg = arg};
    int ring = ring_of(kind);

    if (ring >= 0) {
        struct timer_ring *r = &q->rings[ring];
        const struct timer *tail = ring_tail(r);
        if (tail == NULL || tail->due <= due)
            return ring_push(r, &t);
    }
    return heap_push(q, &t);
}

/* The earliest timer: -1 for the heap, a ring's number, or -2 when empty. */
static int earliest(const struct timerq *q, const struct timer **out)
{
    const struct timer *best = q->count ? &q->heap[0] : NULL;
    int where = best ? -1 : -2;

    for (int i = 0; i < TIMERQ_RINGS; i++) {
        const struct timer *h = ring_head(&q->rings[i]);
        if (h != NULL && (best == NULL || before(h, best))) {
            best = h;
            where = i;
        }
    }
    *out = best;
    return where;
}

const struct timer *timerq_peek(const struct timerq *q)
{
    const struct timer *t;

    earliest(q, &t);
    return t;
}

bool timerq_pop(struct timerq *q, struct timer *out)
{
    const struct timer *t;
    int where = earliest(q, &t);

    if (where == -2)
        return false;
    *out = *t;
    if (where == -1) {
        heap_pop(q);
    } else {
        struct timer_ring *r = &q->rings[where];
        r->head = (r->head + 1) & (r->cap - 1);
        r->count--;
    }
    return true;
}
