/*
 * migrations.c - the schema's migrations (see migrations.h and docs/schema.md).
 *
 * Conventions of every table: money is INTEGER micro-units (1 unit = 1,000,000), times are
 * INTEGER microseconds since the Unix epoch (NULL = not yet), enums are their wire names
 * (types.h), and objects are named by their public ids ("tnt_...", "hst_...", "rnt_...").
 * Entity tables also keep the engine's number (`num`, the rowid), so rows are stored in
 * creation order. The two high-volume history tables (transfers, rental_events) refer to a
 * rental by that number (`rental_num`), not by its public id: public ids are scrambled, so an
 * index on them takes inserts at random places across all history, while numbers keep the
 * inserts among the recent rentals (measured: 2x the group-commit throughput at 50k rentals).
 * The `ledger` view joins the public ids back. The comments inside CREATE TABLE are kept by
 * SQLite: `.schema` shows them.
 */
#include "../common/compat.h"

#include "migrations.h"

static const char migration_1[] =
    /* ---- recovery: the command log ---- */
    "CREATE TABLE command_log (\n"
    "    seq  INTEGER PRIMARY KEY, -- 1, 2, ...: the order the engine applied the commands\n"
    "    at   INTEGER NOT NULL,    -- when it was applied (the engine's now)\n"
    "    body TEXT NOT NULL        -- the command as JSON (src/server/cmdjson.h)\n"
    ");\n"

    /* ---- tables written from the engine's events ---- */
    "CREATE TABLE tenants (\n"
    "    num            INTEGER PRIMARY KEY,     -- the engine's tenant number\n"
    "    id             TEXT NOT NULL UNIQUE,    -- public id, tnt_...\n"
    "    name           TEXT NOT NULL,\n"
    "    account        INTEGER NOT NULL UNIQUE, -- the wallet's ledger account\n"
    "    credit_limit   INTEGER NOT NULL,        -- the wallet may go this far below zero\n"
    "    monthly_budget INTEGER NOT NULL,        -- 0 = no cap\n"
    "    created_at     INTEGER NOT NULL,\n"
    "    updated_at     INTEGER NOT NULL         -- time of the last event about it\n"
    ");\n"

    "CREATE TABLE accounts (\n"
    "    account   INTEGER PRIMARY KEY, -- the ledger's account number\n"
    "    kind      TEXT NOT NULL\n"
    "              CHECK (kind IN ('external', 'revenue', 'discounts', 'refunds', 'deferred',\n"
    "                              'wallet')),\n"
    "    tenant_id TEXT REFERENCES tenants(id) -- wallets: the owner; NULL otherwise\n"
    ");\n"
    "INSERT INTO accounts (account, kind) VALUES\n"
    "    (0, 'external'), (1, 'revenue'), (2, 'discounts'), (3, 'refunds'), (4, 'deferred');\n"

    "CREATE TABLE transfers (\n"
    "    seq          INTEGER PRIMARY KEY, -- the ledger's sequence number: 1, 2, ...\n"
    "    at           INTEGER NOT NULL,\n"
    "    from_account INTEGER NOT NULL REFERENCES accounts(account),\n"
    "    to_account   INTEGER NOT NULL REFERENCES accounts(account),\n"
    "    amount       INTEGER NOT NULL CHECK (amount > 0),\n"
    "    kind         TEXT NOT NULL,       -- topup, charge, discount, package, recognize,\n"
    "                                      -- refund, discount_reversal, adjustment\n"
    "    rental_num   INTEGER REFERENCES rentals(num) -- NULL when not about a rental\n"
    ");\n"
    "CREATE INDEX transfers_from ON transfers (from_account);\n"
    "CREATE INDEX transfers_to ON transfers (to_account);\n"
    "CREATE INDEX transfers_rental ON transfers (rental_num) WHERE rental_num IS NOT NULL;\n"

    "CREATE TABLE hosts (\n"
    "    num                   INTEGER PRIMARY KEY, -- the engine's host number\n"
    "    id                    TEXT NOT NULL UNIQUE, -- public id, hst_...\n"
    "    hostname              TEXT NOT NULL,\n"
    "    gpu_model             TEXT NOT NULL,\n"
    "    gpu_count             INTEGER NOT NULL,\n"
    "    state                 TEXT NOT NULL,       -- ready, draining, down\n"
    "    registered_at         INTEGER NOT NULL,\n"
    "    -- the cost basis (PUT /v1/hosts/{id}/cost); all NULL until one is set\n"
    "    purchase_price        INTEGER,\n"
    "    purchased_at          INTEGER,\n"
    "    depreciation_years    INTEGER,\n"
    "    salvage_ppm           INTEGER,             -- salvage value, parts per million\n"
    "    power_watts           INTEGER,\n"
    "    pue_milli             INTEGER,             -- PUE x 1000\n"
    "    electricity_kwh_price INTEGER,\n"
    "    hosting_monthly       INTEGER,\n"
    "    updated_at            INTEGER NOT NULL\n"
    ");\n"

    "CREATE TABLE gpus (\n"
    "    uuid          TEXT PRIMARY KEY,\n"
    "    host_id       TEXT NOT NULL REFERENCES hosts(id),\n"
    "    idx           INTEGER NOT NULL, -- the host-local index\n"
    "    memory_mib    INTEGER NOT NULL,\n"
    "    nvlink_island INTEGER NOT NULL,\n"
    "    UNIQUE (host_id, idx)\n"
    ");\n"

    "CREATE TABLE models (\n"
    "    gpu_model         TEXT PRIMARY KEY,\n"
    "    memory_mib        INTEGER NOT NULL, -- 0 = not known yet\n"
    "    on_demand_hourly  INTEGER NOT NULL, -- per GPU; 0 = not priced\n"
    "    spot_floor_hourly INTEGER NOT NULL, -- per GPU; 0 = spot not offered\n"
    "    day_price         INTEGER NOT NULL, -- per GPU for the whole term; 0 = not offered\n"
    "    week_price        INTEGER NOT NULL,\n"
    "    month_price       INTEGER NOT NULL,\n"
    "    updated_at        INTEGER NOT NULL\n"
    ");\n"

    "CREATE TABLE rentals (\n"
    "    num             INTEGER PRIMARY KEY,  -- the engine's rental number\n"
    "    id              TEXT NOT NULL UNIQUE, -- public id, rnt_...\n"
    "    tenant_id       TEXT NOT NULL REFERENCES tenants(id),\n"
    "    state           TEXT NOT NULL,        -- pending, starting, running, ended\n"
    "    end_reason      TEXT,                 -- NULL until ended\n"
    "    exit_code       INTEGER NOT NULL,\n"
    "    gpu_model       TEXT NOT NULL,\n"
    "    gpu_count       INTEGER NOT NULL,\n"
    "    term            TEXT NOT NULL,        -- on_demand, spot, day, week, month\n"
    "    hourly_price    INTEGER NOT NULL,     -- per GPU, what the tenant pays\n"
    "    list_hourly     INTEGER NOT NULL,     -- per GPU, the list price at creation\n"
    "    max_hourly      INTEGER NOT NULL,     -- spot: the bid per GPU\n"
    "    host_id         TEXT REFERENCES hosts(id), -- NULL when never placed\n"
    "    gpu_mask        INTEGER NOT NULL,     -- host-local GPU indices held (bit i = index i)\n"
    "    epoch           INTEGER NOT NULL,     -- the assignment epoch\n"
    "    auto_renew      INTEGER NOT NULL,     -- 0 or 1\n"
    "    has_workload    INTEGER NOT NULL,     -- 0 or 1\n"
    "    created_at      INTEGER NOT NULL,\n"
    "    placed_at       INTEGER,\n"
    "    started_at      INTEGER,\n"
    "    ends_at         INTEGER,              -- packages: the end of the term\n"
    "    ended_at        INTEGER,\n"
    "    preempt_at      INTEGER,              -- spot under notice: when its GPUs are taken\n"
    "    cost            INTEGER NOT NULL,     -- net charged so far\n"
    "    discount        INTEGER NOT NULL,     -- discounts given so far\n"
    "    amount_off_used INTEGER NOT NULL,     -- the part of discount from an amount-off coupon\n"
    "    billed_us       INTEGER NOT NULL,     -- microseconds billed so far\n"
    "    updated_at      INTEGER NOT NULL      -- time of the last event or transfer about it\n"
    ");\n"
    "CREATE INDEX rentals_tenant ON rentals (tenant_id);\n"

    "CREATE TABLE rental_events (\n"
    "    rental_num INTEGER NOT NULL REFERENCES rentals(num),\n"
    "    at         INTEGER NOT NULL,\n"
    "    event      TEXT NOT NULL, -- created, state, preempt_notice\n"
    "    from_state TEXT NOT NULL,\n"
    "    to_state   TEXT NOT NULL,\n"
    "    end_reason TEXT,          -- set when to_state is ended\n"
    "    host_id    TEXT,          -- the host at the time, NULL when not placed\n"
    "    preempt_at INTEGER,       -- preempt_notice: when the GPUs will be taken\n"
    "    PRIMARY KEY (rental_num, at, event, from_state, to_state)\n"
    ") WITHOUT ROWID;\n"

    "CREATE TABLE alerts (\n"
    "    at          INTEGER NOT NULL,\n"
    "    kind        TEXT NOT NULL, -- mass_silence, mass_silence_cleared\n"
    "    hosts_down  INTEGER NOT NULL,\n"
    "    hosts_total INTEGER NOT NULL,\n"
    "    PRIMARY KEY (at, kind)\n"
    ") WITHOUT ROWID;\n"

    /* ---- the server's own records ---- */
    "CREATE TABLE api_keys (\n"
    "    id         TEXT PRIMARY KEY,  -- key_...\n"
    "    prefix     TEXT NOT NULL,     -- the first characters of the key, shown in lists\n"
    "    hash       BLOB NOT NULL,     -- keyed hash of the whole key (32 bytes)\n"
    "    role       INTEGER NOT NULL,  -- 1 admin, 2 tenant, 4 agent (enum role, http.h)\n"
    "    tenant_id  TEXT,              -- tenant keys: the tenant\n"
    "    host_id    TEXT,              -- agent keys: the host\n"
    "    created_at INTEGER NOT NULL,\n"
    "    revoked_at INTEGER,           -- NULL while the key is live\n"
    "    last_used_at INTEGER          -- NULL until used; written at most once a minute\n"
    ");\n"

    "CREATE TABLE idempotency (\n"
    "    scope     TEXT NOT NULL,  -- who and what: e.g. the caller and the route\n"
    "    key       TEXT NOT NULL,  -- the Idempotency-Key header\n"
    "    body_hash BLOB NOT NULL,  -- hash of the first request's body (32 bytes)\n"
    "    status    INTEGER NOT NULL, -- the first reply's HTTP status\n"
    "    reply     TEXT,           -- and its body\n"
    "    PRIMARY KEY (scope, key)\n"
    ") WITHOUT ROWID;\n"

    "CREATE TABLE meta (\n"
    "    name  TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL\n"
    ") WITHOUT ROWID;\n"

    /* ---- views for people ---- */
    "CREATE VIEW ledger AS -- transfers with the public ids of the rental and the wallets' owners\n"
    "    SELECT t.seq, t.at, t.kind, t.amount, t.from_account, f.tenant_id AS from_tenant_id,\n"
    "           t.to_account, o.tenant_id AS to_tenant_id, r.id AS rental_id\n"
    "    FROM transfers t\n"
    "    JOIN accounts f ON f.account = t.from_account\n"
    "    JOIN accounts o ON o.account = t.to_account\n"
    "    LEFT JOIN rentals r ON r.num = t.rental_num;\n"

    "CREATE VIEW postings AS -- each transfer twice: + on the account it went to, - on the other\n"
    "    SELECT seq, at, to_account AS account, amount, kind, from_account AS counterpart,\n"
    "           rental_num FROM transfers\n"
    "    UNION ALL\n"
    "    SELECT seq, at, from_account, -amount, kind, to_account, rental_num FROM transfers;\n"

    "CREATE VIEW account_balances AS\n"
    "    SELECT a.account, a.kind, a.tenant_id,\n"
    "           (SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE to_account = a.account) -\n"
    "           (SELECT COALESCE(SUM(amount), 0) FROM transfers WHERE from_account = a.account)\n"
    "           AS balance\n"
    "    FROM accounts a;\n";

/* Billing corrections: late usage and operator adjustments name the closed month they
   correct; an adjustment's reason is kept beside its transfer. Spot requeue links. */
static const char migration_2[] =
    "ALTER TABLE transfers ADD COLUMN corrects TEXT; -- YYYY-MM: the closed month this transfer\n"
    "    -- bills late or corrects (posted in a later month); NULL = the month it is posted in\n"
    "ALTER TABLE rentals ADD COLUMN requeue INTEGER NOT NULL DEFAULT 0; -- spot: 0 or 1\n"
    "ALTER TABLE rentals ADD COLUMN requeued_from TEXT; -- the preempted rental it continues\n"
    "ALTER TABLE rentals ADD COLUMN requeued_as TEXT;   -- its successor, once preempted\n"
    "CREATE TABLE adjustments (\n"
    "    seq    INTEGER PRIMARY KEY, -- the adjustment transfer's seq\n"
    "    reason TEXT NOT NULL        -- why the operator made it (shown on the statement)\n"
    ");\n";

const struct migration migrations[] = {
    {"initial schema", migration_1},
    {"billing corrections", migration_2},
};

const size_t migration_count = ARRAY_SIZE(migrations);
