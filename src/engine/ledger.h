/*
 * ledger.h - the double-entry, append-only ledger.
 *
 * Every movement of money is a transfer of a positive amount between two accounts; account
 * balances therefore always sum to zero. The ledger keeps balances and the idempotency index
 * of keyed transfers; the transfers themselves leave the engine as EV_TRANSFER events (the
 * store persists them), so memory does not grow with history.
 *
 * Accounts (balances are "money held", so a wallet with credit is positive):
 *   ACCT_EXTERNAL   the outside world: top-ups come from it (goes negative)
 *   ACCT_REVENUE    list revenue earned: charges from wallets plus discounts covering them
 *   ACCT_DISCOUNTS  contra-revenue: coupons, promotions, spot below list (goes negative)
 *   ACCT_REFUNDS    operator goodwill adjustments (goes negative)
 *   ACCT_DEFERRED   prepaid packages not yet earned
 *   >= ACCT_FIRST_WALLET  one wallet per tenant
 * Realized revenue (what tenants were charged and the platform earned) is
 * balance(REVENUE) + balance(DISCOUNTS).
 */
#ifndef GPURENT_LEDGER_H
#define GPURENT_LEDGER_H

#include "../common/compat.h"
#include "../common/hmap.h"

#include "types.h"

enum {
    ACCT_EXTERNAL,
    ACCT_REVENUE,
    ACCT_DISCOUNTS,
    ACCT_REFUNDS,
    ACCT_DEFERRED,
    ACCT_FIRST_WALLET
};

struct keyed_transfer {
    uint64_t seq; /* the transfer the key first produced */
    int64_t amount;
    uint32_t to;
    int64_t balance_after; /* the `to` account's balance right after it */
};

struct ledger {
    int64_t *balances; /* owned; count entries */
    uint32_t count, cap;
    uint64_t seq;                 /* transfers posted so far */
    struct hmap keys;             /* transfer id -> index into keyed */
    struct keyed_transfer *keyed; /* owned */
    uint32_t keyed_count, keyed_cap;
};

/* Set up with the platform accounts; 0 or ERR_NOMEM. */
int ledger_init(struct ledger *l);
void ledger_release(struct ledger *l);

/* Open a new account with balance 0: 0 and *out, or ERR_NOMEM. */
int ledger_open(struct ledger *l, uint32_t *out);

/* Move amount (> 0) from -> to; returns the transfer's sequence number. The caller checks
 * limits first: posting always succeeds. */
uint64_t ledger_post(struct ledger *l, uint32_t from, uint32_t to, int64_t amount);

/* The first result of a keyed transfer, or NULL when the key is new. */
const struct keyed_transfer *ledger_find_key(const struct ledger *l, const char *key);
/* Remember key -> the transfer just posted; 0 or ERR_NOMEM. */
int ledger_remember_key(struct ledger *l, const char *key, const struct keyed_transfer *kt);

/* Sum of all balances (must be 0). */
int64_t ledger_sum(const struct ledger *l);

#endif
