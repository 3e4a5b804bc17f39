#include "../common/compat.h"

#include <stdlib.h>

#include "../common/err.h"
#include "timerq.h"

void timerq_init(struct timerq *q)
{
    q->heap = NULL;
    q->count = q->cap = 0;
    q->seq = 0;
}

void timerq_release(struct timerq *q)
{
    free(q->heap);
    timerq_init(q);
}

static bool before(const struct timer *a, const struct timer *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

int timerq_push(struct timerq *q, int64_t due, enum timer_kind kind, uint64_t obj, uint32_t arg)
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
    struct timer t = {.due = due, .seq = ++q->seq, .obj = obj, .kind = kind, .arg = arg};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&t, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = t;
    return 0;
}

const struct timer *timerq_peek(const struct timerq *q)
{
    return q->count ? &q->heap[0] : NULL;
}

bool timerq_pop(struct timerq *q, struct timer *out)
{
    struct timer last;
    size_t i = 0;

    if (q->count == 0)
        return false;
    *out = q->heap[0];
    last = q->heap[--q->count];
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
    return true;
}
