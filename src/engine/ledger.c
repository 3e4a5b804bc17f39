#include "../common/compat.h"

#include <stdlib.h>

#include "../common/err.h"
#include "ledger.h"

int ledger_init(struct ledger *l)
{
    uint32_t acct;

    l->balances = NULL;
    l->count = l->cap = 0;
    l->seq = 0;
    hmap_init(&l->keys);
    l->keyed = NULL;
    l->keyed_count = l->keyed_cap = 0;
    for (int i = 0; i < ACCT_FIRST_WALLET; i++) {
        if (ledger_open(l, &acct) < 0)
            return ERR_NOMEM;
    }
    return 0;
}

void ledger_release(struct ledger *l)
{
    free(l->balances);
    free(l->keyed);
    hmap_release(&l->keys);
    l->balances = NULL;
    l->keyed = NULL;
    l->count = l->cap = l->keyed_count = l->keyed_cap = 0;
}

int ledger_open(struct ledger *l, uint32_t *out)
{
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *b = realloc(l->balances, cap * sizeof(*b));
        if (b == NULL)
            return ERR_NOMEM;
        l->balances = b;
        l->cap = cap;
    }
    l->balances[l->count] = 0;
    *out = l->count++;
    return 0;
}

uint64_t ledger_post(struct ledger *l, uint32_t from, uint32_t to, int64_t amount)
{
    l->balances[from] -= amount;
    l->balances[to] += amount;
    return ++l->seq;
}

const struct keyed_transfer *ledger_find_key(const struct ledger *l, const char *key)
{
    uint32_t i;

    if (hmap_get(&l->keys, key, &i) < 0)
        return NULL;
    return &l->keyed[i];
}

int ledger_remember_key(struct ledger *l, const char *key, const struct keyed_transfer *kt)
{
    int rc;

    if (l->keyed_count == l->keyed_cap) {
        uint32_t cap = l->keyed_cap ? l->keyed_cap * 2 : 64;
        struct keyed_transfer *k = realloc(l->keyed, cap * sizeof(*k));
        if (k == NULL)
            return ERR_NOMEM;
        l->keyed = k;
        l->keyed_cap = cap;
    }
    rc = hmap_put(&l->keys, key, l->keyed_count);
    if (rc < 0)
        return rc;
    l->keyed[l->keyed_count++] = *kt;
    return 0;
}

int64_t ledger_sum(const struct ledger *l)
{
    int64_t sum = 0;

    for (uint32_t i = 0; i < l->count; i++)
        sum += l->balances[i];
    return sum;
}
