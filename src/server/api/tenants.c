/*
 * tenants.c - tenants, their money and their keys:
 *   POST/GET /v1/tenants, GET/PATCH /v1/tenants/{id}, POST /v1/tenants/{id}/credits,
 *   GET /v1/balance, POST/GET /v1/keys, DELETE /v1/keys/{id}, POST /v1/keys/{id}/rotate.
 */
#include "../../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/hmap.h"
#include "../../common/ids.h"
#include "../../engine/money.h"
#include "../../store/store.h"
#include "../apijson.h"
#include "../auth.h"
#include "../server.h"
#include "handlers.h"

#define NAME_MAX_BYTES      64
#define REFERENCE_MAX_BYTES 255

/* What the hooks of a tenant job need. */
struct tenant_ctx {
    struct server *srv;
    struct api_idem idem;
    uint32_t tenant;    /* the tenant acted on (key creation) */
    uint32_t host;      /* the host of an agent key (key creation) */
    enum role key_role; /* the role of a key to mint */
    const char *key_id; /* the key to revoke */
    const struct request *req;
};

/* The tenant in the path: 0 and *out, or -1 with a 404 written. */
static int path_tenant(struct request *req, struct response *res, uint32_t *out)
{
    uint64_t n;

    if (api_parse_id(ID_TENANT, req->params[0], UINT32_MAX, &n) < 0) {
        http_problem(res, 404, "unknown tenant \"%.40s\"", req->params[0]);
        return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

/* Mint a key for (role, tenant, host), store it in the batch and add it to the keyring.
 * 0 and text/rec set, or the store's error (which fails the batch). */
static int mint_key(struct server *srv, struct store *store, enum role role, uint32_t tenant,
                    uint32_t host, int64_t now, char text[KEY_TEXT_MAX], struct key_record *rec)
{
    char err[256];
    int rc;

    rc = keyring_mint(&srv->keys, role, tenant, host, now, text, rec);
    if (rc < 0)
        return rc;
    rc = store_put_key(store, rec, err, sizeof(err));
    if (rc < 0)
        return rc;
    return keyring_add(&srv->keys, rec);
}

static const char *role_name(int role)
{
    switch (role) {
    case ROLE_ADMIN:
        return "admin";
    case ROLE_TENANT:
        return "tenant";
    case ROLE_AGENT:
        return "agent";
    }
    return "public";
}

static json_t *key_json(const struct key_record *k)
{
    json_t *j = json_object();

    json_object_set_new(j, "id", json_string(k->id));
    json_object_set_new(j, "object", json_string("api_key"));
    json_object_set_new(j, "prefix", json_string(k->prefix));
    json_object_set_new(j, "role", json_string(role_name(k->role)));
    json_object_set_new(j, "tenant_id",
                        k->role == ROLE_TENANT ? api_id(ID_TENANT, k->tenant) : json_null());
    json_object_set_new(j, "host_id",
                        k->role == ROLE_AGENT ? api_id(ID_HOST, k->host) : json_null());
    json_object_set_new(j, "created_at", api_time(k->created_at));
    json_object_set_new(j, "last_used_at", api_time(k->last_used_at));
    json_object_set_new(j, "revoked_at", api_time(k->revoked_at));
    return j;
}

/* ---- POST /v1/tenants ------------------------------------------------------------------ */

static int tenant_created(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct tenant_ctx *ctx = job->ctx;
    struct tenant_view tv;
    struct key_record rec;
    char text[KEY_TEXT_MAX];
    json_t *j;
    int rc;

    if (job->result.code != 0)
        return 0;
    rc = mint_key(ctx->srv, store, ROLE_TENANT, (uint32_t)job->result.id, 0, now, text, &rec);
    if (rc < 0)
        return rc;
    if (engine_tenant(e, (uint32_t)job->result.id, &tv) < 0)
        return api_job_problem(job, 500, "the new tenant vanished");
    j = api_tenant_json(&tv);
    json_object_set_new(j, "api_key", json_string(text));
    json_object_set_new(j, "api_key_id", json_string(rec.id));
    return api_job_reply(job, 201, j);
}

void api_tenant_create(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"name", "credit_limit", NULL};
    struct tenant_ctx ctx = {.srv = req->srv};
    struct core_job job = {0};
    struct command cmd = {.type = CMD_TENANT_CREATE};
    struct api_fields f;
    struct api_error err;
    json_t *body = api_body(req, res, API_BODY_REQUIRED);

    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_string(&f, "name", true, NAME_MAX_BYTES, &cmd.u.tenant_create.name);
    api_get_money(&f, "credit_limit", false, 0, &cmd.u.tenant_create.credit_limit);
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    job.cmd = &cmd;
    job.after = tenant_created;
    job.ctx = &ctx;
    api_submit(req, res, &job);
out:
    json_decref(body);
}

/* ---- GET /v1/tenants, GET /v1/tenants/{id} -------------------------------------------- */

void api_tenant_list(struct request *req, struct response *res)
{
    char cursor[ID_STR_MAX];
    const struct engine *e;
    struct api_page page;
    json_t *data;
    uint32_t n, id, last = 0;
    bool more = false;
    static const char *const args[] = {"limit", "cursor", NULL};

    if (api_only_query(req, res, args) < 0 || api_page_parse(req, res, ID_TENANT, &page) < 0)
        return;
    data = json_array();
    e = core_read_begin(req->srv->core);
    n = engine_tenant_count(e);
    id = page.has_cursor ? (page.cursor >= n ? n + 1 : (uint32_t)page.cursor + 1) : 1;
    for (; id <= n; id++) {
        struct tenant_view tv;

        if (json_array_size(data) == page.limit) {
            more = true;
            break;
        }
        if (engine_tenant(e, id, &tv) < 0)
            continue;
        json_array_append_new(data, api_tenant_json(&tv));
        last = id;
    }
    core_read_end(req->srv->core);
    api_reply_list(res, data, more ? id_format(cursor, ID_TENANT, last) : NULL);
}

void api_tenant_get(struct request *req, struct response *res)
{
    const struct engine *e;
    struct tenant_view tv;
    json_t *j = NULL;
    uint32_t id;

    if (path_tenant(req, res, &id) < 0)
        return;
    e = core_read_begin(req->srv->core);
    if (engine_tenant(e, id, &tv) == 0)
        j = api_tenant_json(&tv);
    core_read_end(req->srv->core);
    if (j == NULL) {
        http_problem(res, 404, "unknown tenant \"%.40s\"", req->params[0]);
        return;
    }
    api_reply(res, 200, j);
}

/* ---- PATCH /v1/tenants/{id} ----------------------------------------------------------- */

static int tenant_updated(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct tenant_view tv;

    (void)store;
    (void)now;
    if (job->result.code != 0)
        return 0;
    if (engine_tenant(e, (uint32_t)job->result.id, &tv) < 0)
        return api_job_problem(job, 500, "the tenant vanished");
    return api_job_reply(job, 200, api_tenant_json(&tv));
}

void api_tenant_update(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"credit_limit", "monthly_budget", NULL};
    struct core_job job = {0};
    struct command cmd = {.type = CMD_TENANT_UPDATE};
    struct cmd_tenant_update *u = &cmd.u.tenant_update;
    struct api_fields f;
    struct api_error err;
    const json_t *budget;
    json_t *body = NULL;
    uint32_t id;

    if (path_tenant(req, res, &id) < 0)
        return;
    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    u->tenant = id;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    if (json_is_null(json_object_get(body, "credit_limit")))
        api_fail_field(&f, "credit_limit", "must be a decimal string like \"7.60\", not null");
    u->set_credit_limit = api_get_money(&f, "credit_limit", false, 0, &u->credit_limit);
    budget = json_object_get(body, "monthly_budget");
    if (budget != NULL && json_is_null(budget)) {
        u->set_monthly_budget = true; /* null: no cap */
        u->monthly_budget = 0;
    } else {
        u->set_monthly_budget = api_get_money(&f, "monthly_budget", false, 0, &u->monthly_budget);
    }
    if (!api_failed(&f) && !u->set_credit_limit && !u->set_monthly_budget)
        api_fail(&f, "nothing to change: send credit_limit or monthly_budget");
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    job.cmd = &cmd;
    job.after = tenant_updated;
    api_submit(req, res, &job);
out:
    json_decref(body);
}

/* ---- POST /v1/tenants/{id}/credits ----------------------------------------------------- */

static int credit_before(struct core_job *job, const struct engine *e)
{
    struct tenant_ctx *ctx = job->ctx;

    (void)e;
    return api_idem_before(&ctx->idem, job);
}

static int credited(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct tenant_ctx *ctx = job->ctx;
    const struct cmd_credit *c = &job->cmd->u.credit;
    json_t *j;

    (void)e;
    (void)now;
    if (job->result.code != 0)
        return 0;
    j = json_object();
    json_object_set_new(j, "object", json_string("credit"));
    json_object_set_new(j, "tenant_id", api_id(ID_TENANT, c->tenant));
    json_object_set_new(j, "amount", api_money(c->amount));
    json_object_set_new(j, "reference", c->reference ? json_string(c->reference) : json_null());
    json_object_set_new(j, "balance", api_money(job->result.amount));
    json_object_set_new(j, "transfer_seq", json_integer((json_int_t)job->result.id));
    api_job_reply(job, 201, j);
    return api_idem_after(&ctx->idem, job, store);
}

void api_tenant_credit(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"amount", "reference", NULL};
    struct tenant_ctx ctx = {.srv = req->srv, .req = req};
    struct core_job job = {0};
    struct command cmd = {.type = CMD_CREDIT};
    struct api_fields f;
    struct api_error err;
    char transfer_id[80];
    json_t *body = NULL;
    uint32_t id;

    if (path_tenant(req, res, &id) < 0)
        return;
    if (api_idem_init(&ctx.idem, req, res) < 0)
        return;
    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    cmd.u.credit.tenant = id;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_money(&f, "amount", true, 1, &cmd.u.credit.amount);
    api_get_string(&f, "reference", true, REFERENCE_MAX_BYTES, &cmd.u.credit.reference);
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    if (ctx.idem.key != NULL) {
        /* the ledger dedupes keyed transfers too: a replayed log never credits twice */
        unsigned char h[32];
        char both[512];
        int n = snprintf(both, sizeof(both), "%s\n%s", ctx.idem.scope, ctx.idem.key);

        idem_hash_body(both, (size_t)n < sizeof(both) ? (size_t)n : sizeof(both) - 1, h);
        n = snprintf(transfer_id, sizeof(transfer_id), "credit:");
        for (int i = 0; i < 32; i++)
            n += snprintf(transfer_id + n, sizeof(transfer_id) - (size_t)n, "%02x", h[i]);
        cmd.u.credit.transfer_id = transfer_id;
    }
    job.cmd = &cmd;
    job.before = credit_before;
    job.after = credited;
    job.ctx = &ctx;
    api_submit(req, res, &job);
    if (ctx.idem.replayed)
        http_add_header(res, "Idempotent-Replayed", "true");
out:
    json_decref(body);
}

/* ---- POST /v1/tenants/{id}/adjustments ------------------------------------------------- */

static int adjusted(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct tenant_ctx *ctx = job->ctx;
    const struct cmd_adjust *c = &job->cmd->u.adjust;
    char err[256], month[16];
    json_t *j;

    (void)e;
    if (job->result.code != 0)
        return 0;
    if (store_put_adjustment(store, job->result.id, c->reason, err, sizeof(err)) < 0)
        return ERR_IO;
    j = json_object();
    json_object_set_new(j, "object", json_string("adjustment"));
    json_object_set_new(j, "tenant_id", api_id(ID_TENANT, c->tenant));
    json_object_set_new(j, "amount", api_money(c->amount));
    json_object_set_new(j, "reason", json_string(c->reason));
    json_object_set_new(j, "rental_id", api_id(ID_RENTAL, c->rental));
    if (c->corrects != 0) {
        snprintf(month, sizeof(month), "%04d-%02d", (int)(c->corrects / 12),
                 (int)(c->corrects % 12 + 1));
        json_object_set_new(j, "corrects", json_string(month));
    } else {
        json_object_set_new(j, "corrects", json_null());
    }
    json_object_set_new(j, "at", api_time(now));
    json_object_set_new(j, "balance", api_money(job->result.amount));
    json_object_set_new(j, "transfer_seq", json_integer((json_int_t)job->result.id));
    api_job_reply(job, 201, j);
    return api_idem_after(&ctx->idem, job, store);
}

void api_tenant_adjust(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"amount", "reason", "rental_id", "corrects", NULL};
    struct tenant_ctx ctx = {.srv = req->srv, .req = req};
    struct core_job job = {0};
    struct command cmd = {.type = CMD_ADJUST};
    struct cmd_adjust *c = &cmd.u.adjust;
    const char *corrects = NULL;
    struct api_fields f;
    struct api_error err;
    json_t *body = NULL;
    uint32_t id;

    if (path_tenant(req, res, &id) < 0)
        return;
    if (api_idem_init(&ctx.idem, req, res) < 0)
        return;
    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    c->tenant = id;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_money(&f, "amount", true, -MONEY_MAX, &c->amount);
    if (!api_failed(&f) && c->amount == 0)
        api_fail_field(&f, "amount", "must not be zero (positive credits, negative charges)");
    api_get_string(&f, "reason", true, ADJUST_REASON_MAX, &c->reason);
    api_get_id(&f, "rental_id", false, ID_RENTAL, ID_NUMBER_MAX, &c->rental);
    if (api_get_string(&f, "corrects", false, 7, &corrects) &&
        api_parse_month(corrects, &c->corrects) < 0)
        api_fail_field(&f, "corrects", "must be a calendar month like \"2026-11\"");
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    job.cmd = &cmd;
    job.before = credit_before;
    job.after = adjusted;
    job.ctx = &ctx;
    api_submit(req, res, &job);
    if (ctx.idem.replayed)
        http_add_header(res, "Idempotent-Replayed", "true");
out:
    json_decref(body);
}

/* ---- GET /v1/balance ------------------------------------------------------------------- */

void api_balance(struct request *req, struct response *res)
{
    const struct engine *e;
    struct tenant_view tv;
    json_t *j;
    int rc;

    e = core_read_begin(req->srv->core);
    rc = engine_tenant(e, req->who.tenant, &tv);
    core_read_end(req->srv->core);
    if (rc < 0) {
        http_problem(res, 404, "unknown tenant");
        return;
    }
    j = json_object();
    json_object_set_new(j, "object", json_string("balance"));
    json_object_set_new(j, "tenant_id", api_id(ID_TENANT, tv.id));
    json_object_set_new(j, "balance", api_money(tv.balance));
    json_object_set_new(j, "credit_limit", api_money(tv.credit_limit));
    json_object_set_new(j, "monthly_budget",
                        tv.monthly_budget > 0 ? api_money(tv.monthly_budget) : json_null());
    json_object_set_new(j, "month_spent", api_money(tv.month_spent));
    json_object_set_new(j, "hourly_burn", api_money(tv.hourly_burn));
    json_object_set_new(j, "live_rentals", json_integer(tv.live_rentals));
    if (tv.hourly_burn > 0) {
        /* how long balance + credit lasts at the current burn (null: nothing burns) */
        int64_t avail;
        if (__builtin_add_overflow(tv.balance, tv.credit_limit, &avail)) /* each <= 2^62 */
            avail = MONEY_MAX;
        int64_t us = avail > 0 ? money_affordable_us(tv.hourly_burn, avail) : 0;
        json_object_set_new(j, "runway_seconds", json_integer(us / USEC_PER_SEC));
    } else {
        json_object_set_new(j, "runway_seconds", json_null());
    }
    api_reply(res, 200, j);
}

/* ---- Keys ------------------------------------------------------------------------------ */

static int key_created(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct tenant_ctx *ctx = job->ctx;
    struct tenant_view tv;
    struct host_view hv;
    struct key_record rec;
    char text[KEY_TEXT_MAX];
    json_t *j;
    int rc;

    if (ctx->key_role == ROLE_TENANT && engine_tenant(e, ctx->tenant, &tv) < 0)
        return api_job_problem(job, 404, "unknown tenant");
    if (ctx->key_role == ROLE_AGENT && engine_host(e, ctx->host, &hv) < 0)
        return api_job_problem(job, 404, "unknown host");
    rc = mint_key(ctx->srv, store, ctx->key_role, ctx->tenant, ctx->host, now, text, &rec);
    if (rc < 0)
        return rc;
    j = key_json(&rec);
    json_object_set_new(j, "api_key", json_string(text));
    return api_job_reply(job, 201, j);
}

void api_key_create(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"tenant_id", "host_id", NULL};
    struct tenant_ctx ctx = {.srv = req->srv};
    struct core_job job = {0};
    struct api_fields f;
    struct api_error err;
    uint64_t tenant = 0, host = 0;
    json_t *body = api_body(req, res, API_BODY_OPTIONAL);

    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_id(&f, "tenant_id", false, ID_TENANT, UINT32_MAX, &tenant);
    api_get_id(&f, "host_id", false, ID_HOST, UINT32_MAX, &host);
    if (!api_failed(&f) && tenant != 0 && host != 0)
        api_fail_field(&f, "host_id", "give tenant_id or host_id, not both");
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    if (req->who.role == ROLE_TENANT) {
        if ((tenant != 0 && tenant != req->who.tenant) || host != 0) {
            http_problem(res, 404, "unknown tenant");
            goto out;
        }
        ctx.key_role = ROLE_TENANT;
        ctx.tenant = req->who.tenant;
    } else {
        ctx.key_role = tenant != 0 ? ROLE_TENANT : host != 0 ? ROLE_AGENT : ROLE_ADMIN;
        ctx.tenant = (uint32_t)tenant;
        ctx.host = (uint32_t)host;
    }
    job.after = key_created;
    job.ctx = &ctx;
    api_submit(req, res, &job);
out:
    json_decref(body);
}

/* May the caller see this key? A tenant sees its own tenant keys only. */
static bool key_visible(const struct request *req, const struct key_record *k)
{
    if (req->who.role == ROLE_ADMIN)
        return true;
    return k->role == ROLE_TENANT && k->tenant == req->who.tenant;
}

/* The key in ctx->key_id, copied into *out, if it exists and the caller may see it. */
static bool key_find_visible(const struct tenant_ctx *ctx, struct key_record *out)
{
    struct keyring *kr = &ctx->srv->keys;
    uint32_t idx;
    bool found = false;

    pthread_mutex_lock(&kr->lock);
    if (hmap_get(&kr->by_id, ctx->key_id, &idx) == 0 && key_visible(ctx->req, &kr->keys[idx])) {
        *out = kr->keys[idx];
        found = true;
    }
    pthread_mutex_unlock(&kr->lock);
    return found;
}

void api_key_list(struct request *req, struct response *res)
{
    struct keyring *kr = &req->srv->keys;
    const char *cursor = http_query(req, "cursor");
    const char *last = NULL;
    char next[sizeof(((struct key_record *)0)->id)];
    int64_t limit = API_LIMIT_DEFAULT;
    const char *tenant_arg = NULL;
    uint64_t only_tenant = 0;
    uint32_t start = 0;
    bool more = false;
    json_t *data;

    static const char *const args[] = {"limit", "cursor", "tenant", "tenant_id", NULL};

    if (api_only_query(req, res, args) < 0 ||
        api_query_int(req, res, "limit", 1, API_LIMIT_MAX, &limit) < 0 ||
        api_query_tenant(req, res, &tenant_arg) < 0)
        return;
    if (tenant_arg != NULL && api_name_id(ID_TENANT, tenant_arg, UINT32_MAX, &only_tenant) < 0) {
        http_problem(res, 400, "tenant_id: must be an id like \"%s_...\"", ID_TENANT);
        return;
    }
    if (req->who.role == ROLE_TENANT && only_tenant != 0 && only_tenant != req->who.tenant) {
        http_problem(res, 404, "unknown tenant"); /* as everywhere: another's id is unknown */
        return;
    }
    data = json_array();
    /* the engine's read lock first (core.h's order): a key minted or revoked by a batch
       not yet committed is not listed (crash safety: reads show only durable state) */
    core_read_begin(req->srv->core);
    pthread_mutex_lock(&kr->lock);
    if (cursor != NULL) {
        uint32_t idx;
        if (hmap_get(&kr->by_id, cursor, &idx) < 0 || !key_visible(req, &kr->keys[idx])) {
            pthread_mutex_unlock(&kr->lock);
            core_read_end(req->srv->core);
            json_decref(data);
            http_problem(res, 400, "cursor: not a cursor of this list (a key id)");
            return;
        }
        start = idx + 1;
    }
    for (uint32_t i = start; i < kr->count; i++) {
        const struct key_record *k = &kr->keys[i];

        if (k->revoked_at != 0 || !key_visible(req, k))
            continue;
        if (only_tenant != 0 && (k->role != ROLE_TENANT || k->tenant != only_tenant))
            continue;
        if (json_array_size(data) == (size_t)limit) {
            more = true;
            break;
        }
        json_array_append_new(data, key_json(k));
        last = k->id;
    }
    if (more && last != NULL)
        snprintf(next, sizeof(next), "%s", last);
    pthread_mutex_unlock(&kr->lock);
    core_read_end(req->srv->core);
    api_reply_list(res, data, more && last != NULL ? next : NULL);
}

static int key_revoked(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct tenant_ctx *ctx = job->ctx;
    struct keyring *kr = &ctx->srv->keys;
    struct key_record rec;
    char err[256];
    int rc;

    (void)e;
    if (!key_find_visible(ctx, &rec))
        return api_job_problem(job, 404, "unknown key \"%.40s\"", ctx->key_id);
    if (rec.revoked_at == 0) { /* revoking twice answers the same */
        rec.revoked_at = now;
        rc = store_put_key(store, &rec, err, sizeof(err));
        if (rc < 0)
            return rc;
        rc = keyring_add(kr, &rec);
        if (rc < 0)
            return rc;
    }
    return api_job_reply(job, 200, key_json(&rec));
}

void api_key_revoke(struct request *req, struct response *res)
{
    struct tenant_ctx ctx = {.srv = req->srv, .req = req, .key_id = req->params[0]};
    struct core_job job = {.after = key_revoked, .ctx = &ctx};

    if (strlen(req->params[0]) >= sizeof(((struct key_record *)0)->id)) {
        http_problem(res, 404, "unknown key \"%.40s\"", req->params[0]);
        return;
    }
    api_submit(req, res, &job);
}

/* ---- POST /v1/keys/{id}/rotate ---------------------------------------------------------- */

/* A new key for the same holder, and the old one revoked, in one batch: from the reply on,
 * the old key is refused (the keyring is what every request is checked against). */
static int key_rotated(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct tenant_ctx *ctx = job->ctx;
    struct keyring *kr = &ctx->srv->keys;
    struct key_record old, rec;
    char text[KEY_TEXT_MAX], err[256];
    json_t *j;
    int rc;

    (void)e;
    if (!key_find_visible(ctx, &old))
        return api_job_problem(job, 404, "unknown key \"%.40s\"", ctx->key_id);
    if (old.revoked_at != 0)
        return api_job_problem(job, 409, "key %s is revoked: create a new key instead", old.id);
    old.revoked_at = now;
    rc = store_put_key(store, &old, err, sizeof(err));
    if (rc < 0)
        return rc;
    rc = mint_key(ctx->srv, store, (enum role)old.role, old.tenant, old.host, now, text, &rec);
    if (rc < 0)
        return rc;
    rc = keyring_add(kr, &old);
    if (rc < 0)
        return rc;
    j = key_json(&rec);
    json_object_set_new(j, "api_key", json_string(text));
    json_object_set_new(j, "replaces", json_string(old.id));
    return api_job_reply(job, 201, j);
}

void api_key_rotate(struct request *req, struct response *res)
{
    struct tenant_ctx ctx = {.srv = req->srv, .req = req, .key_id = req->params[0]};
    struct core_job job = {.after = key_rotated, .ctx = &ctx};

    if (strlen(req->params[0]) >= sizeof(((struct key_record *)0)->id)) {
        http_problem(res, 404, "unknown key \"%.40s\"", req->params[0]);
        return;
    }
    api_submit_no_fields(req, res, &job); /* nothing to set: {} or no body */
}
