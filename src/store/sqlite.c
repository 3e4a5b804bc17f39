/*
 * sqlite.c - the SQLite implementation of store.h.
 *
 * One connection, used by one thread at a time (the engine thread; start-up loads before it).
 * Every statement is prepared once at open (SQLITE_PREPARE_PERSISTENT) and reset after each
 * use, so the group-commit path does no SQL parsing. The database runs in WAL mode with
 * synchronous=FULL: store_commit returns after the WAL is fsynced, and readers (a person with
 * the sqlite3 shell) never block the writer.
 *
 * store_put_events is idempotent, because after a restart the engine replays the command log
 * and emits the same events again:
 *   - transfers are keyed by the ledger's seq; a transfer already stored must be identical
 *     (a difference means the replay diverged from history, and is an error);
 *   - tenants, hosts, models and rentals are upserted with the engine's current view of each
 *     object an event touched, once per call, parents before children (foreign keys);
 *   - rental_events and alerts are keyed by what they say, so a repeat is a no-op.
 */
#include "../common/compat.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/ids.h"
#include "../engine/engine.h"
#include "../engine/ledger.h"
#include "migrations.h"
#include "store.h"

#define BUSY_TIMEOUT_MS 5000 /* another process (a backup, a person's write) holding the lock */

enum stmt {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_LOG,
    ST_REPLAY,
    ST_TENANT,
    ST_ACCOUNT,
    ST_HOST,
    ST_GPU,
    ST_MODEL,
    ST_RENTAL,
    ST_RENTAL_EVENT,
    ST_TRANSFER,
    ST_TRANSFER_GET,
    ST_ALERT,
    ST_KEY_PUT,
    ST_KEY_LOAD,
    ST_IDEM_PUT,
    ST_IDEM_LOAD,
    ST_META_GET,
    ST_META_PUT,
    ST_ADJUSTMENT_PUT,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_LOG] = "INSERT INTO command_log (at, body) VALUES (?1, ?2)",
    [ST_REPLAY] = "SELECT seq, at, body FROM command_log ORDER BY seq",
    [ST_TENANT] = "INSERT INTO tenants (num, id, name, account, credit_limit, monthly_budget,"
                  " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                  " ON CONFLICT (num) DO UPDATE SET name = excluded.name,"
                  " credit_limit = excluded.credit_limit,"
                  " monthly_budget = excluded.monthly_budget,"
                  " updated_at = MAX(updated_at, excluded.updated_at)",
    [ST_ACCOUNT] = "INSERT INTO accounts (account, kind, tenant_id) VALUES (?1, 'wallet', ?2)"
                   " ON CONFLICT (account) DO NOTHING",
    [ST_HOST] = "INSERT INTO hosts (num, id, hostname, gpu_model, gpu_count, state, registered_at,"
                " purchase_price, purchased_at, depreciation_years, salvage_ppm, power_watts,"
                " pue_milli, electricity_kwh_price, hosting_monthly, updated_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                " ON CONFLICT (num) DO UPDATE SET state = excluded.state,"
                " purchase_price = excluded.purchase_price,"
                " purchased_at = excluded.purchased_at,"
                " depreciation_years = excluded.depreciation_years,"
                " salvage_ppm = excluded.salvage_ppm, power_watts = excluded.power_watts,"
                " pue_milli = excluded.pue_milli,"
                " electricity_kwh_price = excluded.electricity_kwh_price,"
                " hosting_monthly = excluded.hosting_monthly,"
                " updated_at = MAX(updated_at, excluded.updated_at)",
    [ST_GPU] = "INSERT INTO gpus (uuid, host_id, idx, memory_mib, nvlink_island)"
               " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (uuid) DO NOTHING",
    [ST_MODEL] = "INSERT INTO models (gpu_model, memory_mib, on_demand_hourly, spot_floor_hourly,"
                 " day_price, week_price, month_price, updated_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                 " ON CONFLICT (gpu_model) DO UPDATE SET memory_mib = excluded.memory_mib,"
                 " on_demand_hourly = excluded.on_demand_hourly,"
                 " spot_floor_hourly = excluded.spot_floor_hourly,"
                 " day_price = excluded.day_price, week_price = excluded.week_price,"
                 " month_price = excluded.month_price,"
                 " updated_at = MAX(updated_at, excluded.updated_at)",
    [ST_RENTAL] = "INSERT INTO rentals (num, id, tenant_id, state, end_reason, exit_code,"
                  " gpu_model, gpu_count, term, hourly_price, list_hourly, max_hourly, host_id,"
                  " gpu_mask, epoch, auto_renew, has_workload, created_at, placed_at,"
                  " started_at, ends_at, ended_at, preempt_at, cost, discount,"
                  " amount_off_used, billed_us, updated_at, requeue, requeued_from, requeued_as)"
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                  " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30,"
                  " ?31)"
                  " ON CONFLICT (num) DO UPDATE SET state = excluded.state,"
                  " end_reason = excluded.end_reason, exit_code = excluded.exit_code,"
                  " host_id = excluded.host_id, gpu_mask = excluded.gpu_mask,"
                  " epoch = excluded.epoch, auto_renew = excluded.auto_renew,"
                  " placed_at = excluded.placed_at, started_at = excluded.started_at,"
                  " ends_at = excluded.ends_at, ended_at = excluded.ended_at,"
                  " preempt_at = excluded.preempt_at, cost = excluded.cost,"
                  " discount = excluded.discount, amount_off_used = excluded.amount_off_used,"
                  " billed_us = excluded.billed_us, requeued_as = excluded.requeued_as,"
                  " updated_at = MAX(updated_at, excluded.updated_at)",
    [ST_RENTAL_EVENT] = "INSERT INTO rental_events (rental_num, at, event, from_state, to_state,"
                        " end_reason, host_id, preempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                        " ON CONFLICT DO NOTHING",
    [ST_TRANSFER] = "INSERT INTO transfers (seq, at, from_account, to_account, amount, kind,"
                    " rental_num, corrects) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                    " ON CONFLICT (seq) DO NOTHING",
    [ST_TRANSFER_GET] = "SELECT at, from_account, to_account, amount, kind, IFNULL(rental_num, 0),"
                        " IFNULL(corrects, '') FROM transfers WHERE seq = ?1",
    [ST_ALERT] = "INSERT INTO alerts (at, kind, hosts_down, hosts_total) VALUES (?1, ?2, ?3, ?4)"
                 " ON CONFLICT DO NOTHING",
    [ST_KEY_PUT] = "INSERT INTO api_keys (id, prefix, hash, role, tenant_id, host_id, created_at,"
                   " revoked_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                   " ON CONFLICT (id) DO UPDATE SET prefix = excluded.prefix,"
                   " hash = excluded.hash, role = excluded.role, tenant_id = excluded.tenant_id,"
                   " host_id = excluded.host_id, created_at = excluded.created_at,"
                   " revoked_at = excluded.revoked_at, last_used_at = excluded.last_used_at",
    [ST_KEY_LOAD] = "SELECT id, prefix, hash, role, tenant_id, host_id, created_at, revoked_at,"
                    " last_used_at"
                    " FROM api_keys ORDER BY created_at, id",
    [ST_IDEM_PUT] = "INSERT INTO idempotency (scope, key, body_hash, status, reply)"
                    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (scope, key) DO NOTHING",
    [ST_IDEM_LOAD] = "SELECT scope, key, body_hash, status, reply FROM idempotency",
    [ST_META_GET] = "SELECT value FROM meta WHERE name = ?1",
    [ST_META_PUT] = "INSERT INTO meta (name, value) VALUES (?1, ?2)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    [ST_ADJUSTMENT_PUT] = "INSERT INTO adjustments (seq, reason) VALUES (?1, ?2)"
                          " ON CONFLICT (seq) DO NOTHING",
};

/* Objects touched by one batch of events: each is upserted once, with its latest view. */
struct touch {
    uint64_t id;
    int64_t first_at; /* the earliest event about it in the batch */
    int64_t last_at;  /* the latest */
    bool registered;  /* hosts: EV_HOST_REGISTERED was among them (write its GPUs) */
};

struct touch_list {
    struct touch *items; /* owned */
    size_t count, cap;
};

enum touch_kind { TOUCH_TENANT, TOUCH_HOST, TOUCH_MODEL, TOUCH_RENTAL, TOUCH_KINDS };

struct store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct touch_list touched[TOUCH_KINDS]; /* scratch of store_put_events, kept between calls */
};

/* ---- Errors ----------------------------------------------------------------------------- */

static int set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return ERR_IO;
}

/* "sqlite: <what>: <sqlite's message>", ERR_IO. */
static int db_fail(sqlite3 *db, const char *what, char *err, size_t cap)
{
    return set_err(err, cap, "sqlite: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Run a prepared write (or a statement whose rows are not wanted) to completion and reset it.
 * bind_rc is the OR of the bind calls' results (SQLITE_OK is 0). */
static int run(struct store *s, sqlite3_stmt *st, int bind_rc, const char *what, char *err,
               size_t cap)
{
    int rc = bind_rc == SQLITE_OK ? sqlite3_step(st) : bind_rc;

    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        db_fail(s->db, what, err, cap);
        sqlite3_reset(st);
        return ERR_IO;
    }
    sqlite3_reset(st);
    return 0;
}

/* ---- Binding helpers -------------------------------------------------------------------- */

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* A time or amount where 0 means "not yet": NULL. */
static int bind_opt(sqlite3_stmt *st, int i, int64_t v)
{
    return v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

/* A public id, or NULL for object number 0. buf must hold ID_STR_MAX bytes. */
static int bind_id(sqlite3_stmt *st, int i, char *buf, const char *prefix, uint64_t n)
{
    return n ? bind_text(st, i, id_format(buf, prefix, n)) : sqlite3_bind_null(st, i);
}

/* ---- Open and close --------------------------------------------------------------------- */

static int exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t cap)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(db, what, err, cap);
}

static int pragma(sqlite3 *db, const char *sql, const char *want, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, sql, err, cap);
    switch (sqlite3_step(st)) {
    case SQLITE_ROW:
        if (want != NULL && sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), want) != 0)
            rc = set_err(err, cap, "sqlite: %s: got \"%s\", not \"%s\"", sql,
                         (const char *)sqlite3_column_text(st, 0), want);
        break;
    case SQLITE_DONE:
        break;
    default:
        rc = db_fail(db, sql, err, cap);
    }
    sqlite3_finalize(st);
    return rc;
}

static int schema_version(sqlite3 *db, int64_t *out, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(db, "schema version", err, cap);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : db_fail(db, "schema version", err, cap);
}

/* Apply the missing migrations in one transaction. */
static int migrate(sqlite3 *db, char *err, size_t cap)
{
    sqlite3_stmt *st = NULL;
    char what[96];
    int64_t version = 0;
    int rc;

    rc = exec(db, "BEGIN IMMEDIATE", "begin migrations", err, cap);
    if (rc < 0)
        return rc;
    rc = exec(db,
              "CREATE TABLE IF NOT EXISTS schema_version (\n"
              "    version    INTEGER PRIMARY KEY, -- the migration number (migrations.c)\n"
              "    name       TEXT NOT NULL,\n"
              "    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))\n"
              ")",
              "create schema_version", err, cap);
    if (rc == 0)
        rc = schema_version(db, &version, err, cap);
    if (rc == 0 && version > (int64_t)migration_count)
        rc = set_err(err, cap,
                     "sqlite: schema version %lld is newer than this gpurent's %zu: "
                     "upgrade gpurent",
                     (long long)version, migration_count);
    if (rc == 0 &&
        sqlite3_prepare_v2(db, "INSERT INTO schema_version (version, name) VALUES (?1, ?2)", -1,
                           &st, NULL) != SQLITE_OK)
        rc = db_fail(db, "record migration", err, cap);
    for (size_t v = (size_t)version + 1; rc == 0 && v <= migration_count; v++) {
        snprintf(what, sizeof(what), "migration %zu (%s)", v, migrations[v - 1].name);
        rc = exec(db, migrations[v - 1].sql, what, err, cap);
        if (rc < 0)
            break;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)v);
        sqlite3_bind_text(st, 2, migrations[v - 1].name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(db, what, err, cap);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = exec(db, "COMMIT", "commit migrations", err, cap);
    if (rc < 0)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_open_sqlite(struct store **out, const char *path, char *err, size_t cap)
{
    struct store *s = NULL;
    char what[64];
    int rc = 0;

    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return set_err(err, cap, "sqlite: open %s: out of memory", path);
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = set_err(err, cap, "sqlite: open %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    rc = pragma(s->db, "PRAGMA journal_mode = WAL", "wal", err, cap);
    if (rc == 0)
        rc = pragma(s->db, "PRAGMA synchronous = FULL", NULL, err, cap);
    if (rc == 0)
        rc = pragma(s->db, "PRAGMA foreign_keys = ON", NULL, err, cap);
    if (rc == 0)
        rc = pragma(s->db, "PRAGMA cache_size = -16384", NULL, err, cap); /* KiB */
    if (rc == 0)
        rc = pragma(s->db, "PRAGMA journal_size_limit = 67108864", NULL, err, cap);
    if (rc == 0)
        rc = migrate(s->db, err, cap);
    for (int i = 0; rc == 0 && i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(what, sizeof(what), "prepare statement %d", i);
            rc = db_fail(s->db, what, err, cap);
        }
    }
out:
    if (rc < 0) {
        store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db); /* the last connection checkpoints the WAL */
    for (int k = 0; k < TOUCH_KINDS; k++)
        free(s->touched[k].items);
    free(s);
}

/* ---- Transactions and the command log --------------------------------------------------- */

int store_begin(struct store *s, char *err, size_t cap)
{
    return run(s, s->st[ST_BEGIN], SQLITE_OK, "begin", err, cap);
}

int store_commit(struct store *s, char *err, size_t cap)
{
    int rc = run(s, s->st[ST_COMMIT], SQLITE_OK, "commit", err, cap);

    if (rc < 0)
        store_rollback(s); /* a failed COMMIT may leave the transaction open */
    return rc;
}

void store_rollback(struct store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_step(s->st[ST_ROLLBACK]);
        sqlite3_reset(s->st[ST_ROLLBACK]);
    }
}

int store_log_command(struct store *s, int64_t at, const char *json, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_LOG];
    int b = sqlite3_bind_int64(st, 1, at);

    b |= sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
    return run(s, st, b, "log command", err, cap);
}

int store_replay(struct store *s, store_replay_fn fn, void *ctx, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_REPLAY];
    int rc, ret = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *body = (const char *)sqlite3_column_text(st, 2);
        if (body == NULL) {
            rc = SQLITE_NOMEM; /* the column is NOT NULL: only a failed conversion */
            break;
        }
        ret = fn(ctx, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), body);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s->db, "replay", err, cap);
    sqlite3_reset(st);
    return ret;
}

/* ---- Events ----------------------------------------------------------------------------- */

static int touch(struct touch_list *l, uint64_t id, int64_t at, bool registered)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct touch *items = realloc(l->items, cap * sizeof(*items));
        if (items == NULL)
            return ERR_NOMEM;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count++] = (struct touch){id, at, at, registered};
    return 0;
}

static int touch_cmp(const void *a, const void *b)
{
    const struct touch *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sort by id and merge repeats: one entry per object. */
static void touch_merge(struct touch_list *l)
{
    size_t n = 0;

    if (l->count == 0)
        return;
    qsort(l->items, l->count, sizeof(*l->items), touch_cmp);
    for (size_t i = 1; i < l->count; i++) {
        struct touch *t = &l->items[n], *u = &l->items[i];
        if (u->id == t->id) {
            t->first_at = u->first_at < t->first_at ? u->first_at : t->first_at;
            t->last_at = u->last_at > t->last_at ? u->last_at : t->last_at;
            t->registered |= u->registered;
        } else {
            l->items[++n] = *u;
        }
    }
    l->count = n + 1;
}

static int put_tenant(struct store *s, const struct engine *e, const struct touch *t, char *err,
                      size_t cap)
{
    sqlite3_stmt *st = s->st[ST_TENANT];
    struct tenant_view v;
    char id[ID_STR_MAX];
    int b, rc;

    if (engine_tenant(e, (uint32_t)t->id, &v) < 0)
        return set_err(err, cap, "sqlite: put events: unknown tenant %llu",
                       (unsigned long long)t->id);
    b = sqlite3_bind_int64(st, 1, v.id);
    b |= bind_id(st, 2, id, "tnt", v.id);
    b |= bind_text(st, 3, v.name);
    b |= sqlite3_bind_int64(st, 4, v.account);
    b |= sqlite3_bind_int64(st, 5, v.credit_limit);
    b |= sqlite3_bind_int64(st, 6, v.monthly_budget);
    b |= sqlite3_bind_int64(st, 7, t->first_at);
    b |= sqlite3_bind_int64(st, 8, t->last_at);
    rc = run(s, st, b, "put tenant", err, cap);
    if (rc < 0)
        return rc;
    st = s->st[ST_ACCOUNT];
    b = sqlite3_bind_int64(st, 1, v.account);
    b |= bind_id(st, 2, id, "tnt", v.id);
    return run(s, st, b, "put account", err, cap);
}

static int put_model(struct store *s, const struct engine *e, uint32_t model, int64_t at, char *err,
                     size_t cap)
{
    sqlite3_stmt *st = s->st[ST_MODEL];
    struct offer_view o;
    int b;

    if (engine_offer(e, model, &o) < 0)
        return set_err(err, cap, "sqlite: put events: unknown model %u", model);
    b = bind_text(st, 1, o.gpu_model);
    b |= sqlite3_bind_int64(st, 2, o.memory_mib);
    b |= sqlite3_bind_int64(st, 3, o.prices.on_demand_hourly);
    b |= sqlite3_bind_int64(st, 4, o.prices.spot_floor_hourly);
    for (int i = 0; i < PACKAGE_COUNT; i++)
        b |= sqlite3_bind_int64(st, 5 + i, o.prices.package[i]);
    b |= sqlite3_bind_int64(st, 8, at);
    return run(s, st, b, "put model", err, cap);
}

static int put_gpus(struct store *s, const struct engine *e, uint32_t host, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_GPU];
    struct gpu_view g[MAX_GPUS_PER_HOST];
    char id[ID_STR_MAX];
    int n = engine_host_gpus(e, host, g, MAX_GPUS_PER_HOST);
    int b, rc;

    for (int i = 0; i < n; i++) {
        b = bind_text(st, 1, g[i].uuid);
        b |= bind_id(st, 2, id, "hst", host);
        b |= sqlite3_bind_int64(st, 3, g[i].index);
        b |= sqlite3_bind_int64(st, 4, g[i].memory_mib);
        b |= sqlite3_bind_int64(st, 5, g[i].nvlink_island);
        rc = run(s, st, b, "put gpu", err, cap);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int put_host(struct store *s, const struct engine *e, const struct touch *t, char *err,
                    size_t cap)
{
    sqlite3_stmt *st = s->st[ST_HOST];
    struct host_view v;
    char id[ID_STR_MAX];
    uint32_t model;
    int b, rc;

    if (engine_host(e, (uint32_t)t->id, &v) < 0)
        return set_err(err, cap, "sqlite: put events: unknown host %llu",
                       (unsigned long long)t->id);
    b = sqlite3_bind_int64(st, 1, v.id);
    b |= bind_id(st, 2, id, "hst", v.id);
    b |= bind_text(st, 3, v.hostname);
    b |= bind_text(st, 4, v.gpu_model);
    b |= sqlite3_bind_int64(st, 5, v.gpu_count);
    b |= bind_text(st, 6, host_state_name(v.state));
    b |= sqlite3_bind_int64(st, 7, v.registered_at);
    if (v.has_cost) {
        b |= sqlite3_bind_int64(st, 8, v.cost.purchase_price);
        b |= sqlite3_bind_int64(st, 9, v.cost.purchased_at);
        b |= sqlite3_bind_int64(st, 10, v.cost.depreciation_years);
        b |= sqlite3_bind_int64(st, 11, v.cost.salvage_ppm);
        b |= sqlite3_bind_int64(st, 12, v.cost.power_watts);
        b |= sqlite3_bind_int64(st, 13, v.cost.pue_milli);
        b |= sqlite3_bind_int64(st, 14, v.cost.electricity_kwh_price);
        b |= sqlite3_bind_int64(st, 15, v.cost.hosting_monthly);
    } else {
        for (int i = 8; i <= 15; i++)
            b |= sqlite3_bind_null(st, i);
    }
    b |= sqlite3_bind_int64(st, 16, t->last_at);
    rc = run(s, st, b, "put host", err, cap);
    if (rc < 0 || !t->registered)
        return rc;
    /* a new host: its GPUs, and its model (the first host of a model sets its memory) */
    rc = put_gpus(s, e, v.id, err, cap);
    if (rc == 0 && engine_model_find(e, v.gpu_model, &model) == 0)
        rc = put_model(s, e, model, t->last_at, err, cap);
    return rc;
}

static int put_rental(struct store *s, const struct engine *e, const struct touch *t, char *err,
                      size_t cap)
{
    sqlite3_stmt *st = s->st[ST_RENTAL];
    struct rental_view v;
    char id[ID_STR_MAX], tenant[ID_STR_MAX], host[ID_STR_MAX], from[ID_STR_MAX], as[ID_STR_MAX];
    int b;

    if (engine_rental(e, t->id, &v) < 0)
        return set_err(err, cap, "sqlite: put events: unknown rental %llu",
                       (unsigned long long)t->id);
    b = sqlite3_bind_int64(st, 1, (sqlite3_int64)v.id);
    b |= bind_id(st, 2, id, "rnt", v.id);
    b |= bind_id(st, 3, tenant, "tnt", v.tenant);
    b |= bind_text(st, 4, rental_state_name(v.state));
    b |= bind_text(st, 5, v.end_reason != END_NONE ? end_reason_name(v.end_reason) : NULL);
    b |= sqlite3_bind_int64(st, 6, v.exit_code);
    b |= bind_text(st, 7, v.gpu_model);
    b |= sqlite3_bind_int64(st, 8, v.gpu_count);
    b |= bind_text(st, 9, term_name(v.term));
    b |= sqlite3_bind_int64(st, 10, v.hourly_price);
    b |= sqlite3_bind_int64(st, 11, v.list_hourly);
    b |= sqlite3_bind_int64(st, 12, v.max_hourly);
    b |= bind_id(st, 13, host, "hst", v.host);
    b |= sqlite3_bind_int64(st, 14, v.gpu_mask);
    b |= sqlite3_bind_int64(st, 15, v.epoch);
    b |= sqlite3_bind_int(st, 16, v.auto_renew);
    b |= sqlite3_bind_int(st, 17, v.has_workload);
    b |= sqlite3_bind_int64(st, 18, v.created_at);
    b |= bind_opt(st, 19, v.placed_at);
    b |= bind_opt(st, 20, v.started_at);
    b |= bind_opt(st, 21, v.ends_at);
    b |= bind_opt(st, 22, v.ended_at);
    b |= bind_opt(st, 23, v.preempt_at);
    b |= sqlite3_bind_int64(st, 24, v.cost);
    b |= sqlite3_bind_int64(st, 25, v.discount);
    b |= sqlite3_bind_int64(st, 26, v.amount_off_used);
    b |= sqlite3_bind_int64(st, 27, v.billed_us);
    b |= sqlite3_bind_int64(st, 28, t->last_at);
    b |= sqlite3_bind_int(st, 29, v.requeue);
    b |= bind_id(st, 30, from, "rnt", v.requeued_from);
    b |= bind_id(st, 31, as, "rnt", v.requeued_as);
    return run(s, st, b, "put rental", err, cap);
}

#define MONTH_TEXT_MAX 48 /* "YYYY-MM" of any month index, with room for snprintf's worst case */

/* A month index as "YYYY-MM" (buf of MONTH_TEXT_MAX), or "" for 0. */
static const char *month_text(char *buf, int64_t month)
{
    if (month == 0)
        buf[0] = '\0';
    else
        snprintf(buf, MONTH_TEXT_MAX, "%04lld-%02lld", (long long)(month / 12),
                 (long long)(month % 12 + 1));
    return buf;
}

/* A transfer already stored under tr->seq: it must be the same transfer. */
static int check_transfer(struct store *s, const struct transfer *tr, char *err, size_t cap)
{
    char month[MONTH_TEXT_MAX];
    const char *corrects;
    sqlite3_stmt *st = s->st[ST_TRANSFER_GET];
    const char *kind;
    bool same;
    int rc;

    sqlite3_bind_int64(st, 1, (sqlite3_int64)tr->seq);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        db_fail(s->db, "check transfer", err, cap);
        sqlite3_reset(st);
        return ERR_IO;
    }
    kind = (const char *)sqlite3_column_text(st, 4);
    same = sqlite3_column_int64(st, 0) == tr->at && sqlite3_column_int64(st, 1) == tr->from &&
           sqlite3_column_int64(st, 2) == tr->to && sqlite3_column_int64(st, 3) == tr->amount &&
           kind != NULL && strcmp(kind, transfer_kind_name(tr->kind)) == 0 &&
           (uint64_t)sqlite3_column_int64(st, 5) == tr->rental &&
           (corrects = (const char *)sqlite3_column_text(st, 6)) != NULL &&
           strcmp(corrects, month_text(month, tr->corrects)) == 0;
    sqlite3_reset(st);
    if (!same) {
        set_err(err, cap,
                "sqlite: transfer %llu differs from the stored one: the engine's replay "
                "diverged from history",
                (unsigned long long)tr->seq);
        return ERR_CONFLICT;
    }
    return 0;
}

static int put_transfer(struct store *s, const struct transfer *tr, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_TRANSFER];
    char month[MONTH_TEXT_MAX];
    int b, rc;

    b = sqlite3_bind_int64(st, 1, (sqlite3_int64)tr->seq);
    b |= sqlite3_bind_int64(st, 2, tr->at);
    b |= sqlite3_bind_int64(st, 3, tr->from);
    b |= sqlite3_bind_int64(st, 4, tr->to);
    b |= sqlite3_bind_int64(st, 5, tr->amount);
    b |= bind_text(st, 6, transfer_kind_name(tr->kind));
    b |= bind_opt(st, 7, (int64_t)tr->rental);
    b |= bind_text(st, 8, tr->corrects != 0 ? month_text(month, tr->corrects) : NULL);
    rc = run(s, st, b, "put transfer", err, cap);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = check_transfer(s, tr, err, cap);
    return rc;
}

static int put_rental_event(struct store *s, const struct event *ev, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_RENTAL_EVENT];
    const struct ev_rental *r = &ev->u.rental;
    char host[ID_STR_MAX];
    const char *name = ev->type == EV_RENTAL_CREATED ? "created"
                       : ev->type == EV_RENTAL_STATE ? "state"
                                                     : "preempt_notice";
    int b;

    b = sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->id);
    b |= sqlite3_bind_int64(st, 2, ev->at);
    b |= bind_text(st, 3, name);
    b |= bind_text(st, 4, rental_state_name(r->from));
    b |= bind_text(st, 5, rental_state_name(r->to));
    b |= bind_text(st, 6, r->reason != END_NONE ? end_reason_name(r->reason) : NULL);
    b |= bind_id(st, 7, host, "hst", r->host);
    b |= bind_opt(st, 8, ev->type == EV_PREEMPT_NOTICE ? r->until : 0);
    return run(s, st, b, "put rental event", err, cap);
}

static int put_alert(struct store *s, const struct event *ev, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_ALERT];
    int b;

    b = sqlite3_bind_int64(st, 1, ev->at);
    b |= bind_text(
        st, 2, ev->u.alert.kind == ALERT_MASS_SILENCE ? "mass_silence" : "mass_silence_cleared");
    b |= sqlite3_bind_int64(st, 3, ev->u.alert.hosts_down);
    b |= sqlite3_bind_int64(st, 4, ev->u.alert.hosts_total);
    return run(s, st, b, "put alert", err, cap);
}

/* Note what each event touches; the views are read once per object afterwards. */
static int collect(struct store *s, const struct event *ev, size_t n)
{
    struct touch_list *t = s->touched;
    int rc = 0;

    for (int k = 0; k < TOUCH_KINDS; k++)
        t[k].count = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        switch (ev[i].type) {
        case EV_TENANT_CREATED:
        case EV_TENANT_UPDATED:
            rc = touch(&t[TOUCH_TENANT], ev[i].id, ev[i].at, false);
            break;
        case EV_TRANSFER:
            if (ev[i].u.transfer.rental != 0)
                rc = touch(&t[TOUCH_RENTAL], ev[i].u.transfer.rental, ev[i].at, false);
            break;
        case EV_PRICE_SET:
            rc = touch(&t[TOUCH_MODEL], ev[i].id, ev[i].at, false);
            break;
        case EV_HOST_REGISTERED:
        case EV_HOST_STATE:
        case EV_HOST_COST:
            rc = touch(&t[TOUCH_HOST], ev[i].id, ev[i].at, ev[i].type == EV_HOST_REGISTERED);
            break;
        case EV_RENTAL_CREATED:
        case EV_RENTAL_STATE:
        case EV_PREEMPT_NOTICE:
            rc = touch(&t[TOUCH_RENTAL], ev[i].id, ev[i].at, false);
            break;
        case EV_COUPON_CREATED: /* the command log has coupons; the engine has no view */
        case EV_ALERT:
            break;
        }
    }
    for (int k = 0; k < TOUCH_KINDS; k++)
        touch_merge(&t[k]);
    return rc;
}

int store_put_events(struct store *s, const struct engine *e, const struct event *ev, size_t n,
                     char *err, size_t cap)
{
    struct touch_list *t = s->touched;
    int rc;

    if (collect(s, ev, n) < 0) {
        set_err(err, cap, "sqlite: put events: out of memory");
        return ERR_NOMEM;
    }
    /* parents first: rows that others reference (tenants and their accounts, hosts, rentals) */
    rc = 0;
    for (size_t i = 0; rc == 0 && i < t[TOUCH_TENANT].count; i++)
        rc = put_tenant(s, e, &t[TOUCH_TENANT].items[i], err, cap);
    for (size_t i = 0; rc == 0 && i < t[TOUCH_MODEL].count; i++)
        rc = put_model(s, e, (uint32_t)t[TOUCH_MODEL].items[i].id, t[TOUCH_MODEL].items[i].last_at,
                       err, cap);
    for (size_t i = 0; rc == 0 && i < t[TOUCH_HOST].count; i++)
        rc = put_host(s, e, &t[TOUCH_HOST].items[i], err, cap);
    for (size_t i = 0; rc == 0 && i < t[TOUCH_RENTAL].count; i++)
        rc = put_rental(s, e, &t[TOUCH_RENTAL].items[i], err, cap);
    /* then the history, in event order */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        switch (ev[i].type) {
        case EV_TRANSFER:
            rc = put_transfer(s, &ev[i].u.transfer, err, cap);
            break;
        case EV_RENTAL_CREATED:
        case EV_RENTAL_STATE:
        case EV_PREEMPT_NOTICE:
            rc = put_rental_event(s, &ev[i], err, cap);
            break;
        case EV_ALERT:
            rc = put_alert(s, &ev[i], err, cap);
            break;
        default:
            break;
        }
    }
    return rc;
}

/* ---- The server's records --------------------------------------------------------------- */

int store_put_key(struct store *s, const struct key_record *k, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_KEY_PUT];
    char tenant[ID_STR_MAX], host[ID_STR_MAX];
    int b;

    if (strnlen(k->id, sizeof(k->id)) == sizeof(k->id) ||
        strnlen(k->prefix, sizeof(k->prefix)) == sizeof(k->prefix))
        return set_err(err, cap, "sqlite: put key: id or prefix not terminated");
    b = bind_text(st, 1, k->id);
    b |= bind_text(st, 2, k->prefix);
    b |= sqlite3_bind_blob(st, 3, k->hash, sizeof(k->hash), SQLITE_STATIC);
    b |= sqlite3_bind_int(st, 4, k->role);
    b |= bind_id(st, 5, tenant, "tnt", k->tenant);
    b |= bind_id(st, 6, host, "hst", k->host);
    b |= sqlite3_bind_int64(st, 7, k->created_at);
    b |= bind_opt(st, 8, k->revoked_at);
    b |= bind_opt(st, 9, k->last_used_at);
    return run(s, st, b, "put key", err, cap);
}

/* Copy a text column into buf (size cap): false when NULL or too long. */
static bool column_copy(sqlite3_stmt *st, int col, char *buf, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    size_t len = v ? strlen(v) : 0;

    if (v == NULL || len >= cap)
        return false;
    memcpy(buf, v, len + 1);
    return true;
}

/* A public-id column: 0 for NULL, else the number; false when malformed. */
static bool column_id(sqlite3_stmt *st, int col, const char *prefix, uint32_t *out)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    uint64_t n = 0;

    if (v != NULL && (id_parse(&n, prefix, v) < 0 || n > UINT32_MAX))
        return false;
    *out = (uint32_t)n;
    return true;
}

int store_load_keys(struct store *s, store_key_fn fn, void *ctx, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_KEY_LOAD];
    struct key_record k;
    int rc, ret = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&k, 0, sizeof(k));
        if (!column_copy(st, 0, k.id, sizeof(k.id)) ||
            !column_copy(st, 1, k.prefix, sizeof(k.prefix)) ||
            sqlite3_column_bytes(st, 2) != (int)sizeof(k.hash) ||
            !column_id(st, 4, "tnt", &k.tenant) || !column_id(st, 5, "hst", &k.host)) {
            ret = set_err(err, cap, "sqlite: load keys: malformed row for key \"%.31s\"",
                          (const char *)sqlite3_column_text(st, 0));
            break;
        }
        memcpy(k.hash, sqlite3_column_blob(st, 2), sizeof(k.hash));
        k.role = sqlite3_column_int(st, 3);
        k.created_at = sqlite3_column_int64(st, 6);
        k.revoked_at = sqlite3_column_int64(st, 7); /* NULL reads as 0: live */
        k.last_used_at = sqlite3_column_int64(st, 8);
        ret = fn(ctx, &k);
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s->db, "load keys", err, cap);
    sqlite3_reset(st);
    return ret;
}

int store_put_idempotent(struct store *s, const char *scope, const char *key,
                         const unsigned char body_hash[32], int status, const char *reply,
                         char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_IDEM_PUT];
    int b;

    b = bind_text(st, 1, scope);
    b |= bind_text(st, 2, key);
    b |= sqlite3_bind_blob(st, 3, body_hash, 32, SQLITE_STATIC);
    b |= sqlite3_bind_int(st, 4, status);
    b |= bind_text(st, 5, reply);
    return run(s, st, b, "put idempotency reply", err, cap);
}

int store_load_idempotent(struct store *s, store_idem_fn fn, void *ctx, char *err, size_t cap)
{
    sqlite3_stmt *st = s->st[ST_IDEM_LOAD];
    int rc, ret = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *scope = (const char *)sqlite3_column_text(st, 0);
        const char *key = (const char *)sqlite3_column_text(st, 1);
        const unsigned char *hash = sqlite3_column_blob(st, 2);
        if (scope == NULL || key == NULL || hash == NULL || sqlite3_column_bytes(st, 2) != 32) {
            ret = set_err(err, cap, "sqlite: load idempotency replies: malformed row");
            break;
        }
        ret = fn(ctx, scope, key, hash, sqlite3_column_int(st, 3),
                 (const char *)sqlite3_column_text(st, 4));
        if (ret != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(s->db, "load idempotency replies", err, cap);
    sqlite3_reset(st);
    return ret;
}

/* One meta value through st (a prepared "SELECT value FROM meta WHERE name = ?1" of db):
 * the store's and the reader's get. */
static int meta_get(sqlite3 *db, sqlite3_stmt *st, const char *name, char *value, size_t cap,
                    char *err, size_t errcap)
{
    int rc, ret = 0;

    if (bind_text(st, 1, name) != SQLITE_OK)
        return db_fail(db, "get meta", err, errcap);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (!column_copy(st, 0, value, cap)) {
            set_err(err, errcap, "sqlite: get meta \"%s\": value longer than %zu bytes", name,
                    cap > 0 ? cap - 1 : 0);
            ret = ERR_INVALID;
        }
    } else if (rc == SQLITE_DONE) {
        set_err(err, errcap, "sqlite: get meta \"%s\": not set", name);
        ret = ERR_NOTFOUND;
    } else {
        ret = db_fail(db, "get meta", err, errcap);
    }
    sqlite3_reset(st);
    return ret;
}

int store_meta_get(struct store *s, const char *name, char *value, size_t cap, char *err,
                   size_t errcap)
{
    return meta_get(s->db, s->st[ST_META_GET], name, value, cap, err, errcap);
}

int store_meta_put(struct store *s, const char *name, const char *value, char *err, size_t errcap)
{
    sqlite3_stmt *st = s->st[ST_META_PUT];
    int b;

    b = bind_text(st, 1, name);
    b |= bind_text(st, 2, value);
    return run(s, st, b, "put meta", err, errcap);
}

int store_put_adjustment(struct store *s, uint64_t seq, const char *reason, char *err,
                         size_t errcap)
{
    sqlite3_stmt *st = s->st[ST_ADJUSTMENT_PUT];
    int b;

    b = sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    b |= bind_text(st, 2, reason);
    return run(s, st, b, "put adjustment", err, errcap);
}

/* ---- The reporting reader --------------------------------------------------------------- */

enum reader_stmt { RS_BEGIN, RS_COMMIT, RS_ROLLBACK, RS_LINES, RS_CREDITS, RS_META, RS_COUNT };

/* Platform accounts (engine/ledger.h), as the SQL below names them. */
#define SQL_REVENUE  "1"
#define SQL_DEFERRED "4"
_Static_assert(ACCT_REVENUE == 1 && ACCT_DEFERRED == 4, "the usage SQL names these accounts");

/*
 * The usage lines of the tenant owning wallet ?1 over [?2, ?3): the tenant's rentals that
 * may have transfers in the period (created before its end, touched since its start:
 * rentals.updated_at is at least the time of the rental's latest transfer), their transfers
 * in the period grouped into lines by the rule of store.h, and for package lines the list
 * price of one purchase (the transfers into deferred at the rental's first purchase: a
 * renewal costs the same) to turn money into time. Adjustment lines: one per operator
 * adjustment (with its reason; those not about a rental come from the wallet's transfers),
 * and one per rental and closed month for usage billed after that month closed.
 */
#define USAGE_LINE_OF(t)                                                                           \
    "CASE WHEN " t ".kind = 'adjustment' OR " t ".corrects IS NOT NULL THEN 'adjustment'"          \
    "     WHEN " t ".kind = 'charge'"                                                              \
    "       OR (" t ".kind = 'discount' AND " t ".to_account = " SQL_REVENUE ")"                   \
    "       OR (" t ".kind = 'discount_reversal' AND " t ".from_account = " SQL_REVENUE ")"        \
    "     THEN 'charge'"                                                                           \
    "     WHEN " t ".kind = 'package'"                                                             \
    "       OR (" t ".kind = 'discount' AND " t ".to_account = " SQL_DEFERRED ")"                  \
    "     THEN 'package'"                                                                          \
    "     WHEN " t ".kind = 'refund'"                                                              \
    "       OR (" t ".kind = 'discount_reversal' AND " t ".from_account = " SQL_DEFERRED ")"       \
    "     THEN 'refund' END"
#define USAGE_SUMS                                                                                 \
    " SUM(CASE WHEN t.from_account = ?1 THEN t.amount"                                             \
    "          WHEN t.to_account = ?1 THEN -t.amount ELSE 0 END) AS amount,"                       \
    " SUM(CASE t.kind WHEN 'discount' THEN t.amount"                                               \
    "                 WHEN 'discount_reversal' THEN -t.amount ELSE 0 END) AS discount,"            \
    " MIN(t.seq) AS first_seq, MAX(t.kind <> 'adjustment') AS is_usage,"                           \
    " t.corrects AS corrects, CASE WHEN t.kind = 'adjustment' THEN t.seq END AS adj_seq"

static const char usage_lines_sql[] =
    "SELECT g.rental_num, r.id, g.line, r.gpu_model, r.gpu_count, r.term, r.list_hourly,"
    "       g.amount, g.discount,"
    "       CASE WHEN g.line IN ('package', 'refund') THEN"
    "         (SELECT SUM(p.amount) FROM transfers p"
    "          WHERE p.rental_num = g.rental_num AND p.to_account = " SQL_DEFERRED
    "          AND p.at = (SELECT MIN(q.at) FROM transfers q"
    "                      WHERE q.rental_num = g.rental_num AND q.to_account = " SQL_DEFERRED "))"
    "       ELSE 0 END,"
    "       g.corrects, a.reason, g.is_usage"
    " FROM (SELECT t.rental_num, " USAGE_LINE_OF(
        "t") " AS line," USAGE_SUMS "       FROM rentals x JOIN transfers t ON t.rental_num = x.num"
             "       WHERE x.tenant_id = (SELECT tenant_id FROM accounts WHERE account = ?1)"
             "         AND x.created_at < ?3 AND x.updated_at >= ?2"
             "         AND t.at >= ?2 AND t.at < ?3 AND t.kind <> 'recognize'"
             "       GROUP BY t.rental_num, line, t.corrects, adj_seq"
             "       UNION ALL"
             "       SELECT NULL, 'adjustment' AS line," USAGE_SUMS "       FROM transfers t"
             "       WHERE (t.from_account = ?1 OR t.to_account = ?1) AND t.rental_num IS NULL"
             "         AND t.kind = 'adjustment' AND t.at >= ?2 AND t.at < ?3"
             "       GROUP BY t.seq) g"
             " LEFT JOIN rentals r ON r.num = g.rental_num"
             " LEFT JOIN adjustments a ON a.seq = g.adj_seq"
             " ORDER BY g.rental_num IS NULL, g.rental_num, g.first_seq";

static const char *const reader_sql[RS_COUNT] = {
    [RS_BEGIN] = "BEGIN",
    [RS_COMMIT] = "COMMIT",
    [RS_ROLLBACK] = "ROLLBACK",
    [RS_LINES] = usage_lines_sql,
    /* into the wallet and not about a rental: top-ups (adjustments are lines) */
    [RS_CREDITS] = "SELECT seq, at, kind, amount FROM transfers"
                   " WHERE to_account = ?1 AND rental_num IS NULL AND kind = 'topup'"
                   " AND at >= ?2 AND at < ?3 ORDER BY seq",
    [RS_META] = "SELECT value FROM meta WHERE name = ?1",
};

struct store_reader {
    sqlite3 *db;
    sqlite3_stmt *st[RS_COUNT];
    pthread_mutex_t lock; /* one call at a time: the connection and its statements */
};

int store_open_reader(struct store_reader **out, const char *path, char *err, size_t cap)
{
    struct store_reader *r = NULL;
    char what[64];
    int rc = 0;

    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return set_err(err, cap, "sqlite: open %s for reading: out of memory", path);
    pthread_mutex_init(&r->lock, NULL);
    /* NOMUTEX: the reader's own mutex serialises its use */
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = set_err(err, cap, "sqlite: open %s for reading: %s", path,
                     r->db ? sqlite3_errmsg(r->db) : "out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, BUSY_TIMEOUT_MS);
    for (int i = 0; rc == 0 && i < RS_COUNT; i++) {
        if (sqlite3_prepare_v3(r->db, reader_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(what, sizeof(what), "prepare reader statement %d", i);
            rc = db_fail(r->db, what, err, cap);
        }
    }
out:
    if (rc < 0) {
        store_close_reader(r);
        return rc;
    }
    *out = r;
    return 0;
}

void store_close_reader(struct store_reader *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < RS_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    sqlite3_close(r->db);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* round(|a| * num / den) with a's sign, in 128-bit, saturating; 0 when den <= 0. */
static int64_t scale_round(int64_t a, int64_t num, int64_t den)
{
    __int128 m = (__int128)(a < 0 ? -a : a) * num;
    __int128 q;

    if (den <= 0)
        return 0;
    q = (m + den / 2) / den;
    if (q > INT64_MAX)
        q = INT64_MAX;
    return a < 0 ? -(int64_t)q : (int64_t)q;
}

static int64_t term_seconds(const char *term)
{
    if (strcmp(term, "day") == 0)
        return 86400;
    if (strcmp(term, "week") == 0)
        return 7 * 86400;
    if (strcmp(term, "month") == 0)
        return 30 * 86400;
    return 0;
}

/* The kinds of line, as the SQL names them: the static names the callback sees. */
static const char *line_kind(const char *sql_name)
{
    static const char *const kinds[] = {"charge", "package", "refund", "adjustment"};

    for (size_t i = 0; sql_name != NULL && i < ARRAY_SIZE(kinds); i++) {
        if (strcmp(sql_name, kinds[i]) == 0)
            return kinds[i];
    }
    return NULL;
}

static int read_lines(struct store_reader *r, store_usage_line_fn fn, void *ctx, char *err,
                      size_t cap)
{
    sqlite3_stmt *st = r->st[RS_LINES];
    struct usage_line l;
    int rc, ret = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool adjustment;
        memset(&l, 0, sizeof(l));
        l.rental = (uint64_t)sqlite3_column_int64(st, 0);
        l.rental_id = (const char *)sqlite3_column_text(st, 1);
        l.kind = line_kind((const char *)sqlite3_column_text(st, 2));
        l.gpu_model = (const char *)sqlite3_column_text(st, 3);
        l.gpu_count = (uint32_t)sqlite3_column_int64(st, 4);
        l.term = (const char *)sqlite3_column_text(st, 5);
        l.corrects = (const char *)sqlite3_column_text(st, 10);
        l.reason = (const char *)sqlite3_column_text(st, 11);
        adjustment = l.kind != NULL && strcmp(l.kind, "adjustment") == 0;
        if (l.kind == NULL ||
            (l.rental != 0 && (l.rental_id == NULL || l.gpu_model == NULL || l.term == NULL)) ||
            (l.rental == 0 && !adjustment)) {
            /* a transfer kind or account pair the rule does not know: the engine changed */
            ret = set_err(err, cap, "sqlite: usage: rental %llu has a transfer of no known line",
                          (unsigned long long)l.rental);
            break;
        }
        l.amount = sqlite3_column_int64(st, 7);
        l.discount = sqlite3_column_int64(st, 8);
        l.list_amount = l.amount + l.discount;
        if (strcmp(l.kind, "charge") == 0 || (adjustment && sqlite3_column_int64(st, 12) != 0))
            l.seconds = scale_round(l.list_amount, 3600,
                                    sqlite3_column_int64(st, 6) * (int64_t)l.gpu_count);
        else if (!adjustment)
            l.seconds =
                scale_round(l.list_amount, term_seconds(l.term), sqlite3_column_int64(st, 9));
        if (fn != NULL && (ret = fn(ctx, &l)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(r->db, "usage lines", err, cap);
    sqlite3_reset(st);
    return ret;
}

static int read_credits(struct store_reader *r, store_usage_credit_fn fn, void *ctx, char *err,
                        size_t cap)
{
    sqlite3_stmt *st = r->st[RS_CREDITS];
    struct usage_credit c;
    int rc, ret = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        c.seq = (uint64_t)sqlite3_column_int64(st, 0);
        c.at = sqlite3_column_int64(st, 1);
        c.kind = (const char *)sqlite3_column_text(st, 2);
        c.amount = sqlite3_column_int64(st, 3);
        if (c.kind == NULL) {
            rc = SQLITE_NOMEM; /* the column is NOT NULL: only a failed conversion */
            break;
        }
        if (fn != NULL && (ret = fn(ctx, &c)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = db_fail(r->db, "usage credits", err, cap);
    sqlite3_reset(st);
    return ret;
}

static int bind_period(sqlite3_stmt *st, uint32_t wallet, int64_t from, int64_t to)
{
    int b = sqlite3_bind_int64(st, 1, wallet);

    b |= sqlite3_bind_int64(st, 2, from);
    b |= sqlite3_bind_int64(st, 3, to);
    return b;
}

int store_usage(struct store_reader *r, uint32_t wallet, int64_t from, int64_t to,
                store_usage_line_fn line, store_usage_credit_fn credit, void *ctx, char *err,
                size_t cap)
{
    int ret;

    if (from >= to) {
        set_err(err, cap, "sqlite: usage: the period is empty");
        return ERR_INVALID;
    }
    pthread_mutex_lock(&r->lock);
    /* one read transaction: lines and credits from the same snapshot */
    ret =
        sqlite3_step(r->st[RS_BEGIN]) == SQLITE_DONE ? 0 : db_fail(r->db, "usage: begin", err, cap);
    sqlite3_reset(r->st[RS_BEGIN]);
    if (ret == 0 && (bind_period(r->st[RS_LINES], wallet, from, to) != SQLITE_OK ||
                     bind_period(r->st[RS_CREDITS], wallet, from, to) != SQLITE_OK))
        ret = db_fail(r->db, "usage: bind", err, cap);
    if (ret == 0)
        ret = read_lines(r, line, ctx, err, cap);
    if (ret == 0)
        ret = read_credits(r, credit, ctx, err, cap);
    if (!sqlite3_get_autocommit(r->db)) {
        sqlite3_stmt *end = r->st[ret == 0 ? RS_COMMIT : RS_ROLLBACK];
        if (sqlite3_step(end) != SQLITE_DONE && ret == 0)
            ret = db_fail(r->db, "usage: end", err, cap);
        sqlite3_reset(end);
    }
    pthread_mutex_unlock(&r->lock);
    return ret;
}

int store_reader_meta_get(struct store_reader *r, const char *name, char *value, size_t cap,
                          char *err, size_t errcap)
{
    int ret;

    pthread_mutex_lock(&r->lock);
    ret = meta_get(r->db, r->st[RS_META], name, value, cap, err, errcap);
    pthread_mutex_unlock(&r->lock);
    return ret;
}
