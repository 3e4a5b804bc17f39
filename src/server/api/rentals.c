/*
 * rentals.c - POST /v1/quotes, POST /v1/rentals, GET /v1/rentals, GET /v1/rentals/{id},
 * POST /v1/rentals/{id}/stop.
 *
 * A tenant sees and acts on its own rentals only: another tenant's rental is a 404, never a
 * 403. The operator sees all, and creates rentals on a tenant's behalf with tenant_id.
 */
#include "../../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/ids.h"
#include "../../engine/money.h"
#include "../../store/store.h"
#include "../apijson.h"
#include "../server.h"
#include "handlers.h"

#define MODEL_MAX_BYTES      63
#define COUPON_MAX_BYTES     63
#define COMMAND_ARGS_MAX     256
#define COMMAND_ARG_MAX      4096
#define ENV_VARS_MAX         256
#define ENV_VALUE_MAX        4096
#define ENV_NAME_MAX         255
#define IMAGE_MAX_BYTES      512
#define DURATION_MAX_SECONDS (10LL * 366 * 86400) /* ten years */
#define IDLE_MINUTES_MAX     (7 * 24 * 60)

/* The tenant the caller acts for: 0 and *out, or -1 with a problem written to res. Admin
 * callers name a tenant with tenant_id (required when need is true); tenants are
 * themselves (a tenant_id of someone else is a 404). */
static int acting_tenant(struct request *req, struct response *res, struct api_fields *f, bool need,
                         uint32_t *out)
{
    uint64_t t = 0;

    api_get_id(f, "tenant_id", false, ID_TENANT, UINT32_MAX, &t);
    if (api_failed(f))
        return 0; /* the caller reports the field error */
    if (req->who.role == ROLE_TENANT) {
        if (t != 0 && t != req->who.tenant) {
            http_problem(res, 404, "unknown tenant");
            return -1;
        }
        *out = req->who.tenant;
        return 0;
    }
    if (t == 0 && need)
        api_fail_field(f, "tenant_id", "required when the operator acts for a tenant");
    *out = (uint32_t)t;
    return 0;
}

/* The rental in the path: 0 and *out, or -1 with a 404 written. */
static int path_rental(struct request *req, struct response *res, uint64_t *out)
{
    if (api_parse_id(ID_RENTAL, req->params[0], ID_NUMBER_MAX, out) < 0) {
        http_problem(res, 404, "unknown rental \"%.40s\"", req->params[0]);
        return -1;
    }
    return 0;
}

/* May the caller see rental v? */
static bool rental_visible(const struct request *req, const struct rental_view *v)
{
    return req->who.role == ROLE_ADMIN || v->tenant == req->who.tenant;
}

/* Read term (and max_hourly for spot) from f. */
static void read_term(struct api_fields *f, enum term *term, int64_t *max_hourly)
{
    const char *name = NULL;

    if (api_get_string(f, "term", true, 16, &name) && term_parse(term, name) < 0)
        api_fail_field(f, "term", "must be on_demand, spot, day, week or month");
    if (api_get_money(f, "max_hourly", false, 1, max_hourly) && !api_failed(f) &&
        *term != TERM_SPOT)
        api_fail_field(f, "max_hourly", "only for spot (it is the bid per GPU-hour)");
    if (!api_failed(f) && *term == TERM_SPOT && *max_hourly == 0)
        api_fail_field(f, "max_hourly", "required for spot (the bid per GPU-hour)");
}

/* ---- POST /v1/quotes ------------------------------------------------------------------- */

/* A quote is for a rental that could be created: at most the largest host of the model. */
static int quote_size_ok(const struct engine *e, const char *model, uint32_t count, char *detail,
                         size_t cap)
{
    struct offer_view ov;
    uint32_t m;

    if (engine_model_find(e, model, &m) < 0 || engine_offer(e, m, &ov) < 0)
        return 0; /* engine_quote names the unknown model */
    if (ov.largest_host > 0 && count > ov.largest_host) {
        snprintf(detail, cap, "gpu_count: must be 1 to %u for %s", ov.largest_host, model);
        return ERR_INVALID;
    }
    return 0;
}

/* A model priced before any host registered its GPUs: the rental would be refused for
   capacity (409), and so is its quote, after the request itself was found valid. */
static int quote_has_hosts(const struct engine *e, const char *model, char *detail, size_t cap)
{
    struct offer_view ov;
    uint32_t m;

    if (engine_model_find(e, model, &m) < 0 || engine_offer(e, m, &ov) < 0 || ov.largest_host > 0)
        return 0;
    snprintf(detail, cap, "no capacity: no host with %s GPUs is registered", model);
    return ERR_NOCAPACITY;
}

void api_quote(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"gpu_model",        "gpu_count", "term",
                                          "duration_seconds", "coupon",    "max_hourly",
                                          "tenant_id",        NULL};
    const char *model = NULL, *coupon = NULL;
    char applied[COUPON_MAX_BYTES + 1] = "";
    int64_t count = 0, duration = 3600, max_hourly = 0;
    enum term term = TERM_ON_DEMAND;
    char detail[RESULT_DETAIL_MAX] = "";
    const struct engine *e;
    struct api_fields f;
    struct api_error err;
    struct quote q;
    uint32_t tenant = 0;
    json_t *body, *j;
    int rc;

    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    if (acting_tenant(req, res, &f, false, &tenant) < 0)
        goto out;
    api_get_string(&f, "gpu_model", true, MODEL_MAX_BYTES, &model);
    api_get_int(&f, "gpu_count", true, 1, MAX_GPUS_PER_HOST, &count);
    read_term(&f, &term, &max_hourly);
    api_get_int(&f, "duration_seconds", false, 0, DURATION_MAX_SECONDS, &duration);
    api_get_string(&f, "coupon", false, COUPON_MAX_BYTES, &coupon);
    if (!api_failed(&f) && TERM_IS_PACKAGE(term))
        duration = term_length_us(term) / USEC_PER_SEC;
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    e = core_read_begin(req->srv->core);
    rc = quote_size_ok(e, model, (uint32_t)count, detail, sizeof(detail));
    if (rc == 0)
        rc = engine_quote(e, tenant, model, (uint32_t)count, term, max_hourly, coupon,
                          duration * USEC_PER_SEC, core_clock_now(), &q, detail, sizeof(detail));
    if (rc == 0)
        rc = quote_has_hosts(e, model, detail, sizeof(detail));
    if (rc == 0 && q.coupon >= 0) {
        struct coupon_view cv;
        if (engine_coupon(e, (uint32_t)q.coupon, &cv) == 0)
            snprintf(applied, sizeof(applied), "%s", cv.code);
        else
            q.coupon = -1;
    }
    core_read_end(req->srv->core);
    if (rc < 0) {
        http_problem(res, http_status_for(rc), "%s", detail);
        goto out;
    }
    if (q.list_total > MONEY_MAX || q.total > MONEY_MAX) { /* money_prorate saturates */
        http_problem(res, 400, "duration_seconds: the total would pass the largest amount");
        goto out;
    }
    j = json_object();
    json_object_set_new(j, "object", json_string("quote"));
    json_object_set_new(j, "gpu_model", json_string(model));
    json_object_set_new(j, "gpu_count", json_integer(count));
    json_object_set_new(j, "term", json_string(term_name(term)));
    json_object_set_new(j, "duration_seconds", json_integer(duration));
    /* the coupon it applies: the one named, or the automatic promotion chosen for it */
    json_object_set_new(j, "coupon", q.coupon >= 0 ? json_string(applied) : json_null());
    json_object_set_new(j, "hourly_price", api_money(q.hourly_price));
    json_object_set_new(j, "hourly_total", api_money(q.hourly_total));
    json_object_set_new(j, "list_total", api_money(q.list_total));
    json_object_set_new(j, "discount", api_money(q.discount));
    json_object_set_new(j, "total", api_money(q.total));
    api_reply(res, 200, j);
out:
    json_decref(body);
}

/* ---- POST /v1/rentals ------------------------------------------------------------------ */

struct create_ctx {
    struct api_idem idem;
    char *workload; /* compact JSON of the workload (and idle_stop), or NULL */
};

static int create_before(struct core_job *job, const struct engine *e)
{
    struct create_ctx *ctx = job->ctx;

    (void)e;
    return api_idem_before(&ctx->idem, job);
}

static int created(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct create_ctx *ctx = job->ctx;
    struct rental_view v;
    char name[64], err[256];
    int rc;

    (void)now;
    if (job->result.code != 0)
        return 0;
    if (ctx->workload != NULL) {
        api_workload_name(name, sizeof(name), job->result.id);
        rc = store_meta_put(store, name, ctx->workload, err, sizeof(err));
        if (rc < 0)
            return rc;
    }
    if (engine_rental(e, job->result.id, &v) < 0)
        return api_job_problem(job, 500, "the new rental vanished");
    api_job_reply(job, v.state == RENTAL_PENDING ? 202 : 201, api_rental_json(e, &v));
    return api_idem_after(&ctx->idem, job, store);
}

/* Validate workload {command, env?, image?, restart?} and idle_stop; build the record. */
static void read_workload(struct api_fields *f, const json_t *wl, const json_t *idle,
                          struct cmd_rental_create *c, json_t *record)
{
    static const char *const wl_fields[] = {"command", "env", "image", "restart", NULL};
    static const char *const idle_fields[] = {"below_util_pct", "minutes", NULL};
    struct api_fields wf, xf;
    const json_t *cmdv = NULL, *env = NULL;
    const char *image = NULL, *restart = NULL, *name;
    json_t *value;

    if (wl != NULL) {
        api_fields_nested(&wf, f, "workload", wl);
        api_only_fields(&wf, wl_fields);
        if (api_get_member(&wf, "command", true, JSON_ARRAY, &cmdv)) {
            size_t n = json_array_size(cmdv);
            if (n == 0 || n > COMMAND_ARGS_MAX)
                api_fail_field(&wf, "command", "must have 1 to %d arguments", COMMAND_ARGS_MAX);
            for (size_t i = 0; i < n && !api_failed(&wf); i++) {
                const json_t *a = json_array_get(cmdv, i);
                if (!json_is_string(a) || json_string_length(a) > COMMAND_ARG_MAX)
                    api_fail(&wf, "workload.command[%zu]: must be a string of at most %d bytes", i,
                             COMMAND_ARG_MAX);
            }
        }
        if (api_get_member(&wf, "env", false, JSON_OBJECT, &env)) {
            if (json_object_size(env) > ENV_VARS_MAX)
                api_fail_field(&wf, "env", "at most %d variables", ENV_VARS_MAX);
            json_object_foreach((json_t *)env, name, value)
            {
                if (api_failed(&wf))
                    break;
                if (strlen(name) == 0 || strlen(name) > ENV_NAME_MAX || strchr(name, '=') != NULL)
                    api_fail(&wf, "workload.env: \"%.40s\" is not a variable name", name);
                else if (!json_is_string(value) || json_string_length(value) > ENV_VALUE_MAX)
                    api_fail(&wf, "workload.env.%.40s: must be a string of at most %d bytes", name,
                             ENV_VALUE_MAX);
            }
        }
        api_get_string(&wf, "image", false, IMAGE_MAX_BYTES, &image);
        if (api_get_string(&wf, "restart", false, 16, &restart) &&
            restart_policy_parse(&c->restart, restart) < 0)
            api_fail_field(&wf, "restart", "must be never, on_failure or always");
        c->has_workload = true;
        json_object_set(record, "command", (json_t *)cmdv);
        json_object_set_new(record, "env", env ? json_deep_copy(env) : json_object());
        json_object_set_new(record, "image", image ? json_string(image) : json_null());
        json_object_set_new(record, "restart", json_string(restart_policy_name(c->restart)));
    }
    if (idle != NULL) {
        double pct = 0;
        int64_t minutes = 0;

        api_fields_nested(&xf, f, "idle_stop", idle);
        api_only_fields(&xf, idle_fields);
        api_get_number(&xf, "below_util_pct", true, 0, 100, &pct);
        api_get_int(&xf, "minutes", true, 1, IDLE_MINUTES_MAX, &minutes);
        json_object_set_new(record, "idle_stop", json_deep_copy(idle));
    }
}

void api_rental_create(struct request *req, struct response *res)
{
    static const char *const allowed[] = {
        "tenant_id", "gpu_model", "gpu_count",  "term",     "max_hourly",
        "coupon",    "queue",     "auto_renew", "max_cost", "max_duration_seconds",
        "idle_stop", "workload",  "requeue",    NULL};
    struct command cmd = {.type = CMD_RENTAL_CREATE};
    struct cmd_rental_create *c = &cmd.u.rental_create;
    struct create_ctx ctx = {0};
    struct core_job job = {.cmd = &cmd, .before = create_before, .after = created, .ctx = &ctx};
    const json_t *wl = NULL, *idle = NULL;
    struct api_fields f;
    struct api_error err;
    int64_t count = 0, duration = 0;
    json_t *body = NULL, *record = NULL;

    if (api_idem_init(&ctx.idem, req, res) < 0)
        return;
    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    if (acting_tenant(req, res, &f, true, &c->tenant) < 0)
        goto out;
    api_get_string(&f, "gpu_model", true, MODEL_MAX_BYTES, &c->gpu_model);
    if (api_get_int(&f, "gpu_count", true, 1, MAX_GPUS_PER_HOST, &count))
        c->gpu_count = (uint32_t)count;
    read_term(&f, &c->term, &c->max_hourly);
    api_get_string(&f, "coupon", false, COUPON_MAX_BYTES, &c->coupon);
    api_get_bool(&f, "queue", false, &c->queue);
    api_get_bool(&f, "auto_renew", false, &c->auto_renew);
    api_get_bool(&f, "requeue", false, &c->requeue);
    api_get_money(&f, "max_cost", false, 1, &c->max_cost);
    if (api_get_int(&f, "max_duration_seconds", false, 1, DURATION_MAX_SECONDS, &duration))
        c->max_duration = duration * USEC_PER_SEC;
    api_get_member(&f, "workload", false, JSON_OBJECT, &wl);
    api_get_member(&f, "idle_stop", false, JSON_OBJECT, &idle);
    if (!api_failed(&f) && (wl != NULL || idle != NULL)) {
        record = json_object();
        read_workload(&f, wl, idle, c, record);
    }
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    if (record != NULL) {
        ctx.workload = api_dump(record);
        record = NULL;
        if (ctx.workload == NULL) {
            http_problem(res, 500, "out of memory");
            goto out;
        }
        if (strlen(ctx.workload) > API_WORKLOAD_MAX) {
            http_problem(res, 400, "workload: larger than %d bytes", API_WORKLOAD_MAX);
            goto out;
        }
    }
    api_submit(req, res, &job);
    if (ctx.idem.replayed)
        http_add_header(res, "Idempotent-Replayed", "true");
out:
    json_decref(record);
    free(ctx.workload);
    json_decref(body);
}

/* ---- GET /v1/rentals, GET /v1/rentals/{id} -------------------------------------------- */

void api_rental_list(struct request *req, struct response *res)
{
    const char *state_arg = http_query(req, "state");
    const char *tenant_arg = NULL;
    char cursor[ID_STR_MAX];
    const struct engine *e;
    enum rental_state state = RENTAL_PENDING;
    struct api_page page;
    uint64_t tenant = 0, id, last = 0;
    bool more = false;
    json_t *data;

    static const char *const args[] = {"state", "tenant", "tenant_id", "limit", "cursor", NULL};

    if (api_only_query(req, res, args) < 0 || api_page_parse(req, res, ID_RENTAL, &page) < 0 ||
        api_query_tenant(req, res, &tenant_arg) < 0)
        return;
    if (state_arg != NULL && rental_state_parse(&state, state_arg) < 0) {
        http_problem(res, 400, "state: must be pending, starting, running or ended");
        return;
    }
    if (tenant_arg != NULL) {
        if (api_name_id(ID_TENANT, tenant_arg, UINT32_MAX, &tenant) < 0) {
            http_problem(res, 400, "tenant_id: must be an id like \"%s_...\"", ID_TENANT);
            return;
        }
        if (req->who.role == ROLE_TENANT && tenant != req->who.tenant) {
            http_problem(res, 404, "unknown tenant");
            return;
        }
    }
    if (req->who.role == ROLE_TENANT)
        tenant = req->who.tenant;
    data = json_array();
    e = core_read_begin(req->srv->core);
    /* newest first: from just below the cursor down to the first rental */
    id = engine_rental_count(e);
    if (page.has_cursor && page.cursor <= id)
        id = page.cursor - 1;
    for (; id >= 1; id--) {
        struct rental_view v;

        if (engine_rental(e, id, &v) < 0)
            continue;
        if (tenant != 0 && v.tenant != tenant)
            continue;
        if (state_arg != NULL && v.state != state)
            continue;
        if (json_array_size(data) == page.limit) {
            more = true;
            break;
        }
        json_array_append_new(data, api_rental_json(e, &v));
        last = id;
    }
    core_read_end(req->srv->core);
    for (size_t i = 0; i < json_array_size(data); i++)
        api_rental_end_detail(json_array_get(data, i), NULL, req->srv->reader);
    api_reply_list(res, data, more ? id_format(cursor, ID_RENTAL, last) : NULL);
}

void api_rental_get(struct request *req, struct response *res)
{
    const struct engine *e;
    struct rental_view v;
    json_t *j = NULL;
    uint64_t id;

    if (path_rental(req, res, &id) < 0)
        return;
    e = core_read_begin(req->srv->core);
    if (engine_rental(e, id, &v) == 0 && rental_visible(req, &v))
        j = api_rental_json(e, &v);
    core_read_end(req->srv->core);
    if (j == NULL) {
        http_problem(res, 404, "unknown rental \"%.40s\"", req->params[0]);
        return;
    }
    api_rental_end_detail(j, NULL, req->srv->reader);
    api_reply(res, 200, j);
}

/* ---- POST /v1/rentals/{id}/stop -------------------------------------------------------- */

static int stopped(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct rental_view v;
    json_t *j;

    (void)now;
    if (job->result.code == ERR_NOTFOUND) /* as GET says it, with the id asked for */
        return api_job_problem(job, 404, "unknown rental \"%.40s\"", (char *)job->ctx);
    if (job->result.code != 0)
        return 0;
    if (engine_rental(e, job->result.id, &v) < 0)
        return api_job_problem(job, 500, "the rental vanished");
    j = api_rental_json(e, &v);
    if (j != NULL)
        api_rental_end_detail(j, store, NULL);
    return api_job_reply(job, 200, j);
}

void api_rental_stop(struct request *req, struct response *res)
{
    struct command cmd = {.type = CMD_RENTAL_STOP};
    char asked[48]; /* the id as the path gives it, for an unknown rental's problem */
    struct core_job job = {.cmd = &cmd, .after = stopped, .ctx = asked};
    uint64_t id;

    if (path_rental(req, res, &id) < 0)
        return;
    snprintf(asked, sizeof(asked), "%s", req->params[0]);
    /* a tenant stops its own rentals only (another's is unknown); the operator any, and the
       end reason stays `stopped`: it is a stop on the rental's behalf */
    cmd.u.rental_stop.tenant = req->who.role == ROLE_TENANT ? req->who.tenant : 0;
    cmd.u.rental_stop.rental = id;
    cmd.u.rental_stop.admin = false;
    api_submit_no_fields(req, res, &job);
}
