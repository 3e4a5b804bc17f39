/*
 * cmdjson.c - engine commands as JSON text (the command log's format).
 *
 * One table per command type lists its fields: name, kind and offset in struct command. The
 * encoder and the decoder both walk the same tables, so a field cannot be written without
 * being read back, and the test that round-trips every field of every type covers the tables
 * whole. Nested objects (a host's cost basis, a GPU, an agent report) have tables of their
 * own, with offsets relative to their struct.
 */
#include "../common/compat.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../engine/money.h"
#include "cmdjson.h"

#define PATH_MAX_LEN 96 /* "host_register.gpus[31].nvlink_island" and the like */

enum field_kind {
    F_U32,          /* uint32_t: integer 0..UINT32_MAX */
    F_U64,          /* uint64_t: integer 0..INT64_MAX (JSON integers are signed 64-bit) */
    F_INT,          /* int: integer INT_MIN..INT_MAX */
    F_TIME,         /* int64_t µs (times and durations): any integer */
    F_MONEY,        /* int64_t micro-units: a decimal string (money_format / money_parse) */
    F_STR,          /* const char *: a string; NULL is left out (decodes from absent or null) */
    F_BOOL,         /* bool */
    F_TERM,         /* enum term: its wire name */
    F_TERM_OR_ANY,  /* int: a term's wire name, or "any" for -1 (the default when absent) */
    F_RESTART,      /* enum restart_policy: its wire name */
    F_REPORT_STATE, /* enum report_state: "starting", "running", "exited", "failed" */
    F_PACKAGES,     /* int64_t[PACKAGE_COUNT]: {"day": money, "week": money, "month": money} */
    F_COST,         /* struct cost_basis: an object (cost_fields) */
    F_GPUS,         /* const struct gpu_spec * + uint32_t count: an array (gpu_fields) */
    F_REPORTS,      /* const struct rental_report * + uint32_t count: an array (report_fields) */
};

struct field {
    const char *name;
    enum field_kind kind;
    size_t off;       /* of the value (arrays: of the pointer) in the enclosing struct */
    size_t count_off; /* arrays: of the uint32_t element count */
};

static const struct field tenant_create_fields[] = {
    {"name", F_STR, offsetof(struct command, u.tenant_create.name), 0},
    {"credit_limit", F_MONEY, offsetof(struct command, u.tenant_create.credit_limit), 0},
};

static const struct field tenant_update_fields[] = {
    {"tenant", F_U32, offsetof(struct command, u.tenant_update.tenant), 0},
    {"set_credit_limit", F_BOOL, offsetof(struct command, u.tenant_update.set_credit_limit), 0},
    {"credit_limit", F_MONEY, offsetof(struct command, u.tenant_update.credit_limit), 0},
    {"set_monthly_budget", F_BOOL, offsetof(struct command, u.tenant_update.set_monthly_budget), 0},
    {"monthly_budget", F_MONEY, offsetof(struct command, u.tenant_update.monthly_budget), 0},
};

static const struct field credit_fields[] = {
    {"tenant", F_U32, offsetof(struct command, u.credit.tenant), 0},
    {"amount", F_MONEY, offsetof(struct command, u.credit.amount), 0},
    {"reference", F_STR, offsetof(struct command, u.credit.reference), 0},
    {"transfer_id", F_STR, offsetof(struct command, u.credit.transfer_id), 0},
};

static const struct field price_set_fields[] = {
    {"gpu_model", F_STR, offsetof(struct command, u.price_set.gpu_model), 0},
    {"memory_mib", F_U32, offsetof(struct command, u.price_set.memory_mib), 0},
    {"on_demand_hourly", F_MONEY, offsetof(struct command, u.price_set.on_demand_hourly), 0},
    {"spot_floor_hourly", F_MONEY, offsetof(struct command, u.price_set.spot_floor_hourly), 0},
    {"package", F_PACKAGES, offsetof(struct command, u.price_set.package), 0},
};

static const struct field coupon_create_fields[] = {
    {"code", F_STR, offsetof(struct command, u.coupon_create.code), 0},
    {"percent_off_bp", F_U32, offsetof(struct command, u.coupon_create.percent_off_bp), 0},
    {"amount_off", F_MONEY, offsetof(struct command, u.coupon_create.amount_off), 0},
    {"max_redemptions", F_U32, offsetof(struct command, u.coupon_create.max_redemptions), 0},
    {"valid_until", F_TIME, offsetof(struct command, u.coupon_create.valid_until), 0},
    {"gpu_model", F_STR, offsetof(struct command, u.coupon_create.gpu_model), 0},
    {"term", F_TERM_OR_ANY, offsetof(struct command, u.coupon_create.term), 0},
    {"automatic", F_BOOL, offsetof(struct command, u.coupon_create.automatic), 0},
    {"once_per_tenant", F_BOOL, offsetof(struct command, u.coupon_create.once_per_tenant), 0},
};

static const struct field host_register_fields[] = {
    {"hostname", F_STR, offsetof(struct command, u.host_register.hostname), 0},
    {"gpus", F_GPUS, offsetof(struct command, u.host_register.gpus),
     offsetof(struct command, u.host_register.gpu_count)},
};

static const struct field host_cost_fields[] = {
    {"host", F_U32, offsetof(struct command, u.host_cost.host), 0},
    {"cost", F_COST, offsetof(struct command, u.host_cost.cost), 0},
};

static const struct field host_fields[] = {
    {"host", F_U32, offsetof(struct command, u.host.host), 0},
};

static const struct field host_report_fields[] = {
    {"host", F_U32, offsetof(struct command, u.host_report.host), 0},
    {"reports", F_REPORTS, offsetof(struct command, u.host_report.reports),
     offsetof(struct command, u.host_report.count)},
};

static const struct field rental_create_fields[] = {
    {"tenant", F_U32, offsetof(struct command, u.rental_create.tenant), 0},
    {"gpu_model", F_STR, offsetof(struct command, u.rental_create.gpu_model), 0},
    {"gpu_count", F_U32, offsetof(struct command, u.rental_create.gpu_count), 0},
    {"term", F_TERM, offsetof(struct command, u.rental_create.term), 0},
    {"max_hourly", F_MONEY, offsetof(struct command, u.rental_create.max_hourly), 0},
    {"coupon", F_STR, offsetof(struct command, u.rental_create.coupon), 0},
    {"queue", F_BOOL, offsetof(struct command, u.rental_create.queue), 0},
    {"auto_renew", F_BOOL, offsetof(struct command, u.rental_create.auto_renew), 0},
    {"max_cost", F_MONEY, offsetof(struct command, u.rental_create.max_cost), 0},
    {"max_duration", F_TIME, offsetof(struct command, u.rental_create.max_duration), 0},
    {"has_workload", F_BOOL, offsetof(struct command, u.rental_create.has_workload), 0},
    {"restart", F_RESTART, offsetof(struct command, u.rental_create.restart), 0},
    {"requeue", F_BOOL, offsetof(struct command, u.rental_create.requeue), 0},
};

static const struct field rental_stop_fields[] = {
    {"tenant", F_U32, offsetof(struct command, u.rental_stop.tenant), 0},
    {"rental", F_U64, offsetof(struct command, u.rental_stop.rental), 0},
    {"admin", F_BOOL, offsetof(struct command, u.rental_stop.admin), 0},
    {"idle", F_BOOL, offsetof(struct command, u.rental_stop.idle), 0},
};

/* Nested objects: offsets relative to their own struct. */
static const struct field adjust_fields[] = {
    {"tenant", F_U32, offsetof(struct command, u.adjust.tenant), 0},
    {"amount", F_MONEY, offsetof(struct command, u.adjust.amount), 0},
    {"rental", F_U64, offsetof(struct command, u.adjust.rental), 0},
    {"corrects", F_TIME, offsetof(struct command, u.adjust.corrects), 0},
    {"reason", F_STR, offsetof(struct command, u.adjust.reason), 0},
};

static const struct field cost_fields[] = {
    {"purchase_price", F_MONEY, offsetof(struct cost_basis, purchase_price), 0},
    {"purchased_at", F_TIME, offsetof(struct cost_basis, purchased_at), 0},
    {"depreciation_years", F_U32, offsetof(struct cost_basis, depreciation_years), 0},
    {"salvage_ppm", F_U32, offsetof(struct cost_basis, salvage_ppm), 0},
    {"power_watts", F_U32, offsetof(struct cost_basis, power_watts), 0},
    {"pue_milli", F_U32, offsetof(struct cost_basis, pue_milli), 0},
    {"electricity_kwh_price", F_MONEY, offsetof(struct cost_basis, electricity_kwh_price), 0},
    {"hosting_monthly", F_MONEY, offsetof(struct cost_basis, hosting_monthly), 0},
};

static const struct field gpu_fields[] = {
    {"index", F_U32, offsetof(struct gpu_spec, index), 0},
    {"uuid", F_STR, offsetof(struct gpu_spec, uuid), 0},
    {"model", F_STR, offsetof(struct gpu_spec, model), 0},
    {"memory_mib", F_U32, offsetof(struct gpu_spec, memory_mib), 0},
    {"nvlink_island", F_U32, offsetof(struct gpu_spec, nvlink_island), 0},
};

static const struct field report_fields[] = {
    {"rental", F_U64, offsetof(struct rental_report, rental), 0},
    {"epoch", F_U32, offsetof(struct rental_report, epoch), 0},
    {"state", F_REPORT_STATE, offsetof(struct rental_report, state), 0},
    {"exit_code", F_INT, offsetof(struct rental_report, exit_code), 0},
};

struct command_desc {
    enum command_type type;
    const char *name; /* the "type" member */
    const struct field *fields;
    size_t field_count;
};

#define CMD(t, n, f)                                                                               \
    {                                                                                              \
        t, n, f, ARRAY_SIZE(f)                                                                     \
    }

static const struct command_desc commands[] = {
    CMD(CMD_TENANT_CREATE, "tenant_create", tenant_create_fields),
    CMD(CMD_TENANT_UPDATE, "tenant_update", tenant_update_fields),
    CMD(CMD_CREDIT, "credit", credit_fields),
    CMD(CMD_PRICE_SET, "price_set", price_set_fields),
    CMD(CMD_COUPON_CREATE, "coupon_create", coupon_create_fields),
    CMD(CMD_HOST_REGISTER, "host_register", host_register_fields),
    CMD(CMD_HOST_COST, "host_cost", host_cost_fields),
    CMD(CMD_HOST_DRAIN, "host_drain", host_fields),
    CMD(CMD_HOST_UNDRAIN, "host_undrain", host_fields),
    CMD(CMD_HOST_REPORT, "host_report", host_report_fields),
    CMD(CMD_RENTAL_CREATE, "rental_create", rental_create_fields),
    CMD(CMD_RENTAL_STOP, "rental_stop", rental_stop_fields),
    CMD(CMD_ADJUST, "adjust", adjust_fields),
};

static const char *const report_state_names[] = {"starting", "running", "exited", "failed"};

static const struct command_desc *desc_of_type(enum command_type t)
{
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (commands[i].type == t)
            return &commands[i];
    }
    return NULL;
}

static const struct command_desc *desc_of_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

/* ---- Encoding ------------------------------------------------------------------------- */

static json_t *encode_object(const struct field *fields, size_t n, const void *base);
static bool encode_members(json_t *obj, const struct field *fields, size_t n, const void *base);

/* Add key -> v to obj, stealing v; false when v is NULL (out of memory, bad UTF-8, a value
 * out of its type's range) or the insert fails. */
static bool put(json_t *obj, const char *key, json_t *v)
{
    return v != NULL && json_object_set_new(obj, key, v) == 0;
}

/* Money as text; NULL beyond +-MONEY_MAX, which money_parse would refuse on the way back. */
static json_t *money_json(int64_t v)
{
    char buf[MONEY_STR_MAX];

    if (v > MONEY_MAX || v < -MONEY_MAX)
        return NULL;
    return json_string(money_format(buf, v));
}

static json_t *encode_array(const struct field *f, const void *base)
{
    const char *items = *(const char *const *)((const char *)base + f->off);
    uint32_t count = *(const uint32_t *)((const char *)base + f->count_off);
    const struct field *sub = f->kind == F_GPUS ? gpu_fields : report_fields;
    size_t sub_n = f->kind == F_GPUS ? ARRAY_SIZE(gpu_fields) : ARRAY_SIZE(report_fields);
    size_t size = f->kind == F_GPUS ? sizeof(struct gpu_spec) : sizeof(struct rental_report);
    json_t *arr = json_array();

    if (arr == NULL)
        return NULL;
    if (count > 0 && items == NULL)
        goto fail;
    for (uint32_t i = 0; i < count; i++) {
        if (json_array_append_new(arr, encode_object(sub, sub_n, items + (size_t)i * size)) < 0)
            goto fail;
    }
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

static json_t *encode_value(const struct field *f, const void *base)
{
    const char *p = (const char *)base + f->off;

    switch (f->kind) {
    case F_U32:
        return json_integer(*(const uint32_t *)p);
    case F_U64:
        if (*(const uint64_t *)p > (uint64_t)INT64_MAX)
            return NULL;
        return json_integer((json_int_t) * (const uint64_t *)p);
    case F_INT:
        return json_integer(*(const int *)p);
    case F_TIME:
        return json_integer(*(const int64_t *)p);
    case F_MONEY:
        return money_json(*(const int64_t *)p);
    case F_STR:
        return json_string(*(const char *const *)p);
    case F_BOOL:
        return json_boolean(*(const bool *)p);
    case F_TERM: {
        enum term t = *(const enum term *)p;
        return (unsigned)t < TERM_COUNT ? json_string(term_name(t)) : NULL;
    }
    case F_TERM_OR_ANY: {
        int t = *(const int *)p;
        if (t == -1)
            return json_string("any");
        return t >= 0 && t < TERM_COUNT ? json_string(term_name((enum term)t)) : NULL;
    }
    case F_RESTART: {
        enum restart_policy r = *(const enum restart_policy *)p;
        return (unsigned)r <= RESTART_ALWAYS ? json_string(restart_policy_name(r)) : NULL;
    }
    case F_REPORT_STATE: {
        enum report_state s = *(const enum report_state *)p;
        return (unsigned)s < ARRAY_SIZE(report_state_names) ? json_string(report_state_names[s])
                                                            : NULL;
    }
    case F_PACKAGES: {
        const int64_t *pkg = (const int64_t *)p;
        json_t *o = json_object();
        for (int i = 0; o != NULL && i < PACKAGE_COUNT; i++) {
            if (!put(o, term_name((enum term)(TERM_DAY + i)), money_json(pkg[i]))) {
                json_decref(o);
                o = NULL;
            }
        }
        return o;
    }
    case F_COST:
        return encode_object(cost_fields, ARRAY_SIZE(cost_fields), p);
    case F_GPUS:
    case F_REPORTS:
        return encode_array(f, base);
    }
    return NULL;
}

static bool encode_members(json_t *obj, const struct field *fields, size_t n, const void *base)
{
    for (size_t i = 0; i < n; i++) {
        const struct field *f = &fields[i];
        if (f->kind == F_STR && *(const char *const *)((const char *)base + f->off) == NULL)
            continue; /* absent decodes to NULL */
        if (!put(obj, f->name, encode_value(f, base)))
            return false;
    }
    return true;
}

static json_t *encode_object(const struct field *fields, size_t n, const void *base)
{
    json_t *obj = json_object();

    if (obj != NULL && !encode_members(obj, fields, n, base)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

char *cmdjson_encode(const struct command *cmd)
{
    const struct command_desc *d = desc_of_type(cmd->type);
    json_t *obj;
    char *text = NULL;

    if (d == NULL)
        return NULL;
    obj = json_object();
    if (obj != NULL && put(obj, "type", json_string(d->name)) &&
        encode_members(obj, d->fields, d->field_count, cmd))
        text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    return text;
}

/* ---- Decoding ------------------------------------------------------------------------- */

struct decoder {
    struct cmdjson_decoded *out;
    char *err;
    size_t cap;
};

static int fail(struct decoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct decoder *d, const char *fmt, ...)
{
    va_list ap;

    if (d->err != NULL && d->cap > 0) {
        va_start(ap, fmt);
        vsnprintf(d->err, d->cap, fmt, ap);
        va_end(ap);
    }
    return ERR_INVALID;
}

static int decode_object(struct decoder *d, const char *path, json_t *obj,
                         const struct field *fields, size_t n, void *base, const char *skip);

/* The path of a member, for messages; a path too long for the buffer is cut short. */
static void path_join(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void path_join(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

static int decode_integer(struct decoder *d, const char *path, json_t *v, json_int_t min,
                          json_int_t max, json_int_t *out)
{
    if (!json_is_integer(v))
        return fail(d, "%s: expected an integer", path);
    *out = json_integer_value(v);
    if (*out < min || *out > max)
        return fail(d, "%s: %lld is out of range", path, (long long)*out);
    return 0;
}

static int decode_money(struct decoder *d, const char *path, json_t *v, int64_t *out)
{
    int rc;

    if (!json_is_string(v))
        return fail(d, "%s: expected a money string", path);
    rc = money_parse(out, json_string_value(v));
    if (rc == ERR_OVERFLOW)
        return fail(d, "%s: amount \"%s\" is too large", path, json_string_value(v));
    if (rc < 0)
        return fail(d, "%s: invalid amount \"%s\"", path, json_string_value(v));
    return 0;
}

/* A wire name: the string, or NULL after failing with "expected a string". */
static const char *decode_string(struct decoder *d, const char *path, json_t *v)
{
    if (!json_is_string(v)) {
        fail(d, "%s: expected a string", path);
        return NULL;
    }
    return json_string_value(v);
}

static int decode_enum(struct decoder *d, const char *path, json_t *v, const struct field *f,
                       char *p)
{
    const char *s = decode_string(d, path, v);
    enum term term;
    enum restart_policy restart;
    size_t i;

    if (s == NULL)
        return ERR_INVALID;
    switch (f->kind) {
    case F_TERM:
        if (term_parse(&term, s) < 0)
            return fail(d, "%s: unknown term \"%s\"", path, s);
        *(enum term *)p = term;
        return 0;
    case F_TERM_OR_ANY:
        if (strcmp(s, "any") == 0) {
            *(int *)p = -1;
            return 0;
        }
        if (term_parse(&term, s) < 0)
            return fail(d, "%s: unknown term \"%s\"", path, s);
        *(int *)p = (int)term;
        return 0;
    case F_RESTART:
        if (restart_policy_parse(&restart, s) < 0)
            return fail(d, "%s: unknown restart policy \"%s\"", path, s);
        *(enum restart_policy *)p = restart;
        return 0;
    default: /* F_REPORT_STATE */
        for (i = 0; i < ARRAY_SIZE(report_state_names); i++) {
            if (strcmp(s, report_state_names[i]) == 0) {
                *(enum report_state *)p = (enum report_state)i;
                return 0;
            }
        }
        return fail(d, "%s: unknown report state \"%s\"", path, s);
    }
}

static int decode_array(struct decoder *d, const char *path, json_t *v, const struct field *f,
                        void *base)
{
    char sub_path[PATH_MAX_LEN];
    const struct field *sub;
    size_t count, size, sub_n, i;
    char *items;
    int rc;

    if (!json_is_array(v))
        return fail(d, "%s: expected an array", path);
    count = json_array_size(v);
    if (f->kind == F_GPUS) {
        if (count > MAX_GPUS_PER_HOST)
            return fail(d, "%s: at most %d GPUs", path, MAX_GPUS_PER_HOST);
        items = (char *)d->out->gpus;
        size = sizeof(struct gpu_spec);
        sub = gpu_fields;
        sub_n = ARRAY_SIZE(gpu_fields);
    } else {
        if (count > UINT32_MAX)
            return fail(d, "%s: too many reports", path);
        size = sizeof(struct rental_report);
        /* one reports array per command: duplicate keys are rejected by the parser */
        d->out->reports = count > 0 ? calloc(count, size) : NULL;
        if (count > 0 && d->out->reports == NULL) {
            fail(d, "%s: out of memory", path);
            return ERR_NOMEM;
        }
        items = (char *)d->out->reports;
        sub = report_fields;
        sub_n = ARRAY_SIZE(report_fields);
    }
    for (i = 0; i < count; i++) {
        path_join(sub_path, sizeof(sub_path), "%s[%zu]", path, i);
        rc = decode_object(d, sub_path, json_array_get(v, i), sub, sub_n, items + i * size, NULL);
        if (rc < 0)
            return rc;
    }
    *(const void **)((char *)base + f->off) = count > 0 ? items : NULL;
    *(uint32_t *)((char *)base + f->count_off) = (uint32_t)count;
    return 0;
}

static int decode_packages(struct decoder *d, const char *path, json_t *v, int64_t *pkg)
{
    char sub_path[PATH_MAX_LEN];
    const char *key;
    json_t *item;
    int i;

    if (!json_is_object(v))
        return fail(d, "%s: expected an object", path);
    json_object_foreach(v, key, item)
    {
        for (i = 0; i < PACKAGE_COUNT; i++) {
            if (strcmp(key, term_name((enum term)(TERM_DAY + i))) == 0)
                break;
        }
        if (i == PACKAGE_COUNT)
            return fail(d, "%s: unknown field \"%s\"", path, key);
        path_join(sub_path, sizeof(sub_path), "%s.%s", path, key);
        if (decode_money(d, sub_path, item, &pkg[i]) < 0)
            return ERR_INVALID;
    }
    return 0;
}

static int decode_value(struct decoder *d, const char *path, json_t *v, const struct field *f,
                        void *base)
{
    char *p = (char *)base + f->off;
    json_int_t x = 0;

    switch (f->kind) {
    case F_U32:
        if (decode_integer(d, path, v, 0, UINT32_MAX, &x) < 0)
            return ERR_INVALID;
        *(uint32_t *)p = (uint32_t)x;
        return 0;
    case F_U64:
        if (decode_integer(d, path, v, 0, INT64_MAX, &x) < 0)
            return ERR_INVALID;
        *(uint64_t *)p = (uint64_t)x;
        return 0;
    case F_INT:
        if (decode_integer(d, path, v, INT_MIN, INT_MAX, &x) < 0)
            return ERR_INVALID;
        *(int *)p = (int)x;
        return 0;
    case F_TIME:
        if (decode_integer(d, path, v, INT64_MIN, INT64_MAX, &x) < 0)
            return ERR_INVALID;
        *(int64_t *)p = (int64_t)x;
        return 0;
    case F_MONEY:
        return decode_money(d, path, v, (int64_t *)p);
    case F_STR:
        if (json_is_null(v)) {
            *(const char **)p = NULL;
            return 0;
        }
        if (decode_string(d, path, v) == NULL)
            return ERR_INVALID;
        *(const char **)p = json_string_value(v); /* lives in out->root */
        return 0;
    case F_BOOL:
        if (!json_is_boolean(v))
            return fail(d, "%s: expected true or false", path);
        *(bool *)p = json_is_true(v);
        return 0;
    case F_TERM:
    case F_TERM_OR_ANY:
    case F_RESTART:
    case F_REPORT_STATE:
        return decode_enum(d, path, v, f, p);
    case F_PACKAGES:
        return decode_packages(d, path, v, (int64_t *)p);
    case F_COST:
        return decode_object(d, path, v, cost_fields, ARRAY_SIZE(cost_fields), p, NULL);
    case F_GPUS:
    case F_REPORTS:
        return decode_array(d, path, v, f, base);
    }
    return fail(d, "%s: unsupported field", path);
}

/* Decode the members of obj into base. A member not in fields is an error, except `skip`
 * (the command's "type", which the caller read). Absent members keep base's defaults. */
static int decode_object(struct decoder *d, const char *path, json_t *obj,
                         const struct field *fields, size_t n, void *base, const char *skip)
{
    char sub_path[PATH_MAX_LEN];
    const char *key;
    json_t *v;
    size_t i;
    int rc;

    if (!json_is_object(obj))
        return fail(d, "%s: expected an object", path);
    json_object_foreach(obj, key, v)
    {
        if (skip != NULL && strcmp(key, skip) == 0)
            continue;
        for (i = 0; i < n; i++) {
            if (strcmp(key, fields[i].name) == 0)
                break;
        }
        if (i == n)
            return fail(d, "%s: unknown field \"%s\"", path, key);
        path_join(sub_path, sizeof(sub_path), "%s.%s", path, key);
        rc = decode_value(d, sub_path, v, &fields[i], base);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cmdjson_decode(struct cmdjson_decoded *out, const char *text, char *err, size_t cap)
{
    struct decoder d = {.out = out, .err = err, .cap = cap};
    const struct command_desc *desc;
    json_error_t jerr;
    json_t *root, *type;
    int rc;

    memset(out, 0, sizeof(*out));
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return fail(&d, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                    jerr.text);
    out->root = root;
    if (!json_is_object(root)) {
        rc = fail(&d, "command: expected a JSON object");
        goto out;
    }
    type = json_object_get(root, "type");
    if (type == NULL) {
        rc = fail(&d, "command: missing \"type\"");
        goto out;
    }
    if (!json_is_string(type)) {
        rc = fail(&d, "command.type: expected a string");
        goto out;
    }
    desc = desc_of_name(json_string_value(type));
    if (desc == NULL) {
        rc = fail(&d, "command.type: unknown command type \"%s\"", json_string_value(type));
        goto out;
    }
    out->cmd.type = desc->type;
    if (desc->type == CMD_COUPON_CREATE)
        out->cmd.u.coupon_create.term = -1; /* absent: any term */
    rc = decode_object(&d, desc->name, root, desc->fields, desc->field_count, &out->cmd, "type");
out:
    if (rc < 0)
        cmdjson_release(out);
    return rc;
}

void cmdjson_release(struct cmdjson_decoded *d)
{
    if (d == NULL)
        return;
    json_decref((json_t *)d->root);
    free(d->reports);
    memset(d, 0, sizeof(*d));
}
