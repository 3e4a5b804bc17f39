/*
 * store.h - durable storage of the platform: one interface, implementations behind a table
 * of functions (SQLite now, PostgreSQL later).
 *
 * Recovery is by replay. The engine is deterministic, so the store keeps the log of every
 * command that changed state, with its time; at start the server replays the log into a
 * fresh engine and has exactly the state it acknowledged. Beside the log, the store keeps
 * tables a person can query (transfers, rentals, tenants, hosts), written from the engine's
 * events in the same transaction, and the server's own records (API keys, idempotency
 * replies, settings), which are not engine state.
 *
 * Every write happens inside store_begin .. store_commit: one transaction per batch of
 * commands (group commit); nothing is acknowledged before store_commit returns 0. (A write
 * outside a transaction commits on its own, durably: for start-up, e.g. the first admin key.)
 * Functions return 0 or a negative ERR_* code with a message in the caller's buffer
 * ("sqlite: <what>: <sqlite's message>" and ERR_IO for a database error).
 *
 * A store is used by one thread at a time (the engine thread; start-up loads before it).
 * The tables are described in docs/schema.md.
 */
#ifndef GPURENT_STORE_H
#define GPURENT_STORE_H

#include "../common/compat.h"

struct event;
struct engine;
struct store;

/* Open (creating if needed) the SQLite database at path, in WAL mode with synchronous=FULL,
 * and apply the numbered migrations (store/migrations.h). The directory must exist. 0 and
 * *out (owned; store_close), or ERR_IO (also for a database of a newer schema version). */
int store_open_sqlite(struct store **out, const char *path, char *err, size_t cap);
void store_close(struct store *s);

/* Replay the command log in order: fn(ctx, seq, at, json) for each; stops at fn's first
 * non-zero return and returns it (err untouched: fn reports its own). json is borrowed for
 * the call. fn must not call other store functions (collect, then write after the replay). */
typedef int (*store_replay_fn)(void *ctx, int64_t seq, int64_t at, const char *json);
int store_replay(struct store *s, store_replay_fn fn, void *ctx, char *err, size_t cap);

/* BEGIN IMMEDIATE .. COMMIT. A failed commit rolls back: nothing of the batch is stored.
 * store_rollback discards the open transaction (a no-op when none is open). */
int store_begin(struct store *s, char *err, size_t cap);
int store_commit(struct store *s, char *err, size_t cap);
void store_rollback(struct store *s);

/* Append one command (as JSON, from cmdjson_encode) applied at `at` to the log. */
int store_log_command(struct store *s, int64_t at, const char *json, char *err, size_t cap);

/*
 * Write the queryable tables from events just drained from e (e gives names and current
 * views, read on the engine thread). Idempotent, so the events of a replay may be written
 * again: transfers are keyed by seq, tenants/hosts/models/rentals are upserted with their
 * current views (once per call, however many events name them), history rows are keyed by
 * their content. A transfer already stored under the same seq must be identical: if not, the
 * replay diverged from history and the call fails with ERR_CONFLICT.
 */
int store_put_events(struct store *s, const struct engine *e, const struct event *ev, size_t n,
                     char *err, size_t cap);

/* The server's records. */
struct key_record {
    char id[32];            /* "key_..." */
    char prefix[16];        /* the first characters of the key, shown in lists */
    unsigned char hash[32]; /* keyed hash of the whole key */
    int role;               /* enum role (server/auth.h) */
    uint32_t tenant;        /* for tenant keys */
    uint32_t host;          /* for agent keys */
    int64_t created_at;
    int64_t revoked_at;   /* 0 = live */
    int64_t last_used_at; /* 0 = never; kept to the minute (auth.c flushes it) */
};
int store_put_key(struct store *s, const struct key_record *k, char *err, size_t cap);
/* Upsert by id (revoking is a put with revoked_at set). Loading calls fn for each key (k is
 * borrowed for the call), in creation order; stops at fn's first non-zero return. */
typedef int (*store_key_fn)(void *ctx, const struct key_record *k);
int store_load_keys(struct store *s, store_key_fn fn, void *ctx, char *err, size_t cap);

/* Idempotency: the first reply to (scope, key) with the request's body hash. A second put
 * of the same (scope, key) keeps the first. reply may be NULL (no body). */
int store_put_idempotent(struct store *s, const char *scope, const char *key,
                         const unsigned char body_hash[32], int status, const char *reply,
                         char *err, size_t cap);
typedef int (*store_idem_fn)(void *ctx, const char *scope, const char *key,
                             const unsigned char body_hash[32], int status, const char *reply);
int store_load_idempotent(struct store *s, store_idem_fn fn, void *ctx, char *err, size_t cap);

/* Settings (the server's secret, the currency): text values. get: 0, ERR_NOTFOUND, ERR_INVALID
 * (the value does not fit in cap bytes with its NUL), or ERR_IO. put upserts. */
int store_meta_get(struct store *s, const char *name, char *value, size_t cap, char *err,
                   size_t errcap);
int store_meta_put(struct store *s, const char *name, const char *value, char *err, size_t errcap);

/* The reason of the adjustment posted as transfer seq (shown on statements). 0 or ERR_IO. */
int store_put_adjustment(struct store *s, uint64_t seq, const char *reason, char *err,
                         size_t errcap);

/*
 * ---- Reporting: a read-only connection beside the engine thread's ----------------------
 *
 * The engine thread owns `struct store`; HTTP threads that need history (usage, invoices)
 * read through a store_reader: its own read-only connection to the same file. WAL lets it
 * read while the engine thread writes; each call reads one consistent snapshot of what was
 * committed (a read transaction), so it never sees half a batch. A reader may be shared by
 * any number of threads: its calls are serialised by its own mutex (one query at a time; a
 * callback must not call the reader again).
 */
struct store_reader;

/* Open a read-only connection to the database at path, which must exist with its schema
 * (store_open_sqlite made it). 0 and *out (owned; store_close_reader), or ERR_IO. */
int store_open_reader(struct store_reader **out, const char *path, char *err, size_t cap);
void store_close_reader(struct store_reader *r);

/* store_meta_get through the reader: the value of name as committed. 0, ERR_NOTFOUND,
 * ERR_INVALID (longer than cap - 1) or ERR_IO, with err set. */
int store_reader_meta_get(struct store_reader *r, const char *name, char *value, size_t cap,
                          char *err, size_t errcap);

/*
 * One line of a tenant's usage: what one rental cost in a period, for one kind of charge.
 * The lines come from the ledger's transfers about the tenant's rentals posted in the period
 * (docs/engine.md names the transfers; docs/schema.md "Usage and invoices" has the rule):
 *
 *   kind        amount (the wallet's side)   discount                        from transfers
 *   charge      + charge                     + discount - discount_reversal  on-demand and
 *               (wallet -> revenue)          (into / out of revenue)         spot settlements
 *   package     + package                    + discount                      a package bought
 *               (wallet -> deferred)         (into deferred)                 or renewed
 *   refund      - refund                     - discount_reversal             a package's
 *               (deferred -> wallet)         (out of deferred)               unearned share
 *   adjustment  - adjustment (a credit,      0                               an operator's
 *               refunds -> wallet) or +                                      correction, one
 *               (a charge, wallet -> refunds)                                line each
 *   adjustment  + charge                     as charge                       usage of a closed
 *               (transfers with `corrects`)                                  month billed late,
 *                                                                            one line per month
 *
 * amount is exactly what left the wallet for the rental (negative: what came back), so the
 * lines' amounts sum to the wallet's transfers about rentals in the period, to the micro-unit.
 * `recognize` (deferred -> revenue) is not a line: it moves no tenant money (the package's
 * line already has it). list_amount = amount + discount.
 *
 * seconds is the time the line's list amount buys at the rental's list price, rounded to the
 * nearest second: charge lines, the time billed in the period (list_amount / (gpu_count x
 * list_hourly)); package lines, the terms bought (24 h per day package...); refund lines,
 * minus the unused time returned; adjustments 0. (The ledger keeps money, not time: the
 * seconds are derived from it, within a second of the time billed whenever the list rate is
 * above a micro-unit a second.)
 */
struct usage_line {
    uint64_t rental;       /* the rental's number; 0 for an adjustment not about a rental */
    const char *rental_id; /* "rnt_..."; borrowed for the call; NULL when rental is 0 */
    const char *kind;      /* "charge", "package", "refund" or "adjustment"; static */
    const char *gpu_model; /* borrowed for the call */
    uint32_t gpu_count;
    const char *term;     /* "on_demand", "spot", "day", "week", "month"; borrowed */
    int64_t seconds;      /* see above; negative for refunds */
    int64_t list_amount;  /* amount + discount */
    int64_t discount;     /* the part of the list price not charged */
    int64_t amount;       /* what the wallet paid (negative: got back) */
    const char *corrects; /* adjustments: "YYYY-MM", the closed month corrected, or NULL */
    const char *reason;   /* operator adjustments: why; NULL otherwise */
};

/* A transfer into the wallet that is not about a rental: a top-up. */
struct usage_credit {
    uint64_t seq; /* the ledger's sequence number */
    int64_t at;
    const char *kind; /* "topup"; borrowed for the call */
    int64_t amount;   /* > 0 */
};

typedef int (*store_usage_line_fn)(void *ctx, const struct usage_line *l);
typedef int (*store_usage_credit_fn)(void *ctx, const struct usage_credit *c);

/*
 * The usage of the tenant whose wallet is ledger account `wallet`, over transfers posted in
 * [from, to): line(ctx, l) for each line, by rental number then first transfer; then
 * credit(ctx, c) for each credit, in ledger order (either fn may be NULL). One snapshot for
 * both. Stops at a fn's first non-zero return and returns it (err untouched). 0, ERR_IO (with
 * err), or ERR_INVALID for from >= to. Lines and credits together account for every transfer
 * of the wallet in the period (every wallet transfer the engine posts is about a rental or
 * into the wallet): its balance moved by the credits' sum less the lines' amounts.
 */
int store_usage(struct store_reader *r, uint32_t wallet, int64_t from, int64_t to,
                store_usage_line_fn line, store_usage_credit_fn credit, void *ctx, char *err,
                size_t cap);

#endif
