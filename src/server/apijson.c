#include "../common/compat.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/ids.h"
#include "../common/timeutil.h"
#include "../engine/money.h"
#include "../store/store.h"
#include "api/records.h"
#include "apijson.h"
#include "auth.h"
#include "server.h"

/* ---- Reading -------------------------------------------------------------------------- */

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    }
    return true;
}

json_t *api_body(const struct request *req, struct response *res, enum api_body_kind kind)
{
    json_error_t jerr;
    json_t *j;

    if (req->body == NULL || blank(req->body, req->body_len)) {
        if (kind == API_BODY_OPTIONAL)
            return json_object();
        http_problem(res, 400, "request body: a JSON object is required");
        return NULL;
    }
    if (http_json_depth(req->body, req->body_len) > HTTP_JSON_DEPTH_MAX) {
        http_problem(res, 400, "request body: nested deeper than %d levels", HTTP_JSON_DEPTH_MAX);
        return NULL;
    }
    j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        /* jansson's own words name its flag (JSON_ALLOW_NUL), which means nothing to a client */
        http_problem(res, 400, "request body: line %d column %d: %s", jerr.line, jerr.column,
                     json_error_code(&jerr) == json_error_null_character
                         ? "\\u0000 is not allowed in a string"
                         : jerr.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        http_problem(res, 400, "request body: must be a JSON object, not %s", json_type_name(j));
        json_decref(j);
        return NULL;
    }
    return j;
}

void api_fields_init(struct api_fields *f, const json_t *obj, struct api_error *err)
{
    f->obj = obj;
    f->prefix[0] = '\0';
    f->err = err;
    memset(err, 0, sizeof(*err));
    err->status = 400;
}

void api_fields_nested(struct api_fields *f, const struct api_fields *parent, const char *name,
                       const json_t *obj)
{
    f->obj = obj;
    f->err = parent->err;
    if (snprintf(f->prefix, sizeof(f->prefix), "%s%s.", parent->prefix, name) < 0)
        f->prefix[0] = '\0';
}

void api_fields_element(struct api_fields *f, const struct api_fields *parent, const char *name,
                        size_t index, const json_t *obj)
{
    f->obj = obj;
    f->err = parent->err;
    if (snprintf(f->prefix, sizeof(f->prefix), "%s%s[%zu].", parent->prefix, name, index) < 0)
        f->prefix[0] = '\0';
}

__attribute__((format(printf, 3, 0))) static void vfail(struct api_fields *f, const char *name,
                                                        const char *fmt, va_list ap)
{
    char text[API_DETAIL_MAX];

    if (f->err->failed)
        return;
    f->err->failed = true;
    vsnprintf(text, sizeof(text), fmt, ap);
    /* a detail cut at API_DETAIL_MAX still names the field first */
    if (name != NULL &&
        snprintf(f->err->detail, sizeof(f->err->detail), "%s%s: %s", f->prefix, name, text) < 0)
        f->err->detail[0] = '\0';
    else if (name == NULL && snprintf(f->err->detail, sizeof(f->err->detail), "%s", text) < 0)
        f->err->detail[0] = '\0';
}

void api_fail(struct api_fields *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(f, NULL, fmt, ap);
    va_end(ap);
}

void api_fail_field(struct api_fields *f, const char *name, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(f, name, fmt, ap);
    va_end(ap);
}

bool api_failed(const struct api_fields *f)
{
    return f->err->failed;
}

void api_only_fields(struct api_fields *f, const char *const *allowed)
{
    const char *name;
    json_t *value;

    if (f->err->failed)
        return;
    json_object_foreach((json_t *)f->obj, name, value)
    {
        bool known = false;

        (void)value;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            if (strcmp(name, allowed[i]) == 0) {
                known = true;
                break;
            }
        }
        if (!known) {
            api_fail(f, "unknown field \"%s%s\"", f->prefix, name);
            return;
        }
    }
}

/* The member name of f's object, or NULL (absent or null) after checking required. */
static const json_t *member(struct api_fields *f, const char *name, bool required)
{
    const json_t *v;

    if (f->err->failed)
        return NULL;
    v = json_object_get(f->obj, name);
    if (v == NULL || json_is_null(v)) {
        if (required)
            api_fail_field(f, name, "required");
        return NULL;
    }
    return v;
}

bool api_get_string(struct api_fields *f, const char *name, bool required, size_t max_len,
                    const char **out)
{
    const json_t *v = member(f, name, required);
    size_t len;

    if (v == NULL)
        return false;
    if (!json_is_string(v)) {
        api_fail_field(f, name, "must be a string, not %s", json_type_name(v));
        return false;
    }
    len = json_string_length(v);
    if (len == 0 || len > max_len) {
        api_fail_field(f, name, "must be 1 to %zu bytes", max_len);
        return false;
    }
    for (const char *s = json_string_value(v); *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            api_fail_field(f, name, "must not contain control characters");
            return false;
        }
    }
    *out = json_string_value(v);
    return true;
}

bool api_get_int(struct api_fields *f, const char *name, bool required, int64_t min, int64_t max,
                 int64_t *out)
{
    const json_t *v = member(f, name, required);
    int64_t n;

    if (v == NULL)
        return false;
    if (!json_is_integer(v)) {
        api_fail_field(f, name, "must be an integer from %lld to %lld, not %s", (long long)min,
                       (long long)max, json_type_name(v));
        return false;
    }
    n = (int64_t)json_integer_value(v);
    if (n < min || n > max) {
        api_fail_field(f, name, "must be an integer from %lld to %lld", (long long)min,
                       (long long)max);
        return false;
    }
    *out = n;
    return true;
}

bool api_get_bool(struct api_fields *f, const char *name, bool required, bool *out)
{
    const json_t *v = member(f, name, required);

    if (v == NULL)
        return false;
    if (!json_is_boolean(v)) {
        api_fail_field(f, name, "must be true or false, not %s", json_type_name(v));
        return false;
    }
    *out = json_is_true(v);
    return true;
}

bool api_get_money(struct api_fields *f, const char *name, bool required, int64_t min, int64_t *out)
{
    const json_t *v = member(f, name, required);
    char buf[MONEY_STR_MAX];
    int64_t m;
    int rc;

    if (v == NULL)
        return false;
    if (!json_is_string(v)) {
        api_fail_field(f, name, "money must be a decimal string like \"7.60\"");
        return false;
    }
    rc = money_parse(&m, json_string_value(v));
    if (rc == ERR_OVERFLOW) {
        api_fail_field(f, name, "amount too large");
        return false;
    }
    if (rc < 0) {
        api_fail_field(f, name,
                       "\"%.40s\" is not a decimal amount like \"7.60\" (at most 6 decimals)",
                       json_string_value(v));
        return false;
    }
    if (m < min) {
        if (min == 0)
            api_fail_field(f, name, "must not be negative");
        else if (min == 1)
            api_fail_field(f, name, "must be positive");
        else
            api_fail_field(f, name, "must be at least %s", money_format(buf, min));
        return false;
    }
    *out = m;
    return true;
}

bool api_get_number(struct api_fields *f, const char *name, bool required, double min, double max,
                    double *out)
{
    const json_t *v = member(f, name, required);
    double d;

    if (v == NULL)
        return false;
    if (!json_is_number(v)) {
        api_fail_field(f, name, "must be a number from %g to %g, not %s", min, max,
                       json_type_name(v));
        return false;
    }
    d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        api_fail_field(f, name, "must be a number from %g to %g", min, max);
        return false;
    }
    *out = d;
    return true;
}

bool api_get_time(struct api_fields *f, const char *name, bool required, int64_t *out)
{
    const json_t *v = member(f, name, required);

    if (v == NULL)
        return false;
    if (!json_is_string(v) || time_parse(out, json_string_value(v)) < 0) {
        api_fail_field(f, name, "must be an RFC 3339 time like \"2026-11-25T08:00:00Z\"");
        return false;
    }
    return true;
}

bool api_get_id(struct api_fields *f, const char *name, bool required, const char *prefix,
                uint64_t max, uint64_t *out)
{
    const json_t *v = member(f, name, required);

    if (v == NULL)
        return false;
    if (!json_is_string(v) || api_name_id(prefix, json_string_value(v), max, out) < 0) {
        api_fail_field(f, name, "must be an id like \"%s_...\"", prefix);
        return false;
    }
    return true;
}

bool api_get_member(struct api_fields *f, const char *name, bool required, json_type type,
                    const json_t **out)
{
    const json_t *v = member(f, name, required);

    if (v == NULL)
        return false;
    if (json_typeof(v) != type) {
        api_fail_field(f, name, "must be %s, not %s",
                       type == JSON_OBJECT  ? "an object"
                       : type == JSON_ARRAY ? "an array"
                                            : "of another type",
                       json_type_name(v));
        return false;
    }
    *out = v;
    return true;
}

bool api_text_ok(const char *s)
{
    json_t *j;
    bool ok;

    for (const char *c = s; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return false;
    }
    j = json_string(s); /* NULL when s is not valid UTF-8 (or out of memory) */
    ok = j != NULL;
    json_decref(j);
    return ok;
}

int api_parse_id(const char *prefix, const char *s, uint64_t max, uint64_t *out)
{
    uint64_t n;

    if (s == NULL || id_parse(&n, prefix, s) < 0 || n == 0 || n > max)
        return ERR_NOTFOUND;
    *out = n;
    return 0;
}

int api_name_id(const char *prefix, const char *s, uint64_t max, uint64_t *out)
{
    uint64_t n;

    if (s == NULL || id_parse(&n, prefix, s) < 0)
        return ERR_INVALID;
    /* ids are keyed (src/server/idkey.c): any 13 characters decode to some number, and one
       that no object can have is an unknown id like any other, not a malformed one */
    *out = n == 0 || n > max ? max : n;
    return 0;
}

/* A decimal integer query argument: 0 and *out, or ERR_INVALID. */
static int parse_decimal(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0' || !((*s >= '0' && *s <= '9') || *s == '-'))
        return ERR_INVALID;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return ERR_INVALID;
    *out = v;
    return 0;
}

int api_query_int(const struct request *req, struct response *res, const char *name, int64_t min,
                  int64_t max, int64_t *out)
{
    const char *s = http_query(req, name);
    int64_t v;

    if (s == NULL)
        return 0;
    if (parse_decimal(s, &v) < 0 || v < min || v > max) {
        http_problem(res, 400, "%s: must be an integer from %lld to %lld", name, (long long)min,
                     (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int api_query_time(const struct request *req, struct response *res, const char *name, int64_t *out)
{
    const char *s = http_query(req, name);

    if (s == NULL)
        return 0;
    if (time_parse(out, s) < 0) {
        http_problem(res, 400, "%s: must be an RFC 3339 time like \"2026-11-25T08:00:00Z\"", name);
        return -1;
    }
    return 0;
}

int api_query_tenant(const struct request *req, struct response *res, const char **out)
{
    const char *id = http_query(req, "tenant_id"), *name = http_query(req, "tenant");

    *out = id != NULL ? id : name;
    if (id != NULL && name != NULL && strcmp(id, name) != 0) {
        http_problem(res, 400, "tenant_id: tenant and tenant_id name different tenants");
        return -1;
    }
    return 0;
}

int api_only_query(const struct request *req, struct response *res, const char *const *allowed)
{
    const char *name = http_query_unknown(req, allowed);

    if (name == NULL)
        return 0;
    http_problem(res, 400, "unknown query parameter \"%.40s\"", name);
    return -1;
}

int api_page_parse(const struct request *req, struct response *res, const char *prefix,
                   struct api_page *out)
{
    const char *cursor = http_query(req, "cursor");
    int64_t limit = API_LIMIT_DEFAULT;

    memset(out, 0, sizeof(*out));
    if (api_query_int(req, res, "limit", 1, API_LIMIT_MAX, &limit) < 0)
        return -1;
    out->limit = (uint32_t)limit;
    if (cursor != NULL) {
        if (api_parse_id(prefix, cursor, ID_NUMBER_MAX, &out->cursor) < 0) {
            http_problem(res, 400, "cursor: not a cursor of this list (an id like \"%s_...\")",
                         prefix);
            return -1;
        }
        out->has_cursor = true;
    }
    return 0;
}

/* ---- Writing -------------------------------------------------------------------------- */

json_t *api_money(int64_t v)
{
    char buf[MONEY_STR_MAX];

    return json_string(money_format(buf, v));
}

json_t *api_time(int64_t t)
{
    char buf[TIME_STR_MAX];

    if (t == 0)
        return json_null();
    return json_string(time_format(buf, t));
}

int api_parse_month(const char *s, int64_t *index)
{
    int64_t year = 0, month = 0;

    if (s == NULL || strlen(s) != 7 || s[4] != '-')
        return ERR_INVALID;
    for (int i = 0; i < 7; i++) {
        if (i == 4)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return ERR_INVALID;
        if (i < 4)
            year = year * 10 + (s[i] - '0');
        else
            month = month * 10 + (s[i] - '0');
    }
    if (year < 1970 || year > 9999 || month < 1 || month > 12)
        return ERR_INVALID;
    *index = year * 12 + (month - 1);
    return 0;
}

json_t *api_id(const char *prefix, uint64_t n)
{
    char buf[ID_STR_MAX];

    if (n == 0)
        return json_null();
    return json_string(id_format(buf, prefix, n));
}

json_t *api_ratio(double v)
{
    if (!isfinite(v))
        return json_null();
    return json_real(v);
}

bool api_gpu_simulated(const char *uuid)
{
    return uuid != NULL && strncmp(uuid, "GPU-SIM-", 8) == 0;
}

json_t *api_rental_json(const struct engine *e, const struct rental_view *v)
{
    struct gpu_view gpus[MAX_GPUS_PER_HOST];
    json_t *j = json_object();
    json_t *uuids = json_array();
    bool ended = v->state == RENTAL_ENDED, simulated = false;
    bool show_exit =
        v->exit_code != 0 ||
        (ended && v->end_reason == END_EXITED); /* a start that failed has no exit code */

    if (v->host != 0) {
        int n = engine_host_gpus(e, v->host, gpus, MAX_GPUS_PER_HOST);
        for (int i = 0; i < n; i++) {
            if ((v->gpu_mask >> gpus[i].index) & 1)
                json_array_append_new(uuids, json_string(gpus[i].uuid));
            /* the host's GPUs, not the ones held: an ended rental holds none, and stays as
               simulated as the host it ran on */
            simulated = simulated || api_gpu_simulated(gpus[i].uuid);
        }
    }
    json_object_set_new(j, "id", api_id(ID_RENTAL, v->id));
    json_object_set_new(j, "object", json_string("rental"));
    json_object_set_new(j, "tenant_id", api_id(ID_TENANT, v->tenant));
    json_object_set_new(j, "state", json_string(rental_state_name(v->state)));
    json_object_set_new(j, "end_reason",
                        ended ? json_string(end_reason_name(v->end_reason)) : json_null());
    json_object_set_new(j, "exit_code", show_exit ? json_integer(v->exit_code) : json_null());
    json_object_set_new(j, "end_detail", json_null()); /* api_rental_end_detail */
    json_object_set_new(j, "gpu_model", json_string(v->gpu_model));
    json_object_set_new(j, "gpu_count", json_integer(v->gpu_count));
    json_object_set_new(j, "term", json_string(term_name(v->term)));
    json_object_set_new(j, "hourly_price", api_money(v->hourly_price));
    json_object_set_new(j, "list_hourly", api_money(v->list_hourly));
    json_object_set_new(j, "max_hourly",
                        v->term == TERM_SPOT ? api_money(v->max_hourly) : json_null());
    /* the tenant's own limits, as created (a requeued rental: what was left of them) */
    json_object_set_new(j, "max_cost", v->max_cost > 0 ? api_money(v->max_cost) : json_null());
    json_object_set_new(j, "max_duration_seconds",
                        v->max_duration > 0 ? json_integer(v->max_duration / 1000000)
                                            : json_null());
    json_object_set_new(j, "host_id", api_id(ID_HOST, v->host));
    json_object_set_new(j, "gpus", uuids);
    json_object_set_new(j, "epoch", json_integer(v->epoch));
    json_object_set_new(j, "created_at", api_time(v->created_at));
    json_object_set_new(j, "placed_at", api_time(v->placed_at));
    json_object_set_new(j, "started_at", api_time(v->started_at));
    json_object_set_new(j, "ends_at", api_time(v->ends_at));
    json_object_set_new(j, "ended_at", api_time(v->ended_at));
    json_object_set_new(j, "preempt_at", api_time(v->preempt_at));
    json_object_set_new(j, "cost", api_money(v->cost));
    json_object_set_new(j, "accrued_cost", api_money(v->accrued));
    json_object_set_new(j, "discount", api_money(v->discount));
    json_object_set_new(j, "billed_seconds", json_integer(v->billed_us / USEC_PER_SEC));
    json_object_set_new(j, "billing", json_boolean(v->billing));
    json_object_set_new(j, "auto_renew", json_boolean(v->auto_renew));
    json_object_set_new(j, "has_workload", json_boolean(v->has_workload));
    json_object_set_new(j, "requeue", json_boolean(v->requeue));
    json_object_set_new(j, "requeued_from", api_id(ID_RENTAL, v->requeued_from));
    json_object_set_new(j, "requeued_as", api_id(ID_RENTAL, v->requeued_as));
    json_object_set_new(j, "simulated", json_boolean(simulated));
    return j;
}

json_t *api_tenant_json(const struct tenant_view *v)
{
    json_t *j = json_object();

    json_object_set_new(j, "id", api_id(ID_TENANT, v->id));
    json_object_set_new(j, "object", json_string("tenant"));
    json_object_set_new(j, "name", json_string(v->name));
    json_object_set_new(j, "balance", api_money(v->balance));
    json_object_set_new(j, "credit_limit", api_money(v->credit_limit));
    json_object_set_new(j, "monthly_budget",
                        v->monthly_budget > 0 ? api_money(v->monthly_budget) : json_null());
    json_object_set_new(j, "month_spent", api_money(v->month_spent));
    json_object_set_new(j, "hourly_burn", api_money(v->hourly_burn));
    json_object_set_new(j, "live_rentals", json_integer(v->live_rentals));
    return j;
}

static json_t *cost_json(const struct cost_basis *c)
{
    json_t *j = json_object();

    json_object_set_new(j, "purchase_price", api_money(c->purchase_price));
    json_object_set_new(j, "purchased_at", api_time(c->purchased_at));
    json_object_set_new(j, "depreciation_years", json_integer(c->depreciation_years));
    json_object_set_new(j, "salvage_fraction", json_real(c->salvage_ppm / 1e6));
    json_object_set_new(j, "power_watts", json_integer(c->power_watts));
    json_object_set_new(j, "pue", json_real(c->pue_milli / 1e3));
    json_object_set_new(j, "electricity_kwh_price", api_money(c->electricity_kwh_price));
    json_object_set_new(j, "hosting_monthly", api_money(c->hosting_monthly));
    return j;
}

static json_t *telemetry_json(struct api_records *rec, const char *uuid)
{
    struct gpu_telemetry t;
    json_t *j;

    if (!api_telemetry_get(rec, uuid, &t))
        return json_null();
    j = json_object();
    json_object_set_new(j, "util_pct", t.has_util ? json_real(t.util_pct) : json_null());
    json_object_set_new(j, "mem_used_mib", t.has_mem ? json_integer(t.mem_used_mib) : json_null());
    json_object_set_new(j, "power_w", t.has_power ? json_real(t.power_w) : json_null());
    json_object_set_new(j, "temp_c", t.has_temp ? json_real(t.temp_c) : json_null());
    json_object_set_new(j, "at", api_time(t.at));
    return j;
}

json_t *api_host_json(const struct engine *e, const struct host_view *v, bool with_gpus,
                      struct api_records *rec)
{
    struct gpu_view gpus[MAX_GPUS_PER_HOST];
    json_t *j = json_object();
    int n = engine_host_gpus(e, v->id, gpus, MAX_GPUS_PER_HOST);
    bool simulated = n > 0;

    for (int i = 0; i < n; i++)
        simulated = simulated && api_gpu_simulated(gpus[i].uuid);
    json_object_set_new(j, "id", api_id(ID_HOST, v->id));
    json_object_set_new(j, "object", json_string("host"));
    json_object_set_new(j, "hostname", json_string(v->hostname));
    json_object_set_new(j, "gpu_model", json_string(v->gpu_model));
    json_object_set_new(j, "state", json_string(host_state_name(v->state)));
    json_object_set_new(j, "simulated", json_boolean(simulated));
    json_object_set_new(j, "registered_at", api_time(v->registered_at));
    json_object_set_new(j, "last_heartbeat_at", api_time(v->last_heartbeat_at));
    json_object_set_new(j, "gpu_count", json_integer(v->gpu_count));
    /* a down host's GPUs are all unavailable (as its gpus[] and /metrics say), none free */
    json_object_set_new(j, "free_gpus", json_integer(v->state == HOST_DOWN ? 0 : v->free_gpus));
    json_object_set_new(j, "cost", v->has_cost ? cost_json(&v->cost) : json_null());
    if (with_gpus) {
        json_t *arr = json_array();

        for (int i = 0; i < n; i++) {
            json_t *g = json_object();
            struct rental_view rv;
            bool has_rental = gpus[i].rental != 0 && engine_rental(e, gpus[i].rental, &rv) == 0;

            json_object_set_new(g, "index", json_integer(gpus[i].index));
            json_object_set_new(g, "uuid", json_string(gpus[i].uuid));
            json_object_set_new(g, "model", json_string(v->gpu_model));
            json_object_set_new(g, "memory_mib", json_integer(gpus[i].memory_mib));
            json_object_set_new(g, "nvlink_island", json_integer(gpus[i].nvlink_island));
            json_object_set_new(g, "state", json_string(gpu_state_name(gpus[i].state)));
            json_object_set_new(g, "simulated", json_boolean(api_gpu_simulated(gpus[i].uuid)));
            json_object_set_new(g, "rental_id", api_id(ID_RENTAL, gpus[i].rental));
            /* what the console colours a GPU by: its rental's state and term */
            json_object_set_new(g, "rental_state",
                                has_rental ? json_string(rental_state_name(rv.state))
                                           : json_null());
            json_object_set_new(g, "rental_term",
                                has_rental ? json_string(term_name(rv.term)) : json_null());
            json_object_set_new(g, "telemetry", telemetry_json(rec, gpus[i].uuid));
            json_array_append_new(arr, g);
        }
        json_object_set_new(j, "gpus", arr);
    }
    return j;
}

static json_t *price_or_null(int64_t v)
{
    return v > 0 ? api_money(v) : json_null();
}

static void set_prices(json_t *j, const struct price *p)
{
    json_t *pk = json_object();

    json_object_set_new(j, "on_demand_hourly", price_or_null(p->on_demand_hourly));
    json_object_set_new(j, "spot_floor_hourly", price_or_null(p->spot_floor_hourly));
    for (int i = 0; i < PACKAGE_COUNT; i++)
        json_object_set_new(pk, term_name((enum term)(TERM_DAY + i)), price_or_null(p->package[i]));
    json_object_set_new(j, "packages", pk);
}

json_t *api_offer_json(const struct offer_view *v)
{
    json_t *j = json_object();

    json_object_set_new(j, "gpu_model", json_string(v->gpu_model));
    json_object_set_new(j, "memory_mib", json_integer(v->memory_mib));
    json_object_set_new(j, "available_gpus", json_integer(v->available_gpus));
    json_object_set_new(j, "max_gpus_per_host", json_integer(v->max_gpus_per_host));
    json_object_set_new(j, "largest_host", json_integer(v->largest_host));
    set_prices(j, &v->prices);
    return j;
}

json_t *api_prices_json(const struct offer_view *v)
{
    json_t *j = json_object();

    json_object_set_new(j, "gpu_model", json_string(v->gpu_model));
    json_object_set_new(j, "memory_mib", json_integer(v->memory_mib));
    set_prices(j, &v->prices);
    return j;
}

char *api_dump(json_t *j)
{
    char *text;

    if (j == NULL)
        return NULL;
    /* 15 significant digits: what a double holds reliably (0.1, not 0.10000000000000001) */
    text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    return text;
}

void api_reply(struct response *res, int status, json_t *j)
{
    char *text = api_dump(j);

    if (text == NULL) {
        http_problem(res, 500, "out of memory");
        return;
    }
    http_reply(res, status, text);
}

void api_reply_list(struct response *res, json_t *data, const char *next_cursor)
{
    json_t *j = json_object();

    if (j == NULL || data == NULL) {
        json_decref(j);
        json_decref(data);
        http_problem(res, 500, "out of memory");
        return;
    }
    json_object_set_new(j, "object", json_string("list"));
    json_object_set_new(j, "data", data);
    json_object_set_new(j, "next_cursor", next_cursor ? json_string(next_cursor) : json_null());
    api_reply(res, 200, j);
}

char *api_problem_text(int status, const char *fmt, ...)
{
    char detail[API_DETAIL_MAX];
    struct response tmp;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    memset(&tmp, 0, sizeof(tmp));
    http_problem(&tmp, status, "%s", detail);
    for (int i = 0; i < tmp.header_count; i++)
        free(tmp.header_values[i]);
    return tmp.body;
}

int api_job_reply(struct core_job *job, int status, json_t *j)
{
    job->reply = api_dump(j);
    job->status = job->reply != NULL ? status : 500;
    return 0;
}

int api_job_problem(struct core_job *job, int status, const char *fmt, ...)
{
    char detail[API_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    job->reply = api_problem_text(status, "%s", detail);
    job->status = status;
    return 0;
}

void api_problem_result(struct response *res, const struct result *r)
{
    http_problem(res, http_status_for(r->code), "%s", r->detail[0] ? r->detail : err_name(r->code));
}

void api_submit_no_fields(struct request *req, struct response *res, struct core_job *job)
{
    static const char *const none[] = {NULL};
    struct api_fields f;
    struct api_error err;
    json_t *body = api_body(req, res, API_BODY_OPTIONAL);

    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, none);
    if (api_failed(&f))
        http_problem(res, err.status, "%s", err.detail);
    else
        api_submit(req, res, job);
    json_decref(body);
}

void api_submit(struct request *req, struct response *res, struct core_job *job)
{
    int rc = core_submit(req->srv->core, job);
    int status;

    if (rc != 0) {
        free(job->reply);
        job->reply = NULL;
        /* crash safety: not durable, so not applied (the core rebuilt its state from the
           store); docs/crash-safety.md */
        http_problem(res, 503,
                     "the change could not be stored (storage error) and was not applied; "
                     "retry later, with the same Idempotency-Key");
        http_add_header(res, "Retry-After", "1");
        return;
    }
    status = job->status != 0 ? job->status : 200;
    if (job->reply != NULL) {
        http_reply(res, status, job->reply);
        job->reply = NULL;
        if (status >= 400)
            res->content_type = "application/problem+json";
        return;
    }
    if (status >= 400) {
        http_problem(res, status, "%s",
                     status == 500 ? "out of memory writing the reply" : "request failed");
        return;
    }
    if (job->result.code != 0) {
        api_problem_result(res, &job->result);
        return;
    }
    http_reply(res, status, strdup("{}"));
}

/* ---- Workloads ------------------------------------------------------------------------ */

void api_workload_name(char *buf, size_t cap, uint64_t rental)
{
    char id[ID_STR_MAX];

    snprintf(buf, cap, "workload:%s", id_format(id, ID_RENTAL, rental));
}

static void end_detail_name(char *buf, size_t cap, uint64_t rental)
{
    char id[ID_STR_MAX];

    snprintf(buf, cap, "end_detail:%s", id_format(id, ID_RENTAL, rental));
}

int api_end_detail_put(struct store *st, uint64_t rental, const char *detail, char *err, size_t cap)
{
    char name[64];

    end_detail_name(name, sizeof(name), rental);
    return store_meta_put(st, name, detail, err, cap);
}

void api_rental_end_detail(json_t *rental, struct store *st, struct store_reader *r)
{
    const char *id = json_string_value(json_object_get(rental, "id"));
    char name[64], value[API_END_DETAIL_MAX + 1], err[256];
    const char *why = json_string_value(json_object_get(rental, "end_reason"));
    uint64_t num;
    int rc;

    if (id == NULL || why == NULL || strcmp(why, "failed_to_start") != 0 ||
        api_parse_id(ID_RENTAL, id, UINT64_MAX, &num) < 0)
        return;
    end_detail_name(name, sizeof(name), num);
    if (st != NULL)
        rc = store_meta_get(st, name, value, sizeof(value), err, sizeof(err));
    else if (r != NULL)
        rc = store_reader_meta_get(r, name, value, sizeof(value), err, sizeof(err));
    else
        return;
    if (rc == 0)
        json_object_set_new(rental, "end_detail", json_string(value));
}

/* ---- Idempotency-Key ------------------------------------------------------------------ */

void api_caller_scope(const struct request *req, char *buf, size_t cap)
{
    char id[ID_STR_MAX];

    switch (req->who.role) {
    case ROLE_ADMIN:
        snprintf(buf, cap, "admin");
        break;
    case ROLE_TENANT:
        snprintf(buf, cap, "%s", id_format(id, ID_TENANT, req->who.tenant));
        break;
    case ROLE_AGENT:
        snprintf(buf, cap, "%s", id_format(id, ID_HOST, req->who.host));
        break;
    default:
        snprintf(buf, cap, "public");
        break;
    }
}

#define IDEM_KEY_MAX 255

int api_idem_init(struct api_idem *im, struct request *req, struct response *res)
{
    const char *key = http_header(req, "Idempotency-Key");
    char caller[64];
    size_t len;

    memset(im, 0, sizeof(*im));
    im->srv = req->srv;
    if (key == NULL)
        return 0;
    len = strlen(key);
    if (len == 0 || len > IDEM_KEY_MAX) {
        http_problem(res, 400, "Idempotency-Key: must be 1 to %d characters", IDEM_KEY_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e) {
            http_problem(res, 400, "Idempotency-Key: must be printable ASCII");
            return -1;
        }
    }
    im->key = key;
    api_caller_scope(req, caller, sizeof(caller));
    snprintf(im->scope, sizeof(im->scope), "%s %s %s", caller, req->method, req->path);
    idem_hash_body(req->body ? req->body : "", req->body ? req->body_len : 0, im->hash);
    return 0;
}

int api_idem_before(struct api_idem *im, struct core_job *job)
{
    const struct idem_entry *ent;

    if (im->key == NULL)
        return 0;
    ent = idem_find(&im->srv->idem, im->scope, im->key);
    if (ent == NULL)
        return 0;
    if (memcmp(ent->body_hash, im->hash, sizeof(im->hash)) != 0) {
        job->status = 422;
        job->reply =
            api_problem_text(422, "Idempotency-Key: already used with a different request body");
        return 1;
    }
    job->status = ent->status;
    job->reply = strdup(ent->reply ? ent->reply : "{}");
    im->replayed = true;
    return 1;
}

int api_idem_after(struct api_idem *im, struct core_job *job, struct store *store)
{
    char err[256];
    int rc;

    if (im->key == NULL || job->reply == NULL)
        return 0;
    rc = store_put_idempotent(store, im->scope, im->key, im->hash, job->status, job->reply, err,
                              sizeof(err));
    if (rc < 0)
        return rc;
    return idem_put(&im->srv->idem, im->scope, im->key, im->hash, job->status, job->reply);
}
