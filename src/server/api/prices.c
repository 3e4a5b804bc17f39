/*
 * prices.c - the catalogue: PUT /v1/prices/{gpu_model}, GET /v1/prices, GET /v1/offers,
 * POST /v1/coupons.
 */
#include "../../common/compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/ids.h"
#include "../../engine/money.h"
#include "../apijson.h"
#include "../server.h"
#include "handlers.h"

#define CODE_MAX_BYTES  63
#define MODEL_MAX_BYTES 63

/* ---- PUT /v1/prices/{gpu_model} -------------------------------------------------------- */

static int price_set(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct offer_view ov;

    (void)store;
    (void)now;
    if (job->result.code != 0)
        return 0;
    if (engine_offer(e, (uint32_t)job->result.id, &ov) < 0)
        return api_job_problem(job, 500, "the model vanished");
    return api_job_reply(job, 200, api_prices_json(&ov));
}

void api_price_set(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"on_demand_hourly", "spot_floor_hourly", "packages",
                                          "memory_mib", NULL};
    static const char *const package_fields[] = {"day", "week", "month", NULL};
    struct command cmd = {.type = CMD_PRICE_SET};
    struct cmd_price_set *p = &cmd.u.price_set;
    struct core_job job = {.cmd = &cmd, .after = price_set};
    struct api_fields f, pf;
    struct api_error err;
    const json_t *packages = NULL;
    int64_t memory = 0;
    json_t *body;

    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    p->gpu_model = req->params[0];
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_money(&f, "on_demand_hourly", true, 1, &p->on_demand_hourly);
    api_get_money(&f, "spot_floor_hourly", false, 1, &p->spot_floor_hourly);
    api_get_int(&f, "memory_mib", false, 1, UINT32_MAX, &memory);
    p->memory_mib = (uint32_t)memory;
    if (api_get_member(&f, "packages", false, JSON_OBJECT, &packages)) {
        api_fields_nested(&pf, &f, "packages", packages);
        api_only_fields(&pf, package_fields);
        for (int i = 0; i < PACKAGE_COUNT; i++)
            api_get_money(&pf, package_fields[i], false, 1, &p->package[i]);
    }
    if (!api_failed(&f) && (strlen(p->gpu_model) == 0 || strlen(p->gpu_model) > MODEL_MAX_BYTES))
        api_fail(&f, "gpu_model: must be 1 to %d bytes", MODEL_MAX_BYTES);
    if (!api_failed(&f) && !api_text_ok(p->gpu_model))
        api_fail(&f, "gpu_model: must be UTF-8 text without control characters");
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    api_submit(req, res, &job);
out:
    json_decref(body);
}

/* ---- GET /v1/prices, GET /v1/offers ---------------------------------------------------- */

/*
 * A page of the priced models, in catalogue order, filtered for GET /v1/offers. Like every
 * list it takes limit and cursor; the cursor is the last gpu_model seen (models are never
 * removed, so a name keeps its place in the order).
 */
static void model_list(struct request *req, struct response *res, bool offers)
{
    const char *model = offers ? http_query(req, "gpu_model") : NULL;
    const char *cursor = http_query(req, "cursor");
    int64_t count = 0, limit = API_LIMIT_DEFAULT;
    char next[MODEL_MAX_BYTES + 1] = "";
    const struct engine *e;
    uint32_t n, m = 0;
    bool more = false;
    json_t *data;

    static const char *const offer_args[] = {"gpu_model", "gpu_count", "limit", "cursor", NULL};
    static const char *const price_args[] = {"limit", "cursor", NULL};

    if (api_only_query(req, res, offers ? offer_args : price_args) < 0 ||
        api_query_int(req, res, "limit", 1, API_LIMIT_MAX, &limit) < 0)
        return;
    if (offers && api_query_int(req, res, "gpu_count", 1, MAX_GPUS_PER_HOST, &count) < 0)
        return;
    e = core_read_begin(req->srv->core);
    if (cursor != NULL) {
        if (engine_model_find(e, cursor, &m) < 0) {
            core_read_end(req->srv->core);
            http_problem(res, 400, "cursor: not a cursor of this list (a gpu_model)");
            return;
        }
        m++;
    }
    data = json_array();
    n = engine_model_count(e);
    for (; m < n; m++) {
        struct offer_view ov;

        if (engine_offer(e, m, &ov) < 0 || ov.prices.on_demand_hourly <= 0)
            continue; /* not priced: cannot be rented */
        if (model != NULL && strcmp(model, ov.gpu_model) != 0)
            continue;
        if (count > 0 && ov.max_gpus_per_host < count)
            continue;
        if (json_array_size(data) == (size_t)limit) {
            more = true;
            break;
        }
        json_array_append_new(data, offers ? api_offer_json(&ov) : api_prices_json(&ov));
        snprintf(next, sizeof(next), "%s", ov.gpu_model);
    }
    core_read_end(req->srv->core);
    api_reply_list(res, data, more ? next : NULL);
}

void api_price_list(struct request *req, struct response *res)
{
    model_list(req, res, false);
}

void api_offer_list(struct request *req, struct response *res)
{
    model_list(req, res, true);
}

/* ---- POST /v1/coupons ------------------------------------------------------------------ */

static int coupon_created(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    const struct cmd_coupon_create *c = &job->cmd->u.coupon_create;
    json_t *j;

    (void)e;
    (void)store;
    (void)now;
    if (job->result.code != 0)
        return 0;
    j = json_object();
    /* coupon numbers start at 0 in the catalogue; public ids start at 1 */
    json_object_set_new(j, "id", api_id(ID_COUPON, job->result.id + 1));
    json_object_set_new(j, "object", json_string("coupon"));
    json_object_set_new(j, "code", json_string(c->code));
    json_object_set_new(j, "percent_off",
                        c->percent_off_bp ? json_real(c->percent_off_bp / 100.0) : json_null());
    json_object_set_new(j, "amount_off", c->amount_off ? api_money(c->amount_off) : json_null());
    json_object_set_new(j, "max_redemptions",
                        c->max_redemptions ? json_integer(c->max_redemptions) : json_null());
    json_object_set_new(j, "redemptions", json_integer(0)); /* as GET /v1/coupons shows it */
    json_object_set_new(j, "valid_until", api_time(c->valid_until));
    json_object_set_new(j, "gpu_model", c->gpu_model ? json_string(c->gpu_model) : json_null());
    json_object_set_new(j, "term",
                        c->term >= 0 ? json_string(term_name((enum term)c->term)) : json_null());
    json_object_set_new(j, "automatic", json_boolean(c->automatic));
    json_object_set_new(j, "once_per_tenant", json_boolean(c->once_per_tenant));
    return api_job_reply(job, 201, j);
}

void api_coupon_create(struct request *req, struct response *res)
{
    static const char *const allowed[] = {
        "code",      "percent_off", "amount_off", "max_redemptions", "valid_until",
        "gpu_model", "term",        "automatic",  "once_per_tenant", NULL};
    struct command cmd = {.type = CMD_COUPON_CREATE};
    struct cmd_coupon_create *c = &cmd.u.coupon_create;
    struct core_job job = {.cmd = &cmd, .after = coupon_created};
    struct api_fields f;
    struct api_error err;
    const char *term = NULL;
    int64_t max_redemptions = 0;
    double percent = 0;
    json_t *body;

    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    c->term = -1;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_string(&f, "code", true, CODE_MAX_BYTES, &c->code);
    if (api_get_number(&f, "percent_off", false, 0.01, 100, &percent)) {
        double bp = percent * 100;
        if (fabs(bp - round(bp)) > 1e-6)
            api_fail_field(&f, "percent_off", "at most 2 decimals");
        c->percent_off_bp = (uint32_t)llround(bp);
    }
    api_get_money(&f, "amount_off", false, 1, &c->amount_off);
    if (!api_failed(&f) && (c->percent_off_bp == 0) == (c->amount_off == 0))
        api_fail(&f, "exactly one of percent_off and amount_off is required");
    if (api_get_int(&f, "max_redemptions", false, 1, UINT32_MAX, &max_redemptions))
        c->max_redemptions = (uint32_t)max_redemptions;
    if (api_get_time(&f, "valid_until", false, &c->valid_until) &&
        c->valid_until <= core_clock_now())
        api_fail_field(&f, "valid_until", "must be in the future");
    api_get_string(&f, "gpu_model", false, MODEL_MAX_BYTES, &c->gpu_model);
    if (api_get_string(&f, "term", false, 16, &term)) {
        enum term t;
        if (term_parse(&t, term) < 0)
            api_fail_field(&f, "term", "must be on_demand, spot, day, week or month");
        else
            c->term = (int)t;
    }
    api_get_bool(&f, "automatic", false, &c->automatic);
    /* a coupon code is one per tenant unless said otherwise; a promotion applies to all */
    c->once_per_tenant = !c->automatic;
    api_get_bool(&f, "once_per_tenant", false, &c->once_per_tenant);
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    api_submit(req, res, &job);
out:
    json_decref(body);
}

/* ---- GET /v1/coupons ------------------------------------------------------------------- */

static json_t *coupon_json(const struct coupon_view *c)
{
    json_t *j = json_object();

    json_object_set_new(j, "id", api_id(ID_COUPON, (uint64_t)c->number + 1));
    json_object_set_new(j, "object", json_string("coupon"));
    json_object_set_new(j, "code", json_string(c->code));
    json_object_set_new(j, "percent_off",
                        c->percent_off_bp ? json_real(c->percent_off_bp / 100.0) : json_null());
    json_object_set_new(j, "amount_off", c->amount_off ? api_money(c->amount_off) : json_null());
    json_object_set_new(j, "max_redemptions",
                        c->max_redemptions ? json_integer(c->max_redemptions) : json_null());
    json_object_set_new(j, "redemptions", json_integer(c->redemptions));
    json_object_set_new(j, "valid_until", api_time(c->valid_until));
    json_object_set_new(j, "gpu_model", c->gpu_model ? json_string(c->gpu_model) : json_null());
    json_object_set_new(j, "term",
                        c->term >= 0 ? json_string(term_name((enum term)c->term)) : json_null());
    json_object_set_new(j, "automatic", json_boolean(c->automatic));
    json_object_set_new(j, "once_per_tenant", json_boolean(c->once_per_tenant));
    return j;
}

void api_coupon_list(struct request *req, struct response *res)
{
    char cursor[ID_STR_MAX];
    const struct engine *e;
    struct api_page page;
    uint32_t n, i, last = 0;
    bool more = false;
    json_t *data;

    static const char *const args[] = {"limit", "cursor", NULL};

    if (api_only_query(req, res, args) < 0 || api_page_parse(req, res, ID_COUPON, &page) < 0)
        return;
    data = json_array();
    e = core_read_begin(req->srv->core);
    n = engine_coupon_count(e);
    /* ids are number + 1; the cursor is the last id seen */
    i = page.has_cursor ? (page.cursor >= n ? n : (uint32_t)page.cursor) : 0;
    for (; i < n; i++) {
        struct coupon_view c;

        if (engine_coupon(e, i, &c) < 0)
            continue;
        if (json_array_size(data) == page.limit) {
            more = true;
            break;
        }
        json_array_append_new(data, coupon_json(&c));
        last = i + 1;
    }
    core_read_end(req->srv->core);
    api_reply_list(res, data, more ? id_format(cursor, ID_COUPON, last) : NULL);
}
