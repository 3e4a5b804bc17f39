/*
 * test_store.c - the SQLite store: migrations, the command log and its replay, transactions,
 * the server's records, idempotent event tables, and the property recovery rests on:
 *
 *   replay equivalence: an engine driven through a scripted scenario (tenants, credits,
 *   prices, coupons and a promotion, hosts with a cost basis, rentals of every term, agent
 *   reports with a restart, exits and a failure, stops by tenant and operator, a drain, a host
 *   down and back, a host lost, a spot preemption, a queue, packages renewing, two days
 *   passing), with every command logged through cmdjson and every event written to the
 *   tables, is rebuilt exactly by replaying the log into a fresh engine: the same events,
 *   views, balances, economics and future behaviour; and the tables agree with it.
 *
 * Each test works in its own temporary directory (mkdtemp under $TMPDIR), removed after
 * (GPURENT_TEST_KEEP=1 keeps them and prints where: the scenario's database is a good one to
 * try the queries of docs/schema.md on). The test reads the database with its own sqlite3
 * connection, as a person would.
 */
#include "common/compat.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/err.h"
#include "common/ids.h"
#include "engine/economics.h"
#include "engine/engine.h"
#include "engine/ledger.h"
#include "engine/money.h"
#include "server/cmdjson.h"
#include "store/migrations.h"
#include "store/store.h"

#define SEC  USEC_PER_SEC
#define MIN  (60 * SEC)
#define HOUR (3600 * SEC)
#define T0   (INT64_C(1795132800) * SEC) /* 2026-11-20T00:00:00Z */

#define ERR_CAP 512

static int64_t M(const char *s)
{
    int64_t v = 0;
    assert_int_equal(money_parse(&v, s), 0);
    return v;
}

/* ---- A temporary directory per test ------------------------------------------------------ */

struct tmp {
    char dir[256];
    char db[300];
};

static void tmp_make(struct tmp *t)
{
    const char *base = getenv("TMPDIR");

    snprintf(t->dir, sizeof(t->dir), "%s/gpurent-test-store.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->db, sizeof(t->db), "%s/gpurent.db", t->dir);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tmp_remove(struct tmp *t)
{
    if (getenv("GPURENT_TEST_KEEP") != NULL) {
        fprintf(stderr, "kept %s\n", t->db);
        return;
    }
    assert_int_equal(nftw(t->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static struct store *open_store(const struct tmp *t)
{
    struct store *s = NULL;
    char err[ERR_CAP] = "";

    if (store_open_sqlite(&s, t->db, err, sizeof(err)) != 0)
        fail_msg("store_open_sqlite: %s", err);
    return s;
}

/* ---- Reading the database as a person would ------------------------------------------------ */

static sqlite3 *peek_open(const struct tmp *t)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(t->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

/* The first column of the first row of sql (one optional int64 parameter), as int64. */
static int64_t peek_i64(sqlite3 *db, const char *sql, int64_t arg)
{
    sqlite3_stmt *st = NULL;
    int64_t v;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("%s: no row", sql);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The same with one text parameter. */
static int64_t peek_i64_text(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    int64_t v;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("%s: no row", sql);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int64_t count_rows(sqlite3 *db, const char *table)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    return peek_i64(db, sql, 0);
}

/* Counts of every table written from events, to compare before and after a repeat. */
static const char *const event_tables[] = {"tenants", "accounts", "transfers",     "hosts", "gpus",
                                           "models",  "rentals",  "rental_events", "alerts"};

static void count_event_tables(const struct tmp *t, int64_t *out)
{
    sqlite3 *db = peek_open(t);

    for (size_t i = 0; i < ARRAY_SIZE(event_tables); i++)
        out[i] = count_rows(db, event_tables[i]);
    sqlite3_close(db);
}

/* ---- Migrations, open and close ------------------------------------------------------------ */

static void test_open_applies_migrations(void **state)
{
    struct tmp t;
    struct store *s;
    sqlite3 *db, *rw;
    char err[ERR_CAP] = "";
    char sql[128];
    (void)state;

    tmp_make(&t);
    s = open_store(&t);
    db = peek_open(&t);
    assert_int_equal(peek_i64(db, "SELECT MAX(version) FROM schema_version", 0),
                     (int64_t)migration_count);
    assert_int_equal(count_rows(db, "schema_version"), (int64_t)migration_count);
    assert_int_equal(peek_i64(db,
                              "SELECT COUNT(*) FROM pragma_journal_mode WHERE journal_mode"
                              " = 'wal'",
                              0),
                     1);
    /* the platform accounts are seeded with the ledger's numbers */
    assert_int_equal(count_rows(db, "accounts"), ACCT_FIRST_WALLET);
    assert_int_equal(peek_i64(db, "SELECT account FROM accounts WHERE kind = 'external'", 0),
                     ACCT_EXTERNAL);
    assert_int_equal(peek_i64(db, "SELECT account FROM accounts WHERE kind = 'revenue'", 0),
                     ACCT_REVENUE);
    assert_int_equal(peek_i64(db, "SELECT account FROM accounts WHERE kind = 'discounts'", 0),
                     ACCT_DISCOUNTS);
    assert_int_equal(peek_i64(db, "SELECT account FROM accounts WHERE kind = 'refunds'", 0),
                     ACCT_REFUNDS);
    assert_int_equal(peek_i64(db, "SELECT account FROM accounts WHERE kind = 'deferred'", 0),
                     ACCT_DEFERRED);
    sqlite3_close(db);
    store_close(s);

    /* reopening applies nothing again */
    s = open_store(&t);
    store_close(s);
    db = peek_open(&t);
    assert_int_equal(count_rows(db, "schema_version"), (int64_t)migration_count);
    assert_int_equal(count_rows(db, "accounts"), ACCT_FIRST_WALLET);
    sqlite3_close(db);

    /* a database from a newer gpurent is refused */
    assert_int_equal(sqlite3_open(t.db, &rw), SQLITE_OK);
    snprintf(sql, sizeof(sql), "INSERT INTO schema_version (version, name) VALUES (%zu, 'x')",
             migration_count + 1);
    assert_int_equal(sqlite3_exec(rw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(rw);
    s = NULL;
    assert_int_equal(store_open_sqlite(&s, t.db, err, sizeof(err)), ERR_IO);
    assert_null(s);
    snprintf(sql, sizeof(sql),
             "sqlite: schema version %zu is newer than this gpurent's %zu: upgrade gpurent",
             migration_count + 1, migration_count);
    assert_string_equal(err, sql);
    tmp_remove(&t);
}

static void test_open_errors(void **state)
{
    struct tmp t;
    struct store *s = NULL;
    char err[ERR_CAP] = "";
    char path[400];
    FILE *f;
    (void)state;

    tmp_make(&t);
    /* the caller creates the directory: the store does not */
    snprintf(path, sizeof(path), "%s/missing/gpurent.db", t.dir);
    assert_int_equal(store_open_sqlite(&s, path, err, sizeof(err)), ERR_IO);
    assert_null(s);
    {
        char want[600];
        snprintf(want, sizeof(want), "sqlite: open %s: unable to open database file", path);
        assert_string_equal(err, want);
    }

    /* not a database */
    f = fopen(t.db, "w");
    assert_non_null(f);
    fputs("this is not a database, but it is long enough to have a header of one hundred bytes: "
          "..................................................",
          f);
    fclose(f);
    assert_int_equal(store_open_sqlite(&s, t.db, err, sizeof(err)), ERR_IO);
    assert_string_equal(err, "sqlite: PRAGMA journal_mode = WAL: file is not a database");
    tmp_remove(&t);
}

/* ---- The command log ------------------------------------------------------------------------ */

struct logged {
    int64_t seq, at;
    char body[128];
};

struct collected {
    struct logged rows[16];
    int count;
    int stop_at; /* return 7 from this row (1-based); 0 = never */
};

static int collect_row(void *ctx, int64_t seq, int64_t at, const char *json)
{
    struct collected *c = ctx;

    assert_true(c->count < 16);
    c->rows[c->count].seq = seq;
    c->rows[c->count].at = at;
    snprintf(c->rows[c->count].body, sizeof(c->rows[c->count].body), "%s", json);
    c->count++;
    return c->count == c->stop_at ? 7 : 0;
}

static void test_log_and_replay(void **state)
{
    static const char *const bodies[5] = {
        "{\"type\":\"tenant_create\",\"name\":\"a\",\"credit_limit\":\"0.00\"}",
        "{\"type\":\"tenant_create\",\"name\":\"b\",\"credit_limit\":\"0.00\"}",
        "{\"type\":\"credit\",\"tenant\":1,\"amount\":\"5.00\"}",
        "{\"type\":\"host_drain\",\"host\":1}",
        "{\"type\":\"rental_stop\",\"tenant\":0,\"rental\":9,\"admin\":true}",
    };
    struct tmp t;
    struct store *s;
    struct collected c;
    char err[ERR_CAP] = "";
    (void)state;

    tmp_make(&t);
    s = open_store(&t);
    /* an empty log replays nothing */
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_replay(s, collect_row, &c, err, sizeof(err)), 0);
    assert_int_equal(c.count, 0);
    /* two batches */
    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_log_command(s, T0 + i, bodies[i], err, sizeof(err)), 0);
    assert_int_equal(store_commit(s, err, sizeof(err)), 0);
    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    for (int i = 3; i < 5; i++)
        assert_int_equal(store_log_command(s, T0 + 1000 * i, bodies[i], err, sizeof(err)), 0);
    assert_int_equal(store_commit(s, err, sizeof(err)), 0);
    store_close(s);

    s = open_store(&t);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_replay(s, collect_row, &c, err, sizeof(err)), 0);
    assert_int_equal(c.count, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(c.rows[i].seq, i + 1);
        assert_int_equal(c.rows[i].at, i < 3 ? T0 + i : T0 + 1000 * i);
        assert_string_equal(c.rows[i].body, bodies[i]);
    }
    /* the callback stops the replay with its own code; the next replay starts over */
    memset(&c, 0, sizeof(c));
    c.stop_at = 2;
    assert_int_equal(store_replay(s, collect_row, &c, err, sizeof(err)), 7);
    assert_int_equal(c.count, 2);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_replay(s, collect_row, &c, err, sizeof(err)), 0);
    assert_int_equal(c.count, 5);
    store_close(s);
    tmp_remove(&t);
}

static void test_rollback_leaves_nothing(void **state)
{
    struct tmp t;
    struct store *s;
    struct collected c;
    char err[ERR_CAP] = "";
    char value[64];
    (void)state;

    tmp_make(&t);
    s = open_store(&t);
    store_rollback(s); /* no transaction open: nothing happens */
    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    assert_int_equal(
        store_log_command(s, T0, "{\"type\":\"host_drain\",\"host\":1}", err, sizeof(err)), 0);
    assert_int_equal(store_meta_put(s, "currency", "CNY", err, sizeof(err)), 0);
    /* a transaction cannot nest */
    assert_int_equal(store_begin(s, err, sizeof(err)), ERR_IO);
    assert_string_equal(err, "sqlite: begin: cannot start a transaction within a transaction");
    store_rollback(s);
    store_close(s);

    s = open_store(&t);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_replay(s, collect_row, &c, err, sizeof(err)), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(store_meta_get(s, "currency", value, sizeof(value), err, sizeof(err)),
                     ERR_NOTFOUND);
    assert_string_equal(err, "sqlite: get meta \"currency\": not set");
    /* a commit without a transaction is an error */
    assert_int_equal(store_commit(s, err, sizeof(err)), ERR_IO);
    assert_string_equal(err, "sqlite: commit: cannot commit - no transaction is active");
    /* after a rollback the log goes on from where the durable log ended */
    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    assert_int_equal(
        store_log_command(s, T0 + 5, "{\"type\":\"host_drain\",\"host\":2}", err, sizeof(err)), 0);
    assert_int_equal(store_commit(s, err, sizeof(err)), 0);
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_replay(s, collect_row, &c, err, sizeof(err)), 0);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.rows[0].seq, 1);
    assert_string_equal(c.rows[0].body, "{\"type\":\"host_drain\",\"host\":2}");
    store_close(s);
    tmp_remove(&t);
}

/* ---- The server's records ------------------------------------------------------------------- */

struct keys_seen {
    struct key_record keys[4];
    int count;
};

static int collect_key(void *ctx, const struct key_record *k)
{
    struct keys_seen *ks = ctx;

    assert_true(ks->count < 4);
    ks->keys[ks->count++] = *k;
    return 0;
}

static void assert_key_equal(const struct key_record *a, const struct key_record *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->prefix, b->prefix);
    assert_memory_equal(a->hash, b->hash, sizeof(a->hash));
    assert_int_equal(a->role, b->role);
    assert_int_equal(a->tenant, b->tenant);
    assert_int_equal(a->host, b->host);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->revoked_at, b->revoked_at);
}

static void test_keys(void **state)
{
    struct tmp t;
    struct store *s;
    struct key_record admin, tenant, agent;
    struct keys_seen ks;
    sqlite3 *db;
    char err[ERR_CAP] = "";
    char id[ID_STR_MAX];
    (void)state;

    memset(&admin, 0, sizeof(admin));
    snprintf(admin.id, sizeof(admin.id), "key_admin0000001");
    snprintf(admin.prefix, sizeof(admin.prefix), "gpr_AbCd");
    for (int i = 0; i < 32; i++)
        admin.hash[i] = (unsigned char)(i * 7 + 1);
    admin.role = 1;
    admin.created_at = T0;
    tenant = admin;
    snprintf(tenant.id, sizeof(tenant.id), "key_tenant000002");
    tenant.hash[0] = 0;
    tenant.hash[31] = 0xff;
    tenant.role = 2;
    tenant.tenant = 5;
    tenant.created_at = T0 + SEC;
    agent = admin;
    snprintf(agent.id, sizeof(agent.id), "key_agent0000003");
    agent.role = 4;
    agent.host = 4000000000u;
    agent.created_at = T0 + 2 * SEC;

    tmp_make(&t);
    s = open_store(&t);
    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    assert_int_equal(store_put_key(s, &agent, err, sizeof(err)), 0);
    assert_int_equal(store_put_key(s, &admin, err, sizeof(err)), 0);
    assert_int_equal(store_put_key(s, &tenant, err, sizeof(err)), 0);
    assert_int_equal(store_commit(s, err, sizeof(err)), 0);
    /* revoking rewrites the record (outside a transaction: it commits by itself) */
    tenant.revoked_at = T0 + HOUR;
    assert_int_equal(store_put_key(s, &tenant, err, sizeof(err)), 0);
    store_close(s);

    s = open_store(&t);
    memset(&ks, 0, sizeof(ks));
    assert_int_equal(store_load_keys(s, collect_key, &ks, err, sizeof(err)), 0);
    assert_int_equal(ks.count, 3);
    assert_key_equal(&ks.keys[0], &admin); /* in creation order */
    assert_key_equal(&ks.keys[1], &tenant);
    assert_key_equal(&ks.keys[2], &agent);
    store_close(s);

    /* a person sees public ids and NULL for "live" */
    db = peek_open(&t);
    assert_int_equal(count_rows(db, "api_keys"), 3);
    {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT tenant_id, host_id, revoked_at FROM api_keys"
                                            " WHERE id = 'key_tenant000002'",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), id_format(id, "tnt", 5));
        assert_int_equal(sqlite3_column_type(st, 1), SQLITE_NULL);
        assert_int_equal(sqlite3_column_int64(st, 2), T0 + HOUR);
        sqlite3_finalize(st);
    }
    assert_int_equal(peek_i64(db, "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL", 0), 2);
    sqlite3_close(db);
    tmp_remove(&t);
}

struct idem_seen {
    char scope[32], key[32], reply[64];
    unsigned char hash[32];
    int status;
    bool reply_null;
};

struct idems {
    struct idem_seen rows[4];
    int count;
};

static int collect_idem(void *ctx, const char *scope, const char *key,
                        const unsigned char body_hash[32], int status, const char *reply)
{
    struct idems *is = ctx;
    struct idem_seen *r = &is->rows[is->count++];

    snprintf(r->scope, sizeof(r->scope), "%s", scope);
    snprintf(r->key, sizeof(r->key), "%s", key);
    memcpy(r->hash, body_hash, 32);
    r->status = status;
    r->reply_null = reply == NULL;
    snprintf(r->reply, sizeof(r->reply), "%s", reply ? reply : "");
    return 0;
}

static void test_idempotency(void **state)
{
    struct tmp t;
    struct store *s;
    struct idems is;
    unsigned char h1[32], h2[32];
    char err[ERR_CAP] = "";
    int first;
    (void)state;

    memset(h1, 0xab, sizeof(h1));
    memset(h2, 0x01, sizeof(h2));
    tmp_make(&t);
    s = open_store(&t);
    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    assert_int_equal(store_put_idempotent(s, "tnt_a POST /v1/rentals", "k1", h1, 201,
                                          "{\"id\":\"rnt_1\"}", err, sizeof(err)),
                     0);
    /* the first reply stays */
    assert_int_equal(store_put_idempotent(s, "tnt_a POST /v1/rentals", "k1", h2, 409,
                                          "{\"other\":true}", err, sizeof(err)),
                     0);
    /* the same key in another scope is another entry; a reply may have no body */
    assert_int_equal(
        store_put_idempotent(s, "tnt_b POST /v1/rentals", "k1", h2, 204, NULL, err, sizeof(err)),
        0);
    assert_int_equal(store_commit(s, err, sizeof(err)), 0);
    store_close(s);

    s = open_store(&t);
    memset(&is, 0, sizeof(is));
    assert_int_equal(store_load_idempotent(s, collect_idem, &is, err, sizeof(err)), 0);
    assert_int_equal(is.count, 2);
    first = strcmp(is.rows[0].scope, "tnt_a POST /v1/rentals") == 0 ? 0 : 1;
    assert_string_equal(is.rows[first].scope, "tnt_a POST /v1/rentals");
    assert_string_equal(is.rows[first].key, "k1");
    assert_memory_equal(is.rows[first].hash, h1, 32);
    assert_int_equal(is.rows[first].status, 201);
    assert_false(is.rows[first].reply_null);
    assert_string_equal(is.rows[first].reply, "{\"id\":\"rnt_1\"}");
    assert_string_equal(is.rows[1 - first].scope, "tnt_b POST /v1/rentals");
    assert_memory_equal(is.rows[1 - first].hash, h2, 32);
    assert_int_equal(is.rows[1 - first].status, 204);
    assert_true(is.rows[1 - first].reply_null);
    store_close(s);
    tmp_remove(&t);
}

static void test_meta(void **state)
{
    struct tmp t;
    struct store *s;
    char err[ERR_CAP] = "";
    char value[8];
    (void)state;

    tmp_make(&t);
    s = open_store(&t);
    assert_int_equal(store_meta_get(s, "secret", value, sizeof(value), err, sizeof(err)),
                     ERR_NOTFOUND);
    assert_string_equal(err, "sqlite: get meta \"secret\": not set");
    assert_int_equal(store_meta_put(s, "currency", "USD", err, sizeof(err)), 0);
    assert_int_equal(store_meta_put(s, "currency", "CNY", err, sizeof(err)), 0);
    assert_int_equal(store_meta_put(s, "secret", "0123456789abcdef", err, sizeof(err)), 0);
    store_close(s);

    s = open_store(&t);
    assert_int_equal(store_meta_get(s, "currency", value, sizeof(value), err, sizeof(err)), 0);
    assert_string_equal(value, "CNY");
    assert_int_equal(store_meta_get(s, "secret", value, sizeof(value), err, sizeof(err)),
                     ERR_INVALID);
    assert_string_equal(err, "sqlite: get meta \"secret\": value longer than 7 bytes");
    store_close(s);
    tmp_remove(&t);
}

/* ---- Replay equivalence ------------------------------------------------------------------ */

enum { MAX_RENTALS = 64, MAX_HOSTS = 8, BATCH = 4 };

/* The engine A of the scenario, its store, and the agents it plays. */
struct driver {
    struct engine *e;
    struct store *s;
    struct engine_config cfg;
    int64_t now;
    uint32_t pending; /* commands in the open transaction */
    uint64_t logged;
    struct event *events; /* every event A emitted, in order (owned) */
    size_t ev_count, ev_cap;
    bool silent[MAX_HOSTS + 1];       /* the agent of this host says nothing */
    bool hold[MAX_RENTALS + 1];       /* the agent never gets this rental running */
    int64_t exit_at[MAX_RENTALS + 1]; /* the workload exits (or fails) at this time */
    int exit_code[MAX_RENTALS + 1];
    bool exit_failed[MAX_RENTALS + 1]; /* report "failed" rather than "exited" */
};

static void drv_flush(struct driver *d)
{
    struct event buf[256];
    char err[ERR_CAP] = "";
    size_t n;

    while ((n = engine_drain_events(d->e, buf, ARRAY_SIZE(buf))) > 0) {
        if (d->ev_count + n > d->ev_cap) {
            d->ev_cap = (d->ev_cap + n) * 2;
            d->events = realloc(d->events, d->ev_cap * sizeof(*d->events));
            assert_non_null(d->events);
        }
        memcpy(d->events + d->ev_count, buf, n * sizeof(*buf));
        d->ev_count += n;
        if (store_put_events(d->s, d->e, buf, n, err, sizeof(err)) != 0)
            fail_msg("store_put_events: %s", err);
    }
    if (store_commit(d->s, err, sizeof(err)) != 0)
        fail_msg("store_commit: %s", err);
    assert_int_equal(store_begin(d->s, err, sizeof(err)), 0);
    d->pending = 0;
}

/* Apply c at d->now and expect code; a success is logged (its JSON checked first). */
static struct result drv_cmd(struct driver *d, const struct command *c, int code)
{
    struct result r;
    struct cmdjson_decoded dec;
    char err[ERR_CAP] = "";
    char *text, *again;

    engine_apply(d->e, c, d->now, &r);
    if (r.code != code)
        fail_msg("command %d at +%llds: got %d (%s), want %d", c->type,
                 (long long)((d->now - T0) / SEC), r.code, r.detail, code);
    if (r.code != 0)
        return r; /* changed nothing: not logged */
    text = cmdjson_encode(c);
    assert_non_null(text);
    if (cmdjson_decode(&dec, text, err, sizeof(err)) != 0)
        fail_msg("decode %s: %s", text, err);
    again = cmdjson_encode(&dec.cmd);
    assert_string_equal(again, text);
    free(again);
    cmdjson_release(&dec);
    if (store_log_command(d->s, d->now, text, err, sizeof(err)) != 0)
        fail_msg("store_log_command: %s", err);
    free(text);
    d->logged++;
    if (++d->pending >= BATCH)
        drv_flush(d);
    return r;
}

static void drv_price(struct driver *d, const char *model, uint32_t mib, const char *od,
                      const char *spot, const char *day, const char *week, const char *month)
{
    struct command c = {.type = CMD_PRICE_SET};

    c.u.price_set.gpu_model = model;
    c.u.price_set.memory_mib = mib;
    c.u.price_set.on_demand_hourly = M(od);
    c.u.price_set.spot_floor_hourly = spot ? M(spot) : 0;
    c.u.price_set.package[0] = day ? M(day) : 0;
    c.u.price_set.package[1] = week ? M(week) : 0;
    c.u.price_set.package[2] = month ? M(month) : 0;
    drv_cmd(d, &c, 0);
}

static uint32_t drv_host(struct driver *d, const char *name, const char *model, uint32_t n)
{
    struct gpu_spec g[MAX_GPUS_PER_HOST];
    char uuids[MAX_GPUS_PER_HOST][48];
    struct command c = {.type = CMD_HOST_REGISTER};

    for (uint32_t i = 0; i < n; i++) {
        snprintf(uuids[i], sizeof(uuids[i]), "GPU-%s-%u", name, i);
        g[i] = (struct gpu_spec){.index = i,
                                 .uuid = uuids[i],
                                 .model = model,
                                 .memory_mib = 81920,
                                 .nvlink_island = i / 4};
    }
    c.u.host_register.hostname = name;
    c.u.host_register.gpus = g;
    c.u.host_register.gpu_count = n;
    return (uint32_t)drv_cmd(d, &c, 0).id;
}

static void drv_cost(struct driver *d, uint32_t host, const char *price)
{
    struct command c = {.type = CMD_HOST_COST};

    c.u.host_cost.host = host;
    c.u.host_cost.cost = (struct cost_basis){.purchase_price = M(price),
                                             .purchased_at = T0 - 100 * 24 * HOUR,
                                             .depreciation_years = 5,
                                             .salvage_ppm = 50000,
                                             .power_watts = 5200,
                                             .pue_milli = 1300,
                                             .electricity_kwh_price = M("0.65"),
                                             .hosting_monthly = M("1500")};
    drv_cmd(d, &c, 0);
}

static uint32_t drv_tenant(struct driver *d, const char *name, const char *credit_limit)
{
    struct command c = {.type = CMD_TENANT_CREATE};

    c.u.tenant_create.name = name;
    c.u.tenant_create.credit_limit = credit_limit ? M(credit_limit) : 0;
    return (uint32_t)drv_cmd(d, &c, 0).id;
}

static void drv_credit(struct driver *d, uint32_t tenant, const char *amount, const char *ref,
                       const char *transfer_id)
{
    struct command c = {.type = CMD_CREDIT};

    c.u.credit.tenant = tenant;
    c.u.credit.amount = M(amount);
    c.u.credit.reference = ref;
    c.u.credit.transfer_id = transfer_id;
    drv_cmd(d, &c, 0);
}

static uint64_t drv_rent(struct driver *d, const struct cmd_rental_create *req)
{
    struct command c = {.type = CMD_RENTAL_CREATE};
    uint64_t id;

    c.u.rental_create = *req;
    id = drv_cmd(d, &c, 0).id;
    assert_true(id <= MAX_RENTALS);
    return id;
}

static struct cmd_rental_create req(uint32_t tenant, const char *model, uint32_t n, enum term term)
{
    struct cmd_rental_create r;

    memset(&r, 0, sizeof(r));
    r.tenant = tenant;
    r.gpu_model = model;
    r.gpu_count = n;
    r.term = term;
    return r;
}

static enum rental_state fx_state(struct driver *d, uint64_t rental)
{
    struct rental_view v;

    assert_int_equal(engine_rental(d->e, rental, &v), 0);
    return v.state;
}

static void drv_stop(struct driver *d, uint32_t tenant, uint64_t rental, bool admin)
{
    struct command c = {.type = CMD_RENTAL_STOP};

    c.u.rental_stop.tenant = tenant;
    c.u.rental_stop.rental = rental;
    c.u.rental_stop.admin = admin;
    drv_cmd(d, &c, 0);
}

static void drv_drain(struct driver *d, uint32_t host, bool drain)
{
    struct command c = {.type = drain ? CMD_HOST_DRAIN : CMD_HOST_UNDRAIN};

    c.u.host.host = host;
    drv_cmd(d, &c, 0);
}

/* Every agent that is not silent sends a heartbeat with what it runs: a rental starting is
 * now running (unless held), a workload due to exit exits (or fails). */
static void drv_agents(struct driver *d)
{
    struct rental_report reps[MAX_RENTALS];
    uint64_t rentals = engine_rental_count(d->e);

    for (uint32_t h = 1; h <= engine_host_count(d->e); h++) {
        struct command c = {.type = CMD_HOST_REPORT};
        uint32_t n = 0;

        if (d->silent[h])
            continue;
        for (uint64_t id = 1; id <= rentals; id++) {
            struct rental_view v;
            assert_int_equal(engine_rental(d->e, id, &v), 0);
            if (v.host != h || (v.state != RENTAL_STARTING && v.state != RENTAL_RUNNING))
                continue;
            if (v.state == RENTAL_STARTING && d->hold[id])
                continue;
            reps[n] = (struct rental_report){
                .rental = id, .epoch = v.epoch, .state = REPORT_RUNNING, .exit_code = 0};
            if (v.state == RENTAL_RUNNING && d->exit_at[id] != 0 && d->now >= d->exit_at[id]) {
                reps[n].state = d->exit_failed[id] ? REPORT_FAILED : REPORT_EXITED;
                reps[n].exit_code = d->exit_code[id];
                d->exit_at[id] = 0;
            }
            n++;
        }
        c.u.host_report.host = h;
        c.u.host_report.reports = n ? reps : NULL;
        c.u.host_report.count = n;
        drv_cmd(d, &c, 0);
    }
}

#define STEP (5 * MIN) /* agents report every 5 minutes; hosts time out after 10 */

/* Let time pass to t, the agents reporting every STEP; one transaction per step at least. */
static void drv_run_until(struct driver *d, int64_t t)
{
    while (d->now < t) {
        d->now = d->now + STEP < t ? d->now + STEP : t;
        drv_agents(d);
        drv_flush(d);
    }
}

static struct engine_config scenario_config(void)
{
    struct engine_config cfg;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 10 * MIN;
    cfg.lost_after = 30 * MIN;
    return cfg;
}

#define A100 "A100-80G"
#define H100 "H100-80G"
#define L40S "L40S-48G"

struct scenario_ids {
    uint32_t acme, beta, gamma, delta;
    uint32_t h1, h2, h3, h4, h5, h6;
    uint64_t r_restart, r_spot, r_day, r_week, r_dry, r_month, r_budget, r_preemptor, r_expire,
        r_nostart, r_fail, r_lost, r_queued;
};

#define T_END (T0 + 50 * HOUR + 17 * MIN + 3 * SEC)

static void run_scenario(struct driver *d, struct scenario_ids *x)
{
    struct command c;
    struct cmd_rental_create r;
    char err[ERR_CAP] = "";

    d->now = T0;
    assert_int_equal(store_begin(d->s, err, sizeof(err)), 0);

    /* the catalogue */
    drv_price(d, A100, 81920, "7.60", "2.00", "150.00", "900.00", "3500.00");
    drv_price(d, H100, 81920, "15.10", "5.00", "300.00", NULL, "8000.00");
    drv_price(d, L40S, 0, "3.20", NULL, NULL, NULL, NULL);
    memset(&c, 0, sizeof(c));
    c.type = CMD_COUPON_CREATE;
    c.u.coupon_create = (struct cmd_coupon_create){.code = "WELCOME",
                                                   .percent_off_bp = 2500,
                                                   .max_redemptions = 10,
                                                   .valid_until = T0 + 24 * HOUR,
                                                   .gpu_model = A100,
                                                   .term = -1};
    drv_cmd(d, &c, 0);
    c.u.coupon_create = (struct cmd_coupon_create){
        .code = "TENOFF", .amount_off = M("10.00"), .term = -1, .once_per_tenant = true};
    drv_cmd(d, &c, 0);
    c.u.coupon_create = (struct cmd_coupon_create){
        .code = "WEEKLY", .percent_off_bp = 1000, .term = TERM_WEEK, .automatic = true};
    drv_cmd(d, &c, 0);
    /* the fleet: 20 A100, 8 H100, 2 L40S */
    x->h1 = drv_host(d, "a100-1", A100, 8);
    x->h2 = drv_host(d, "a100-2", A100, 8);
    x->h3 = drv_host(d, "h100-1", H100, 4);
    x->h4 = drv_host(d, "a100-3", A100, 4);
    x->h5 = drv_host(d, "h100-2", H100, 4);
    x->h6 = drv_host(d, "l40s-1", L40S, 2);
    drv_cost(d, x->h1, "800000");
    drv_cost(d, x->h2, "800000");
    drv_cost(d, x->h3, "1200000");
    drv_cost(d, x->h5, "1200000");
    /* the tenants */
    x->acme = drv_tenant(d, "acme", NULL);
    x->beta = drv_tenant(d, "beta", "20.00");
    x->gamma = drv_tenant(d, "gamma", NULL);
    x->delta = drv_tenant(d, "delta", NULL);
    drv_credit(d, x->acme, "5000.00", "wire 1", "acme-1");
    drv_credit(d, x->acme, "5000.00", "wire 1 again", "acme-1"); /* replayed: no money moves */
    drv_credit(d, x->beta, "50.00", NULL, NULL);
    drv_credit(d, x->gamma, "2000.00", "card", NULL);
    drv_credit(d, x->delta, "100000.00", NULL, "delta-1");
    memset(&c, 0, sizeof(c));
    c.type = CMD_TENANT_UPDATE;
    c.u.tenant_update = (struct cmd_tenant_update){
        .tenant = x->acme, .set_credit_limit = true, .credit_limit = M("100.00")};
    drv_cmd(d, &c, 0);
    /* commands that fail change nothing and are not logged */
    r = req(x->acme, "B200", 1, TERM_ON_DEMAND);
    c = (struct command){.type = CMD_RENTAL_CREATE};
    c.u.rental_create = r;
    drv_cmd(d, &c, ERR_INVALID);
    c = (struct command){.type = CMD_CREDIT};
    c.u.credit.tenant = 99;
    c.u.credit.amount = 1;
    drv_cmd(d, &c, ERR_NOTFOUND);
    drv_agents(d);

    /* rentals of every term */
    r = req(x->acme, A100, 2, TERM_ON_DEMAND);
    r.coupon = "WELCOME";
    r.has_workload = true;
    r.restart = RESTART_ON_FAILURE;
    x->r_restart = drv_rent(d, &r);
    d->exit_at[x->r_restart] = T0 + HOUR; /* exits 1: restarted */
    d->exit_code[x->r_restart] = 1;
    r = req(x->acme, A100, 4, TERM_SPOT);
    r.max_hourly = M("3.00");
    r.requeue = true; /* preempted below: its successor waits, then runs */
    x->r_spot = drv_rent(d, &r);
    r = req(x->gamma, H100, 1, TERM_DAY);
    r.auto_renew = true;
    x->r_day = drv_rent(d, &r);
    x->r_week =
        drv_rent(d, &(struct cmd_rental_create){
                        .tenant = x->delta, .gpu_model = A100, .gpu_count = 8, .term = TERM_WEEK});
    x->r_dry = drv_rent(
        d, &(struct cmd_rental_create){.tenant = x->beta, .gpu_model = A100, .gpu_count = 1});
    r = req(x->delta, H100, 2, TERM_MONTH);
    r.coupon = "TENOFF";
    x->r_month = drv_rent(d, &r);
    r = req(x->gamma, A100, 2, TERM_ON_DEMAND);
    r.max_cost = M("20.00");
    x->r_budget = drv_rent(d, &r);
    r = req(x->acme, H100, 1, TERM_ON_DEMAND);
    r.has_workload = true;
    x->r_nostart = drv_rent(d, &r);
    d->hold[x->r_nostart] = true; /* its image never starts: failed_to_start */
    x->r_lost = drv_rent(
        d, &(struct cmd_rental_create){.tenant = x->delta, .gpu_model = L40S, .gpu_count = 2});
    drv_flush(d);
    drv_run_until(d, T0 + 10 * MIN);

    /* 17 of 20 A100 are taken: 4 on demand preempt the spot rental and wait for its GPUs */
    r = req(x->delta, A100, 4, TERM_ON_DEMAND);
    r.queue = true;
    x->r_preemptor = drv_rent(d, &r);
    r = req(x->delta, A100, 1, TERM_ON_DEMAND);
    r.max_duration = 2 * HOUR;
    x->r_expire = drv_rent(d, &r);
    drv_run_until(d, T0 + 30 * MIN);
    drv_drain(d, x->h4, true);
    r = req(x->acme, A100, 1, TERM_ON_DEMAND);
    r.has_workload = true;
    x->r_fail = drv_rent(d, &r);
    d->exit_at[x->r_fail] = T0 + 7 * HOUR; /* the agent reports it failed with code 3 */
    d->exit_code[x->r_fail] = 3;
    d->exit_failed[x->r_fail] = true;
    drv_run_until(d, T0 + HOUR + 30 * MIN);
    d->exit_at[x->r_restart] = T0 + 3 * HOUR; /* exits 0 after its restart: ended */
    d->exit_code[x->r_restart] = 0;
    memset(&c, 0, sizeof(c));
    c.type = CMD_TENANT_UPDATE;
    c.u.tenant_update = (struct cmd_tenant_update){
        .tenant = x->gamma, .set_monthly_budget = true, .monthly_budget = M("5000.00")};
    drv_cmd(d, &c, 0);
    memset(&c, 0, sizeof(c));
    c.type = CMD_ADJUST; /* an operator's credit about a rental, and a charge about none */
    c.u.adjust = (struct cmd_adjust){
        .tenant = x->beta, .amount = M("3.25"), .rental = x->r_dry, .reason = "goodwill"};
    /* the server keeps the reason beside the transfer (its handler's after hook) */
    assert_int_equal(store_put_adjustment(d->s, drv_cmd(d, &c, 0).id, "goodwill", err, sizeof(err)),
                     0);
    c.u.adjust = (struct cmd_adjust){.tenant = x->acme, .amount = -M("1.50"), .reason = "fee"};
    assert_int_equal(store_put_adjustment(d->s, drv_cmd(d, &c, 0).id, "fee", err, sizeof(err)), 0);
    drv_run_until(d, T0 + 2 * HOUR);
    drv_drain(d, x->h4, false);
    /* 8 GPUs on one host are not there now: it waits in the queue */
    r = req(x->acme, A100, 8, TERM_ON_DEMAND);
    r.queue = true;
    x->r_queued = drv_rent(d, &r);
    assert_int_equal(fx_state(d, x->r_queued), RENTAL_PENDING);
    drv_stop(d, 0, x->r_week, true); /* the operator ends the week package: the queue moves */
    assert_int_equal(fx_state(d, x->r_queued), RENTAL_STARTING);
    drv_run_until(d, T0 + 4 * HOUR);
    drv_stop(d, x->delta, x->r_preemptor, false);
    drv_run_until(d, T0 + 5 * HOUR);
    d->silent[x->h3] = true; /* down after 10 minutes, back after 20 */
    drv_run_until(d, T0 + 5 * HOUR + 20 * MIN);
    d->silent[x->h3] = false;
    drv_run_until(d, T0 + 6 * HOUR);
    d->silent[x->h6] = true; /* never back: its rental ends host_failed */
    drv_run_until(d, T0 + 12 * HOUR);
    drv_stop(d, x->acme, x->r_queued, false);
    drv_credit(d, x->gamma, "1000.00", "top-up", "gamma-2");
    drv_run_until(d, T0 + 49 * HOUR);
    drv_stop(d, x->gamma, x->r_day, false); /* a renewed day package stopped early */
    drv_run_until(d, T0 + 50 * HOUR);
    /* time passes without commands: what the tick does is not logged, and replays */
    d->now = T_END;
    engine_tick(d->e, d->now);
    drv_flush(d);
    store_rollback(d->s); /* the empty transaction drv_flush opened */
}

struct replayer {
    struct engine *e;
    int64_t last_seq;
    uint64_t applied;
};

static int replay_one(void *ctx, int64_t seq, int64_t at, const char *json)
{
    struct replayer *rp = ctx;
    struct cmdjson_decoded dec;
    struct result r;
    char err[ERR_CAP] = "";

    assert_int_equal(seq, rp->last_seq + 1);
    rp->last_seq = seq;
    if (cmdjson_decode(&dec, json, err, sizeof(err)) != 0)
        fail_msg("replay %lld: %s", (long long)seq, err);
    engine_apply(rp->e, &dec.cmd, at, &r);
    if (r.code != 0)
        fail_msg("replay %lld (%s): %d %s", (long long)seq, json, r.code, r.detail);
    cmdjson_release(&dec);
    rp->applied++;
    return 0;
}

static void assert_tenants_equal(const struct engine *a, const struct engine *b)
{
    assert_int_equal(engine_tenant_count(a), engine_tenant_count(b));
    for (uint32_t id = 1; id <= engine_tenant_count(a); id++) {
        struct tenant_view x, y;
        assert_int_equal(engine_tenant(a, id, &x), 0);
        assert_int_equal(engine_tenant(b, id, &y), 0);
        assert_string_equal(x.name, y.name);
        assert_int_equal(x.account, y.account);
        assert_int_equal(x.balance, y.balance);
        assert_int_equal(x.credit_limit, y.credit_limit);
        assert_int_equal(x.monthly_budget, y.monthly_budget);
        assert_int_equal(x.month_spent, y.month_spent);
        assert_int_equal(x.hourly_burn, y.hourly_burn);
        assert_int_equal(x.live_rentals, y.live_rentals);
    }
}

static void assert_rentals_equal(const struct engine *a, const struct engine *b)
{
    assert_int_equal(engine_rental_count(a), engine_rental_count(b));
    for (uint64_t id = 1; id <= engine_rental_count(a); id++) {
        struct rental_view x, y;
        assert_int_equal(engine_rental(a, id, &x), 0);
        assert_int_equal(engine_rental(b, id, &y), 0);
        assert_string_equal(x.gpu_model, y.gpu_model);
        x.gpu_model = y.gpu_model = NULL;
        /* every other field, padding included (the views are memset before filling) */
        assert_memory_equal(&x, &y, sizeof(x));
    }
}

static void assert_hosts_equal(const struct engine *a, const struct engine *b)
{
    assert_int_equal(engine_host_count(a), engine_host_count(b));
    for (uint32_t id = 1; id <= engine_host_count(a); id++) {
        struct host_view x, y;
        struct gpu_view gx[MAX_GPUS_PER_HOST], gy[MAX_GPUS_PER_HOST];
        int n;
        assert_int_equal(engine_host(a, id, &x), 0);
        assert_int_equal(engine_host(b, id, &y), 0);
        assert_string_equal(x.hostname, y.hostname);
        assert_string_equal(x.gpu_model, y.gpu_model);
        x.hostname = y.hostname = x.gpu_model = y.gpu_model = NULL;
        assert_memory_equal(&x, &y, sizeof(x));
        n = engine_host_gpus(a, id, gx, MAX_GPUS_PER_HOST);
        assert_int_equal(engine_host_gpus(b, id, gy, MAX_GPUS_PER_HOST), n);
        for (int i = 0; i < n; i++) {
            assert_string_equal(gx[i].uuid, gy[i].uuid);
            assert_int_equal(gx[i].index, gy[i].index);
            assert_int_equal(gx[i].state, gy[i].state);
            assert_int_equal(gx[i].rental, gy[i].rental);
            assert_int_equal(gx[i].nvlink_island, gy[i].nvlink_island);
        }
    }
}

static void assert_economics_equal(const struct engine *a, const struct engine *b, int64_t from,
                                   int64_t to)
{
    struct econ_line x[8], y[8];
    int n = engine_economics(a, from, to, to, x, 8);

    assert_true(n >= 2);
    assert_int_equal(engine_economics(b, from, to, to, y, 8), n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(x[i].gpu_model, y[i].gpu_model);
        assert_int_equal(x[i].gpus, y[i].gpus);
        assert_int_equal(x[i].gpu_us_available, y[i].gpu_us_available);
        assert_int_equal(x[i].gpu_us_rented, y[i].gpu_us_rented);
        assert_true(x[i].utilization == y[i].utilization);
        assert_int_equal(x[i].list_revenue, y[i].list_revenue);
        assert_int_equal(x[i].discounts, y[i].discounts);
        assert_int_equal(x[i].revenue, y[i].revenue);
        assert_int_equal(x[i].realized_hourly, y[i].realized_hourly);
        assert_int_equal(x[i].depreciation, y[i].depreciation);
        assert_int_equal(x[i].power_cost, y[i].power_cost);
        assert_int_equal(x[i].hosting_cost, y[i].hosting_cost);
        assert_true(x[i].gross_margin == y[i].gross_margin);
        assert_true(x[i].payback_years == y[i].payback_years);
    }
    assert_true(x[n - 1].revenue > 0);
}

static void assert_engines_equal(const struct engine *a, const struct engine *b)
{
    struct engine_stats sa, sb;
    char detail[256] = "";

    assert_tenants_equal(a, b);
    assert_rentals_equal(a, b);
    assert_hosts_equal(a, b);
    assert_int_equal(engine_account_count(a), engine_account_count(b));
    for (uint32_t acct = 0; acct < engine_account_count(a); acct++)
        assert_int_equal(engine_account_balance(a, acct), engine_account_balance(b, acct));
    assert_int_equal(engine_model_count(a), engine_model_count(b));
    for (uint32_t m = 0; m < engine_model_count(a); m++) {
        struct offer_view x, y;
        assert_int_equal(engine_offer(a, m, &x), 0);
        assert_int_equal(engine_offer(b, m, &y), 0);
        assert_string_equal(x.gpu_model, y.gpu_model);
        assert_int_equal(x.available_gpus, y.available_gpus);
        assert_int_equal(x.max_gpus_per_host, y.max_gpus_per_host);
        assert_memory_equal(&x.prices, &y.prices, sizeof(x.prices));
    }
    engine_stats(a, &sa);
    engine_stats(b, &sb);
    /* the refused commands were not logged, so only A counted them */
    assert_int_equal(sa.rejected_capacity + sa.rejected_funds,
                     sb.rejected_capacity + sb.rejected_funds);
    sa.rejected_capacity = sb.rejected_capacity = 0;
    sa.rejected_funds = sb.rejected_funds = 0;
    assert_memory_equal(&sa, &sb, sizeof(sa));
    assert_int_equal(engine_next_deadline(a), engine_next_deadline(b));
    assert_economics_equal(a, b, T0, T_END);
    assert_economics_equal(a, b, T0 + 5 * HOUR, T0 + 7 * HOUR);
    assert_int_equal(engine_check(a, detail, sizeof(detail)), 0);
    assert_int_equal(engine_check(b, detail, sizeof(detail)), 0);
}

/* What the scenario claims to cover, it covers. */
static void assert_scenario_outcomes(const struct engine *e, const struct scenario_ids *x)
{
    struct rental_view v;
    struct engine_stats st;
    struct {
        uint64_t id;
        enum end_reason reason;
    } want[] = {
        {x->r_restart, END_EXITED},
        {x->r_spot, END_PREEMPTED},
        {x->r_day, END_STOPPED},
        {x->r_week, END_ADMIN},
        {x->r_dry, END_INSUFFICIENT_BALANCE},
        {x->r_budget, END_BUDGET},
        {x->r_nostart, END_FAILED_TO_START},
        {x->r_lost, END_HOST_FAILED},
        {x->r_preemptor, END_STOPPED},
        {x->r_expire, END_EXPIRED},
        {x->r_fail, END_EXITED},
        {x->r_queued, END_STOPPED},
    };

    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        assert_int_equal(engine_rental(e, want[i].id, &v), 0);
        if (v.state != RENTAL_ENDED || v.end_reason != want[i].reason)
            fail_msg("rental %llu: %s/%s, want ended/%s", (unsigned long long)want[i].id,
                     rental_state_name(v.state), end_reason_name(v.end_reason),
                     end_reason_name(want[i].reason));
    }
    assert_int_equal(engine_rental(e, x->r_spot, &v), 0);
    assert_true(v.requeued_as != 0);
    {
        uint64_t next = v.requeued_as;
        assert_int_equal(engine_rental(e, next, &v), 0);
        assert_int_equal(v.requeued_from, x->r_spot);
        assert_true(v.started_at != 0); /* it ran once the GPUs came back */
    }
    assert_int_equal(engine_rental(e, x->r_restart, &v), 0);
    assert_int_equal(v.epoch, 2); /* restarted once */
    assert_int_equal(engine_rental(e, x->r_fail, &v), 0);
    assert_int_equal(v.exit_code, 3);
    assert_int_equal(engine_rental(e, x->r_month, &v), 0);
    assert_int_equal(v.state, RENTAL_RUNNING); /* still running at the end */
    assert_true(v.discount > 0);
    assert_int_equal(engine_rental(e, x->r_day, &v), 0);
    assert_true(v.cost > M("300.00")); /* renewed at least once before it was stopped */
    engine_stats(e, &st);
    assert_true(st.placed_from_queue >= 2);
    assert_true(st.preempted >= 1);
}

/* The tables say what the engine says. */
static void assert_tables_agree(const struct tmp *t, const struct engine *e)
{
    sqlite3 *db = peek_open(t);
    sqlite3_stmt *st = NULL;
    struct engine_stats stats;
    char id[ID_STR_MAX];
    int64_t realized;

    engine_stats(e, &stats);
    /* the ledger: every transfer once, and every account's balance is its transfers' sum */
    assert_int_equal(count_rows(db, "transfers"), (int64_t)stats.transfers);
    assert_int_equal(peek_i64(db, "SELECT MAX(seq) FROM transfers", 0), (int64_t)stats.transfers);
    assert_int_equal(count_rows(db, "accounts"), engine_account_count(e));
    for (uint32_t a = 0; a < engine_account_count(e); a++) {
        assert_int_equal(peek_i64(db,
                                  "SELECT COALESCE(SUM(CASE WHEN to_account = ?1 THEN amount"
                                  " ELSE -amount END), 0) FROM transfers"
                                  " WHERE to_account = ?1 OR from_account = ?1",
                                  a),
                         engine_account_balance(e, a));
        assert_int_equal(peek_i64(db, "SELECT balance FROM account_balances WHERE account = ?1", a),
                         engine_account_balance(e, a));
    }
    assert_int_equal(peek_i64(db, "SELECT SUM(amount) FROM postings", 0), 0);
    realized = engine_account_balance(e, ACCT_REVENUE) + engine_account_balance(e, ACCT_DISCOUNTS);
    assert_true(realized > 0);
    assert_int_equal(peek_i64(db, "SELECT SUM(amount) FROM postings WHERE account IN (1, 2)", 0),
                     realized);

    /* tenants, with their wallets */
    assert_int_equal(count_rows(db, "tenants"), engine_tenant_count(e));
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT t.id, t.name, t.account, t.credit_limit,"
                                        " t.monthly_budget, b.balance, a.kind, a.tenant_id"
                                        " FROM tenants t JOIN account_balances b USING (account)"
                                        " JOIN accounts a USING (account) WHERE t.num = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    for (uint32_t n = 1; n <= engine_tenant_count(e); n++) {
        struct tenant_view v;
        assert_int_equal(engine_tenant(e, n, &v), 0);
        sqlite3_bind_int64(st, 1, n);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), id_format(id, "tnt", n));
        assert_string_equal((const char *)sqlite3_column_text(st, 1), v.name);
        assert_int_equal(sqlite3_column_int64(st, 2), v.account);
        assert_int_equal(sqlite3_column_int64(st, 3), v.credit_limit);
        assert_int_equal(sqlite3_column_int64(st, 4), v.monthly_budget);
        assert_int_equal(sqlite3_column_int64(st, 5), v.balance);
        assert_string_equal((const char *)sqlite3_column_text(st, 6), "wallet");
        assert_string_equal((const char *)sqlite3_column_text(st, 7), id);
        sqlite3_reset(st);
        /* a tenant's ledger, by its public id, adds up to its balance */
        assert_int_equal(peek_i64_text(db,
                                       "SELECT SUM(CASE WHEN to_tenant_id = ?1 THEN amount"
                                       " ELSE -amount END) FROM ledger"
                                       " WHERE to_tenant_id = ?1 OR from_tenant_id = ?1",
                                       id),
                         v.balance);
    }
    sqlite3_finalize(st);
    assert_int_equal(count_rows(db, "ledger"), (int64_t)stats.transfers);

    /* rentals: the current view of each */
    assert_int_equal(count_rows(db, "rentals"), (int64_t)engine_rental_count(e));
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT id, tenant_id, state, IFNULL(end_reason, ''), exit_code,"
                           " gpu_model, gpu_count, term, hourly_price, list_hourly, max_hourly,"
                           " IFNULL(host_id, ''), gpu_mask, epoch, auto_renew, has_workload,"
                           " created_at, IFNULL(placed_at, 0), IFNULL(started_at, 0),"
                           " IFNULL(ends_at, 0), IFNULL(ended_at, 0), IFNULL(preempt_at, 0), cost,"
                           " discount, amount_off_used, billed_us FROM rentals WHERE num = ?1",
                           -1, &st, NULL),
        SQLITE_OK);
    for (uint64_t n = 1; n <= engine_rental_count(e); n++) {
        struct rental_view v;
        char tid[ID_STR_MAX], hid[ID_STR_MAX];
        assert_int_equal(engine_rental(e, n, &v), 0);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), id_format(id, "rnt", n));
        assert_string_equal((const char *)sqlite3_column_text(st, 1),
                            id_format(tid, "tnt", v.tenant));
        assert_string_equal((const char *)sqlite3_column_text(st, 2), rental_state_name(v.state));
        assert_string_equal((const char *)sqlite3_column_text(st, 3),
                            end_reason_name(v.end_reason));
        assert_int_equal(sqlite3_column_int(st, 4), v.exit_code);
        assert_string_equal((const char *)sqlite3_column_text(st, 5), v.gpu_model);
        assert_int_equal(sqlite3_column_int64(st, 6), v.gpu_count);
        assert_string_equal((const char *)sqlite3_column_text(st, 7), term_name(v.term));
        assert_int_equal(sqlite3_column_int64(st, 8), v.hourly_price);
        assert_int_equal(sqlite3_column_int64(st, 9), v.list_hourly);
        assert_int_equal(sqlite3_column_int64(st, 10), v.max_hourly);
        assert_string_equal((const char *)sqlite3_column_text(st, 11),
                            v.host ? id_format(hid, "hst", v.host) : "");
        assert_int_equal(sqlite3_column_int64(st, 12), v.gpu_mask);
        assert_int_equal(sqlite3_column_int64(st, 13), v.epoch);
        assert_int_equal(sqlite3_column_int(st, 14), v.auto_renew);
        assert_int_equal(sqlite3_column_int(st, 15), v.has_workload);
        assert_int_equal(sqlite3_column_int64(st, 16), v.created_at);
        assert_int_equal(sqlite3_column_int64(st, 17), v.placed_at);
        assert_int_equal(sqlite3_column_int64(st, 18), v.started_at);
        assert_int_equal(sqlite3_column_int64(st, 19), v.ends_at);
        assert_int_equal(sqlite3_column_int64(st, 20), v.ended_at);
        assert_int_equal(sqlite3_column_int64(st, 21), v.preempt_at);
        assert_int_equal(sqlite3_column_int64(st, 22), v.cost);
        assert_int_equal(sqlite3_column_int64(st, 23), v.discount);
        assert_int_equal(sqlite3_column_int64(st, 24), v.amount_off_used);
        assert_int_equal(sqlite3_column_int64(st, 25), v.billed_us);
        sqlite3_reset(st);
        assert_int_equal(
            peek_i64_text(db, "SELECT COUNT(*) FROM ledger WHERE rental_id = ?1", id),
            peek_i64(db, "SELECT COUNT(*) FROM transfers WHERE rental_num = ?1", (int64_t)n));
        /* on demand and spot: what its charges took from the wallet is its cost */
        if (v.term == TERM_ON_DEMAND || v.term == TERM_SPOT)
            assert_int_equal(peek_i64(db,
                                      "SELECT COALESCE(SUM(amount), 0) FROM transfers"
                                      " WHERE rental_num = ?1 AND kind = 'charge'",
                                      (int64_t)n),
                             v.cost);
    }
    sqlite3_finalize(st);
    /* every ended rental's history ends with its end (billing may end before the event that
     * says so: at the exact microsecond a limit was reached, at a lost host's last heartbeat) */
    assert_int_equal(peek_i64(db,
                              "SELECT COUNT(*) FROM rentals r WHERE state = 'ended' AND NOT EXISTS"
                              " (SELECT 1 FROM rental_events e WHERE e.rental_num = r.num AND"
                              " e.to_state = 'ended' AND e.end_reason = r.end_reason AND"
                              " e.at >= r.ended_at)",
                              0),
                     0);
    assert_true(peek_i64(db, "SELECT COUNT(*) FROM rentals WHERE state = 'ended'", 0) >= 12);
    assert_int_equal(peek_i64(db, "SELECT COUNT(*) FROM rental_events WHERE event = 'created'", 0),
                     (int64_t)engine_rental_count(e));
    assert_true(
        peek_i64(db, "SELECT COUNT(*) FROM rental_events WHERE event = 'preempt_notice'", 0) >= 1);

    /* hosts, their GPUs, the models */
    assert_int_equal(count_rows(db, "hosts"), engine_host_count(e));
    assert_int_equal(count_rows(db, "gpus"), stats.gpus);
    for (uint32_t n = 1; n <= engine_host_count(e); n++) {
        struct host_view v;
        assert_int_equal(engine_host(e, n, &v), 0);
        assert_int_equal(
            peek_i64(db, "SELECT IFNULL(purchase_price, -1) FROM hosts WHERE num = ?1", n),
            v.has_cost ? v.cost.purchase_price : -1);
        assert_int_equal(peek_i64(db, "SELECT gpu_count FROM hosts WHERE num = ?1", n),
                         v.gpu_count);
        assert_int_equal(peek_i64(db, "SELECT registered_at FROM hosts WHERE num = ?1", n),
                         v.registered_at);
        assert_int_equal(peek_i64(db,
                                  "SELECT COUNT(*) FROM gpus g JOIN hosts h ON g.host_id = h.id"
                                  " WHERE h.num = ?1",
                                  n),
                         v.gpu_count);
        {
            sqlite3_stmt *hs = NULL;
            assert_int_equal(
                sqlite3_prepare_v2(db, "SELECT state FROM hosts WHERE num = ?1", -1, &hs, NULL),
                SQLITE_OK);
            sqlite3_bind_int64(hs, 1, n);
            assert_int_equal(sqlite3_step(hs), SQLITE_ROW);
            assert_string_equal((const char *)sqlite3_column_text(hs, 0), host_state_name(v.state));
            sqlite3_finalize(hs);
        }
    }
    assert_int_equal(count_rows(db, "models"), engine_model_count(e));
    for (uint32_t m = 0; m < engine_model_count(e); m++) {
        struct offer_view o;
        sqlite3_stmt *ms = NULL;
        assert_int_equal(engine_offer(e, m, &o), 0);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT memory_mib, on_demand_hourly,"
                                            " spot_floor_hourly, day_price, week_price,"
                                            " month_price FROM models WHERE gpu_model = ?1",
                                            -1, &ms, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(ms, 1, o.gpu_model, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(ms), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int64(ms, 0), o.memory_mib);
        assert_int_equal(sqlite3_column_int64(ms, 1), o.prices.on_demand_hourly);
        assert_int_equal(sqlite3_column_int64(ms, 2), o.prices.spot_floor_hourly);
        for (int i = 0; i < PACKAGE_COUNT; i++)
            assert_int_equal(sqlite3_column_int64(ms, 3 + i), o.prices.package[i]);
        sqlite3_finalize(ms);
    }
    sqlite3_close(db);
}

/* Write events in chunks of up to 256 in one transaction. */
static void put_all_events(struct store *s, const struct engine *e, const struct event *ev,
                           size_t n)
{
    char err[ERR_CAP] = "";

    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i += 256) {
        size_t k = n - i < 256 ? n - i : 256;
        if (store_put_events(s, e, ev + i, k, err, sizeof(err)) != 0)
            fail_msg("store_put_events: %s", err);
    }
    assert_int_equal(store_commit(s, err, sizeof(err)), 0);
}

static void test_replay_equivalence(void **state)
{
    struct tmp t;
    struct driver d;
    struct scenario_ids x;
    struct replayer rp;
    struct event *replayed = NULL;
    size_t rcount = 0, rcap = 0, n;
    struct event buf[256];
    int64_t before[ARRAY_SIZE(event_tables)], after[ARRAY_SIZE(event_tables)];
    char err[ERR_CAP] = "";
    (void)state;

    tmp_make(&t);
    memset(&d, 0, sizeof(d));
    memset(&x, 0, sizeof(x));
    d.cfg = scenario_config();
    assert_int_equal(engine_new(&d.e, &d.cfg), 0);
    d.s = open_store(&t);
    run_scenario(&d, &x);
    assert_scenario_outcomes(d.e, &x);
    store_close(d.s);
    assert_tables_agree(&t, d.e);
    count_event_tables(&t, before);

    /* restart: a fresh engine, the log replayed into it, then the clock to the same time */
    d.s = open_store(&t);
    memset(&rp, 0, sizeof(rp));
    assert_int_equal(engine_new(&rp.e, &d.cfg), 0);
    assert_int_equal(store_replay(d.s, replay_one, &rp, err, sizeof(err)), 0);
    assert_int_equal(rp.applied, d.logged);
    engine_tick(rp.e, T_END);

    /* the same events, in the same order, field for field */
    while ((n = engine_drain_events(rp.e, buf, ARRAY_SIZE(buf))) > 0) {
        if (rcount + n > rcap) {
            rcap = (rcap + n) * 2;
            replayed = realloc(replayed, rcap * sizeof(*replayed));
            assert_non_null(replayed);
        }
        memcpy(replayed + rcount, buf, n * sizeof(*buf));
        rcount += n;
    }
    assert_int_equal(rcount, d.ev_count);
    for (size_t i = 0; i < rcount; i++) {
        if (memcmp(&replayed[i], &d.events[i], sizeof(*replayed)) != 0)
            fail_msg("event %zu differs: type %d/%d at %lld/%lld id %llu/%llu", i, replayed[i].type,
                     d.events[i].type, (long long)replayed[i].at, (long long)d.events[i].at,
                     (unsigned long long)replayed[i].id, (unsigned long long)d.events[i].id);
    }
    /* the same state */
    assert_engines_equal(d.e, rp.e);

    /* the replay's events written again (as a restarted server may) change no table */
    put_all_events(d.s, rp.e, replayed, rcount);
    store_close(d.s);
    count_event_tables(&t, after);
    for (size_t i = 0; i < ARRAY_SIZE(event_tables); i++) {
        if (before[i] != after[i])
            fail_msg("%s: %lld rows, then %lld", event_tables[i], (long long)before[i],
                     (long long)after[i]);
    }
    assert_tables_agree(&t, rp.e);
    {
        /* the scenario ends with every agent silent: the mass-silence brake, one alert */
        sqlite3 *db = peek_open(&t);
        assert_int_equal(count_rows(db, "alerts"), 1);
        assert_int_equal(peek_i64(db, "SELECT hosts_total FROM alerts", 0), 6);
        sqlite3_close(db);
    }

    /* and the same future: the agents come back, a rental, a day passes, on both */
    {
        struct command c = {.type = CMD_HOST_REPORT};
        struct result ra, rb;
        for (uint32_t h = 1; h <= engine_host_count(d.e); h++) {
            c.u.host_report.host = h;
            assert_int_equal(engine_apply(d.e, &c, T_END + HOUR, &ra), 0);
            assert_int_equal(engine_apply(rp.e, &c, T_END + HOUR, &rb), 0);
        }
        c = (struct command){.type = CMD_RENTAL_CREATE};
        c.u.rental_create = req(x.acme, A100, 2, TERM_ON_DEMAND);
        assert_int_equal(engine_apply(d.e, &c, T_END + HOUR, &ra), 0);
        assert_int_equal(engine_apply(rp.e, &c, T_END + HOUR, &rb), 0);
        assert_int_equal(ra.id, rb.id);
        assert_int_equal(ra.state, rb.state);
        engine_tick(d.e, T_END + 25 * HOUR);
        engine_tick(rp.e, T_END + 25 * HOUR);
        assert_engines_equal(d.e, rp.e);
    }

    free(replayed);
    free(d.events);
    engine_free(rp.e);
    engine_free(d.e);
    tmp_remove(&t);
}

/* ---- Usage: line items from the ledger (store_open_reader, store_usage) ------------------ */

#define USAGE_MAX 64

struct usage_got {
    struct usage_line lines[USAGE_MAX];
    char rental_ids[USAGE_MAX][ID_STR_MAX]; /* the borrowed strings, copied */
    char kinds[USAGE_MAX][16];
    char corrects[USAGE_MAX][16];
    char reasons[USAGE_MAX][64];
    size_t n;
    struct usage_credit credits[USAGE_MAX];
    size_t ncredits;
    int64_t total, credits_total;
};

static int got_line(void *ctx, const struct usage_line *l)
{
    struct usage_got *g = ctx;

    assert_true(g->n < USAGE_MAX);
    g->lines[g->n] = *l;
    snprintf(g->rental_ids[g->n], ID_STR_MAX, "%s", l->rental_id ? l->rental_id : "");
    snprintf(g->kinds[g->n], sizeof(g->kinds[0]), "%s", l->kind);
    snprintf(g->corrects[g->n], sizeof(g->corrects[0]), "%s", l->corrects ? l->corrects : "");
    snprintf(g->reasons[g->n], sizeof(g->reasons[0]), "%s", l->reason ? l->reason : "");
    g->lines[g->n].rental_id = g->rental_ids[g->n];
    g->lines[g->n].kind = g->kinds[g->n];
    g->lines[g->n].corrects = g->corrects[g->n];
    g->lines[g->n].reason = g->reasons[g->n];
    g->lines[g->n].gpu_model = g->lines[g->n].term = NULL; /* borrowed: gone after the call */
    g->n++;
    g->total += l->amount;
    return 0;
}

static int got_credit(void *ctx, const struct usage_credit *c)
{
    struct usage_got *g = ctx;

    assert_true(g->ncredits < USAGE_MAX);
    g->credits[g->ncredits] = *c;
    g->credits[g->ncredits].kind = NULL;
    g->ncredits++;
    g->credits_total += c->amount;
    return 0;
}

static void usage_read(struct store_reader *r, uint32_t wallet, int64_t from, int64_t to,
                       struct usage_got *g)
{
    char err[ERR_CAP] = "";

    memset(g, 0, sizeof(*g));
    if (store_usage(r, wallet, from, to, got_line, got_credit, g, err, sizeof(err)) != 0)
        fail_msg("store_usage: %s", err);
}

static uint32_t wallet_of(const struct engine *e, uint32_t tenant)
{
    struct tenant_view v;

    assert_int_equal(engine_tenant(e, tenant, &v), 0);
    return v.account;
}

static void assert_line(const struct usage_line *l, uint64_t rental, const char *kind,
                        int64_t seconds, int64_t list, int64_t discount, int64_t amount)
{
    assert_int_equal(l->rental, rental);
    assert_string_equal(l->kind, kind);
    assert_int_equal(l->seconds, seconds);
    assert_int_equal(l->list_amount, list);
    assert_int_equal(l->discount, discount);
    assert_int_equal(l->amount, amount);
}

/*
 * Exact lines: an on-demand GPU at 7.60/h billed 3600 s is one charge line of 7.60 and
 * 3600 s; a day package with 10 % off stopped after 6 h is a package line (the whole price and
 * a day) and a refund line (the unused 18 h, net and discount); a top-up is a credit. Periods
 * split the lines exactly, and the wallet moved by credits less the lines.
 */
static void test_usage_lines(void **state)
{
    struct tmp t;
    struct driver d;
    struct store_reader *r = NULL;
    struct usage_got g, a, b;
    struct command c;
    struct cmd_rental_create q;
    char err[ERR_CAP] = "";
    uint64_t od, day;
    uint32_t tenant, other, w;
    (void)state;

    tmp_make(&t);
    memset(&d, 0, sizeof(d));
    d.cfg = scenario_config();
    assert_int_equal(engine_new(&d.e, &d.cfg), 0);
    d.s = open_store(&t);
    d.now = T0;
    assert_int_equal(store_begin(d.s, err, sizeof(err)), 0);
    drv_price(&d, A100, 81920, "7.60", NULL, "150.00", NULL, NULL);
    memset(&c, 0, sizeof(c));
    c.type = CMD_COUPON_CREATE;
    c.u.coupon_create = (struct cmd_coupon_create){
        .code = "DAY10", .percent_off_bp = 1000, .term = TERM_DAY, .automatic = true};
    drv_cmd(&d, &c, 0);
    drv_host(&d, "a100-1", A100, 8);
    tenant = drv_tenant(&d, "acme", NULL);
    other = drv_tenant(&d, "beta", NULL);
    drv_credit(&d, tenant, "1000.00", "wire", NULL);
    drv_credit(&d, other, "1000.00", "wire", NULL);
    od = drv_rent(&d,
                  &(struct cmd_rental_create){.tenant = tenant, .gpu_model = A100, .gpu_count = 1});
    drv_rent(&d, &(struct cmd_rental_create){.tenant = other, .gpu_model = A100, .gpu_count = 2});
    drv_agents(&d); /* both run from T0 */
    drv_flush(&d);
    drv_run_until(&d, T0 + HOUR);
    drv_stop(&d, tenant, od, false);
    q = req(tenant, A100, 1, TERM_DAY);
    day = drv_rent(&d, &q);
    drv_agents(&d);
    drv_run_until(&d, T0 + 7 * HOUR);
    drv_stop(&d, tenant, day, false);
    drv_flush(&d);
    store_rollback(d.s);

    w = wallet_of(d.e, tenant);
    assert_int_equal(store_open_reader(&r, t.db, err, sizeof(err)), 0);
    usage_read(r, w, T0, T0 + 24 * HOUR, &g);
    assert_int_equal(g.n, 3);
    assert_line(&g.lines[0], od, "charge", 3600, M("7.60"), 0, M("7.60"));
    assert_string_equal(g.lines[0].rental_id, "rnt_9wdvsq5zmmz0n");
    assert_int_equal(g.lines[0].gpu_count, 1);
    /* 150.00 less 10 %: 135.00 paid, 15.00 discount; 6 h used: 18 h (three quarters) back */
    assert_line(&g.lines[1], day, "package", 86400, M("150.00"), M("15.00"), M("135.00"));
    assert_line(&g.lines[2], day, "refund", -64800, -M("112.50"), -M("11.25"), -M("101.25"));
    assert_int_equal(g.total, M("7.60") + M("135.00") - M("101.25"));
    assert_int_equal(g.ncredits, 1);
    assert_int_equal(g.credits[0].amount, M("1000.00"));
    assert_int_equal(g.credits[0].at, T0);
    /* the wallet moved by the credits less the lines */
    assert_int_equal(engine_account_balance(d.e, w), g.credits_total - g.total);

    /* a period split in two: the same money, the same time */
    usage_read(r, w, T0, T0 + 30 * MIN, &a);
    usage_read(r, w, T0 + 30 * MIN, T0 + 24 * HOUR, &b);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 3);
    assert_int_equal(a.lines[0].amount + b.lines[0].amount, M("7.60"));
    assert_true(llabs(a.lines[0].seconds + b.lines[0].seconds - 3600) <= 1);
    assert_int_equal(a.total + b.total, g.total);
    assert_int_equal(a.ncredits + b.ncredits, 1);
    /* [from, to): nothing before the first transfer, nothing at `to` */
    usage_read(r, w, T0 - HOUR, T0, &a);
    assert_int_equal(a.n + a.ncredits, 0);
    /* another tenant's lines are its own */
    usage_read(r, wallet_of(d.e, other), T0, T0 + 24 * HOUR, &b);
    assert_int_equal(b.n, 1);
    assert_string_equal(b.lines[0].kind, "charge");
    {
        /* still running: as far as its last settlement (to the last heartbeat) */
        struct rental_view v;
        assert_int_equal(engine_rental(d.e, b.lines[0].rental, &v), 0);
        assert_int_equal(b.lines[0].amount, v.cost);
        assert_int_equal(v.cost, money_prorate(M("15.20"), v.billed_us));
        assert_int_equal(b.lines[0].seconds, v.billed_us / SEC);
        assert_true(v.billed_us >= 6 * HOUR);
    }
    /* an empty period is refused */
    assert_int_equal(store_usage(r, w, T0, T0, got_line, got_credit, &a, err, sizeof(err)),
                     ERR_INVALID);

    store_close_reader(r);
    store_close(d.s);
    free(d.events);
    engine_free(d.e);
    tmp_remove(&t);
}

/*
 * A closed month never changes. A GPU at 7.60/h runs from 23:30 on 31 October to 00:30 on
 * 1 November; agents report every 5 minutes and billing stops at the last report, so by
 * midnight October has been billed to 23:55 (25 min: 3.166666); the 5 minutes to midnight are
 * confirmed by the report at 00:00 and billed in November as an adjustment naming October
 * (3.80 - 3.166666 = 0.633334); November's own 30 minutes are a charge (3.80). An operator's
 * credit for October (2.50) and a charge not about a rental (1.00), posted later, are
 * November lines; October's statement reads exactly as before.
 */
static void test_closed_month_invoice(void **state)
{
    int64_t nov = INT64_C(1793491200) * SEC; /* 2026-11-01T00:00:00Z */
    int64_t oct = INT64_C(1790812800) * SEC; /* 2026-10-01T00:00:00Z */
    int64_t dec = INT64_C(1796083200) * SEC; /* 2026-12-01T00:00:00Z */
    struct tmp t;
    struct driver d;
    struct store_reader *r = NULL;
    struct usage_got before, after, g;
    struct command c;
    struct result res;
    char err[ERR_CAP] = "";
    uint64_t od;
    uint32_t tenant, w;
    (void)state;

    tmp_make(&t);
    memset(&d, 0, sizeof(d));
    d.cfg = scenario_config();
    assert_int_equal(engine_new(&d.e, &d.cfg), 0);
    d.s = open_store(&t);
    d.now = nov - 30 * MIN;
    assert_int_equal(store_begin(d.s, err, sizeof(err)), 0);
    drv_price(&d, A100, 81920, "7.60", NULL, NULL, NULL, NULL);
    drv_host(&d, "a100-1", A100, 8);
    tenant = drv_tenant(&d, "acme", NULL);
    drv_credit(&d, tenant, "100.00", "wire", NULL);
    od = drv_rent(&d,
                  &(struct cmd_rental_create){.tenant = tenant, .gpu_model = A100, .gpu_count = 1});
    drv_agents(&d); /* running from 23:30 */
    drv_flush(&d);
    drv_run_until(&d, nov + 30 * MIN);
    drv_stop(&d, tenant, od, false);
    drv_flush(&d);

    w = wallet_of(d.e, tenant);
    assert_int_equal(store_open_reader(&r, t.db, err, sizeof(err)), 0);
    usage_read(r, w, oct, nov, &before);
    assert_int_equal(before.n, 1);
    assert_line(&before.lines[0], od, "charge", 1500, M("3.166666"), 0, M("3.166666"));
    assert_int_equal(before.ncredits, 1);

    /* later corrections: a credit for October about the rental, a charge about nothing */
    d.now = nov + 2 * HOUR;
    memset(&c, 0, sizeof(c));
    c.type = CMD_ADJUST;
    c.u.adjust = (struct cmd_adjust){.tenant = tenant,
                                     .amount = M("2.50"),
                                     .rental = od,
                                     .corrects = 2026 * 12 + 9,
                                     .reason = "outage credit"};
    res = drv_cmd(&d, &c, 0);
    assert_int_equal(store_put_adjustment(d.s, res.id, c.u.adjust.reason, err, sizeof(err)), 0);
    c.u.adjust = (struct cmd_adjust){.tenant = tenant, .amount = -M("1.00"), .reason = "setup fee"};
    res = drv_cmd(&d, &c, 0);
    assert_int_equal(store_put_adjustment(d.s, res.id, c.u.adjust.reason, err, sizeof(err)), 0);
    drv_flush(&d);
    store_rollback(d.s);

    /* October reads exactly as before */
    usage_read(r, w, oct, nov, &after);
    assert_int_equal(after.n, before.n);
    assert_int_equal(after.ncredits, before.ncredits);
    for (size_t i = 0; i < before.n; i++) {
        const struct usage_line *x = &after.lines[i], *y = &before.lines[i];
        assert_line(x, y->rental, y->kind, y->seconds, y->list_amount, y->discount, y->amount);
        assert_string_equal(x->rental_id, y->rental_id);
        assert_int_equal(x->gpu_count, y->gpu_count);
        assert_string_equal(x->corrects, y->corrects);
        assert_string_equal(x->reason, y->reason);
    }
    assert_int_equal(after.credits[0].seq, before.credits[0].seq);
    assert_int_equal(after.credits[0].amount, before.credits[0].amount);
    assert_int_equal(after.total, before.total);

    /* November: the late usage, its own charge, the two adjustments */
    usage_read(r, w, nov, dec, &g);
    assert_int_equal(g.n, 4);
    assert_line(&g.lines[0], od, "adjustment", 300, M("0.633334"), 0, M("0.633334"));
    assert_string_equal(g.lines[0].corrects, "2026-10");
    assert_string_equal(g.lines[0].reason, "");
    assert_line(&g.lines[1], od, "charge", 1800, M("3.80"), 0, M("3.80"));
    assert_string_equal(g.lines[1].corrects, "");
    assert_line(&g.lines[2], od, "adjustment", 0, -M("2.50"), 0, -M("2.50"));
    assert_string_equal(g.lines[2].corrects, "2026-10");
    assert_string_equal(g.lines[2].reason, "outage credit");
    assert_line(&g.lines[3], 0, "adjustment", 0, M("1.00"), 0, M("1.00"));
    assert_string_equal(g.lines[3].rental_id, "");
    assert_string_equal(g.lines[3].reason, "setup fee");
    assert_string_equal(g.lines[3].corrects, "");
    assert_int_equal(g.total, M("0.633334") + M("3.80") - M("2.50") + M("1.00"));
    assert_int_equal(g.ncredits, 0);
    /* the wallet moved by the credits less the lines, over both months */
    assert_int_equal(engine_account_balance(d.e, w), before.credits_total - before.total - g.total);
    assert_int_equal(engine_account_balance(d.e, w),
                     M("100.00") - M("7.60") + M("2.50") - M("1.00"));

    store_close_reader(r);
    store_close(d.s);
    free(d.events);
    engine_free(d.e);
    tmp_remove(&t);
}

/*
 * The scenario of the replay test (every term, coupons, promotions, renewals, refunds,
 * preemption, lost hosts): for every tenant, the lines over all time add up per rental to
 * what the rental cost and was discounted (operator adjustments aside), the lines' amounts
 * to the wallet's transfers other than top-ups (read with SQL of our own), and the wallet's
 * balance to credits less lines; and any split of the period gives the same money.
 */
static void test_usage_scenario(void **state)
{
    struct tmp t;
    struct driver d;
    struct scenario_ids x;
    struct store_reader *r = NULL;
    struct usage_got *all, *first, *second;
    char err[ERR_CAP] = "";
    size_t charges = 0, packages = 0, refunds = 0, adjustments = 0;
    sqlite3 *db;
    (void)state;

    all = malloc(sizeof(*all));
    first = malloc(sizeof(*first));
    second = malloc(sizeof(*second));
    assert_true(all && first && second);
    tmp_make(&t);
    memset(&d, 0, sizeof(d));
    memset(&x, 0, sizeof(x));
    d.cfg = scenario_config();
    assert_int_equal(engine_new(&d.e, &d.cfg), 0);
    d.s = open_store(&t);
    run_scenario(&d, &x);
    store_close(d.s);
    db = peek_open(&t);
    assert_int_equal(store_open_reader(&r, t.db, err, sizeof(err)), 0);
    for (uint32_t n = 1; n <= engine_tenant_count(d.e); n++) {
        uint32_t w = wallet_of(d.e, n);
        int64_t paid, split;

        usage_read(r, w, T0 - HOUR, T_END + HOUR, all);
        paid = peek_i64(db,
                        "SELECT COALESCE(SUM(CASE WHEN from_account = ?1 THEN amount"
                        " ELSE -amount END), 0) FROM transfers"
                        " WHERE (from_account = ?1 OR to_account = ?1) AND kind <> 'topup'",
                        w);
        assert_int_equal(all->total, paid);
        assert_int_equal(engine_account_balance(d.e, w), all->credits_total - all->total);
        for (size_t i = 0; i < all->n; i++) {
            struct rental_view v;
            int64_t cost = 0, discount = 0;
            if (all->lines[i].reason[0] != '\0') { /* an operator's adjustment */
                adjustments++;
                assert_string_equal(all->lines[i].kind, "adjustment");
                continue;
            }
            assert_int_equal(engine_rental(d.e, all->lines[i].rental, &v), 0);
            assert_int_equal(v.tenant, n);
            for (size_t k = 0; k < all->n; k++) {
                if (all->lines[k].rental == v.id && all->lines[k].reason[0] == '\0') {
                    cost += all->lines[k].amount;
                    discount += all->lines[k].discount;
                }
            }
            assert_int_equal(cost, v.cost);
            assert_int_equal(discount, v.discount);
            charges += strcmp(all->lines[i].kind, "charge") == 0;
            packages += strcmp(all->lines[i].kind, "package") == 0;
            refunds += strcmp(all->lines[i].kind, "refund") == 0;
            assert_true(strcmp(all->lines[i].kind, "refund") == 0 ? all->lines[i].seconds <= 0
                                                                  : all->lines[i].seconds >= 0);
        }
        /* split at an odd time: the same total */
        usage_read(r, w, T0 - HOUR, T0 + 7 * HOUR + 17 * SEC, first);
        usage_read(r, w, T0 + 7 * HOUR + 17 * SEC, T_END + HOUR, second);
        split = first->total + second->total;
        assert_int_equal(split, all->total);
        assert_int_equal(first->credits_total + second->credits_total, all->credits_total);
    }
    /* the requeue links, both ways, in the rentals table */
    assert_int_equal(peek_i64(db,
                              "SELECT COUNT(*) FROM rentals s JOIN rentals n"
                              " ON n.requeued_from = s.id AND s.requeued_as = n.id"
                              " WHERE s.num = ?1 AND s.requeue = 1 AND n.requeue = 1"
                              " AND s.end_reason = 'preempted'",
                              (int64_t)x.r_spot),
                     1);
    /* every kind the scenario makes: on demand and spot, day/week/month packages, renewals */
    assert_true(charges >= 6 && packages >= 3 && refunds >= 2);
    assert_int_equal(adjustments, 2);
    /* on-demand rentals that ran to their end: the charge lines' seconds are the time billed */
    {
        struct rental_view v;
        uint32_t w;
        assert_int_equal(engine_rental(d.e, x.r_restart, &v), 0);
        w = wallet_of(d.e, v.tenant);
        usage_read(r, w, T0 - HOUR, T_END + HOUR, all);
        for (size_t i = 0; i < all->n; i++) {
            if (all->lines[i].rental == x.r_restart)
                assert_true(llabs(all->lines[i].seconds - v.billed_us / SEC) <= 1);
        }
    }
    sqlite3_close(db);
    store_close_reader(r);
    free(d.events);
    engine_free(d.e);
    free(all);
    free(first);
    free(second);
    tmp_remove(&t);
}

/* A transfer stored under a seq must not change: a replay that diverges is caught. */
static void test_put_events_idempotent_and_checked(void **state)
{
    struct tmp t;
    struct store *s;
    struct engine *e;
    struct engine_config cfg;
    struct command c;
    struct result r;
    struct event ev[64];
    size_t n;
    int64_t before[ARRAY_SIZE(event_tables)], after[ARRAY_SIZE(event_tables)];
    char err[ERR_CAP] = "";
    (void)state;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0;
    assert_int_equal(engine_new(&e, &cfg), 0);
    c = (struct command){.type = CMD_PRICE_SET};
    c.u.price_set.gpu_model = A100;
    c.u.price_set.on_demand_hourly = M("7.60");
    c.u.price_set.package[0] = M("150");
    assert_int_equal(engine_apply(e, &c, T0, &r), 0);
    {
        struct gpu_spec g[2] = {{0, "GPU-0", A100, 81920, 0}, {1, "GPU-1", A100, 81920, 0}};
        c = (struct command){.type = CMD_HOST_REGISTER};
        c.u.host_register = (struct cmd_host_register){"h", g, 2};
        assert_int_equal(engine_apply(e, &c, T0, &r), 0);
    }
    c = (struct command){.type = CMD_TENANT_CREATE};
    c.u.tenant_create.name = "acme";
    assert_int_equal(engine_apply(e, &c, T0, &r), 0);
    c = (struct command){.type = CMD_CREDIT};
    c.u.credit = (struct cmd_credit){.tenant = 1, .amount = M("500")};
    assert_int_equal(engine_apply(e, &c, T0, &r), 0);
    c = (struct command){.type = CMD_RENTAL_CREATE};
    c.u.rental_create = req(1, A100, 1, TERM_DAY);
    assert_int_equal(engine_apply(e, &c, T0 + SEC, &r), 0);
    n = engine_drain_events(e, ev, ARRAY_SIZE(ev));
    assert_true(n >= 6);

    tmp_make(&t);
    s = open_store(&t);
    put_all_events(s, e, ev, n);
    count_event_tables(&t, before);
    assert_int_equal(before[0], 1); /* tenants */
    assert_int_equal(before[2], 2); /* transfers: the top-up and the package */
    assert_int_equal(before[3], 1); /* hosts */
    assert_int_equal(before[4], 2); /* gpus */
    assert_int_equal(before[5], 1); /* models */
    assert_int_equal(before[6], 1); /* rentals */
    /* the same events again, in one call and one at a time: one row each still */
    put_all_events(s, e, ev, n);
    assert_int_equal(store_begin(s, err, sizeof(err)), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(store_put_events(s, e, &ev[i], 1, err, sizeof(err)), 0);
    assert_int_equal(store_commit(s, err, sizeof(err)), 0);
    count_event_tables(&t, after);
    assert_memory_equal(before, after, sizeof(before));

    /* a transfer that differs from the stored one under its seq */
    for (size_t i = 0; i < n; i++) {
        if (ev[i].type == EV_TRANSFER) {
            struct event bad = ev[i];
            bad.u.transfer.amount += 1;
            assert_int_equal(store_begin(s, err, sizeof(err)), 0);
            assert_int_equal(store_put_events(s, e, &bad, 1, err, sizeof(err)), ERR_CONFLICT);
            assert_string_equal(err, "sqlite: transfer 1 differs from the stored one: the "
                                     "engine's replay diverged from history");
            store_rollback(s);
            break;
        }
    }
    store_close(s);
    engine_free(e);
    tmp_remove(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_applies_migrations),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_log_and_replay),
        cmocka_unit_test(test_rollback_leaves_nothing),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_put_events_idempotent_and_checked),
        cmocka_unit_test(test_replay_equivalence),
        cmocka_unit_test(test_usage_lines),
        cmocka_unit_test(test_usage_scenario),
        cmocka_unit_test(test_closed_month_invoice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
