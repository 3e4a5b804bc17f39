#include "../common/compat.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/err.h"
#include "../common/hmap.h"
#include "../common/timeutil.h"
#include "../engine/money.h"
#include "scenario.h"

#define PATH_LEN           4096
#define JPATH_MAX          8
#define CSV_MAX_COLUMNS    16
#define TRACE_MAX_REQUESTS (16u << 20)

/* ---- Reading files ------------------------------------------------------------------- */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static int join_path(char *buf, size_t size, const char *dir, const char *name, char *err,
                     size_t cap)
{
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] == '/') ? "" : "/";
    int w = snprintf(buf, size, "%s%s%s", dir, sep, name);

    if (w < 0 || (size_t)w >= size) {
        set_err(err, cap, "%s: path too long", dir);
        return ERR_INVALID;
    }
    return 0;
}

/*
 * Read a whole file into a NUL-terminated buffer (owned by the caller). ERR_NOTFOUND without
 * a message when the file does not exist (the caller knows whether that is an error).
 */
static int read_text(const char *path, char **out, size_t *out_len, char *err, size_t cap)
{
    FILE *fp = NULL;
    char *buf = NULL;
    size_t len = 0, size = 0;
    struct stat st;
    int rc = 0;

    fp = fopen(path, "rb");
    if (fp == NULL) {
        if (errno == ENOENT)
            return ERR_NOTFOUND;
        set_err(err, cap, "%s: cannot read: %s", path, strerror(errno));
        return ERR_IO;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        set_err(err, cap, "%s: is a directory", path);
        rc = ERR_IO;
        goto out;
    }
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size > SCENARIO_FILE_MAX) {
        set_err(err, cap, "%s: file larger than %u MiB", path, SCENARIO_FILE_MAX >> 20);
        rc = ERR_INVALID;
        goto out;
    }
    for (;;) {
        size_t got;

        if (len + 1 >= size) {
            size_t nsize = size ? size * 2 : 65536;
            char *nbuf;

            if (nsize > (size_t)SCENARIO_FILE_MAX + 2)
                nsize = (size_t)SCENARIO_FILE_MAX + 2;
            if (nsize <= size) {
                set_err(err, cap, "%s: file larger than %u MiB", path, SCENARIO_FILE_MAX >> 20);
                rc = ERR_INVALID;
                goto out;
            }
            nbuf = realloc(buf, nsize);
            if (nbuf == NULL) {
                set_err(err, cap, "%s: out of memory", path);
                rc = ERR_NOMEM;
                goto out;
            }
            buf = nbuf;
            size = nsize;
        }
        got = fread(buf + len, 1, size - len - 1, fp);
        len += got;
        if (len > SCENARIO_FILE_MAX) {
            set_err(err, cap, "%s: file larger than %u MiB", path, SCENARIO_FILE_MAX >> 20);
            rc = ERR_INVALID;
            goto out;
        }
        if (got == 0) {
            if (ferror(fp)) {
                set_err(err, cap, "%s: cannot read: %s", path, strerror(errno));
                rc = ERR_IO;
                goto out;
            }
            break;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
out:
    free(buf);
    fclose(fp);
    return rc;
}

/* ---- Locating a JSON value's line ---------------------------------------------------- */

/*
 * jansson keeps no source positions, so on an error the loader walks the (already validated)
 * text along the path of keys and indexes to the offending member and counts newlines.
 */
struct jpath_elem {
    const char *key; /* NULL for an array index */
    size_t index;
};

struct jscan {
    const char *p, *end;
    int line;
};

static void js_ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) {
        if (*s->p == '\n')
            s->line++;
        s->p++;
    }
}

static void js_string(struct jscan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\')
            s->p++;
        s->p++;
    }
    if (s->p < s->end)
        s->p++;
}

static void js_value(struct jscan *s);

static void js_container(struct jscan *s, char close, bool object)
{
    s->p++;
    for (;;) {
        js_ws(s);
        if (s->p >= s->end)
            return;
        if (*s->p == close) {
            s->p++;
            return;
        }
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (object) {
            js_string(s);
            js_ws(s);
            if (s->p < s->end && *s->p == ':')
                s->p++;
        }
        js_value(s);
    }
}

static void js_value(struct jscan *s)
{
    js_ws(s);
    if (s->p >= s->end)
        return;
    switch (*s->p) {
    case '{':
        js_container(s, '}', true);
        break;
    case '[':
        js_container(s, ']', false);
        break;
    case '"':
        js_string(s);
        break;
    default:
        while (s->p < s->end && strchr(",]} \t\r\n", *s->p) == NULL)
            s->p++;
    }
}

/* At an object: move to the value of key, leaving s->line at the key's line. */
static bool js_member(struct jscan *s, const char *key)
{
    size_t klen = strlen(key);

    js_ws(s);
    if (s->p >= s->end || *s->p != '{')
        return false;
    s->p++;
    for (;;) {
        const char *start;
        int line;

        js_ws(s);
        if (s->p >= s->end || *s->p == '}')
            return false;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        line = s->line;
        start = s->p + 1;
        js_string(s);
        js_ws(s);
        if (s->p < s->end && *s->p == ':')
            s->p++;
        if ((size_t)(s->p - start) >= klen + 1 && memcmp(start, key, klen) == 0 &&
            start[klen] == '"') {
            js_ws(s);
            s->line = line;
            return true;
        }
        js_value(s);
    }
}

/* At an array: move to element index, leaving s->line at the element's line. */
static bool js_element(struct jscan *s, size_t index)
{
    size_t i = 0;

    js_ws(s);
    if (s->p >= s->end || *s->p != '[')
        return false;
    s->p++;
    for (;;) {
        js_ws(s);
        if (s->p >= s->end || *s->p == ']')
            return false;
        if (*s->p == ',') {
            s->p++;
            continue;
        }
        if (i == index)
            return true;
        js_value(s);
        i++;
    }
}

/* ---- JSON files with located errors -------------------------------------------------- */

struct jfile {
    char path[PATH_LEN]; /* as shown in messages */
    char *text;          /* owned */
    size_t len;
    json_t *root; /* owned */
    struct jpath_elem stack[JPATH_MAX];
    int depth;
    char *err;
    size_t cap;
};

static void jf_release(struct jfile *f)
{
    json_decref(f->root);
    f->root = NULL;
    free(f->text);
    f->text = NULL;
}

/* The line of the current path, extended by leaf (a key of the current object) if given. */
static int jf_line(const struct jfile *f, const char *leaf)
{
    struct jscan s = {f->text, f->text + f->len, 1};
    int line;

    js_ws(&s);
    line = s.line;
    for (int i = 0; i < f->depth; i++) {
        bool ok =
            f->stack[i].key ? js_member(&s, f->stack[i].key) : js_element(&s, f->stack[i].index);
        if (!ok)
            return line;
        line = s.line;
    }
    if (leaf != NULL && js_member(&s, leaf))
        line = s.line;
    return line;
}

static int jf_fail(struct jfile *f, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* `path:line: field "key": message`, or `path:line: message` without a key. */
static int jf_fail(struct jfile *f, const char *key, const char *fmt, ...)
{
    char msg[SCENARIO_ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (key != NULL)
        set_err(f->err, f->cap, "%s:%d: field \"%s\": %s", f->path, jf_line(f, key), key, msg);
    else
        set_err(f->err, f->cap, "%s:%d: %s", f->path, jf_line(f, NULL), msg);
    return ERR_INVALID;
}

static int jf_missing(struct jfile *f, const char *key)
{
    set_err(f->err, f->cap, "%s:%d: missing field \"%s\"", f->path, jf_line(f, NULL), key);
    return ERR_INVALID;
}

static void jf_push_key(struct jfile *f, const char *key)
{
    if (f->depth < JPATH_MAX)
        f->stack[f->depth] = (struct jpath_elem){key, 0};
    f->depth++;
}

static void jf_push_index(struct jfile *f, size_t index)
{
    if (f->depth < JPATH_MAX)
        f->stack[f->depth] = (struct jpath_elem){NULL, index};
    f->depth++;
}

static void jf_pop(struct jfile *f)
{
    f->depth--;
}

/* Load path as JSON: 0, ERR_NOTFOUND (absent, no message) or an error with a message. */
static int jf_load(struct jfile *f, const char *dir, const char *name, char *err, size_t cap)
{
    json_error_t jerr;
    int rc;

    memset(f, 0, sizeof(*f));
    f->err = err;
    f->cap = cap;
    rc = join_path(f->path, sizeof(f->path), dir, name, err, cap);
    if (rc != 0)
        return rc;
    rc = read_text(f->path, &f->text, &f->len, err, cap);
    if (rc != 0)
        return rc;
    f->root = json_loadb(f->text, f->len, JSON_REJECT_DUPLICATES, &jerr);
    if (f->root == NULL) {
        set_err(err, cap, "%s:%d: invalid JSON: %s", f->path, jerr.line > 0 ? jerr.line : 1,
                jerr.text);
        return ERR_INVALID;
    }
    if (!json_is_object(f->root)) {
        set_err(err, cap, "%s:%d: expected a JSON object", f->path, jf_line(f, NULL));
        return ERR_INVALID;
    }
    return 0;
}

/* Edit distance, for "did you mean" hints on unknown fields. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[SCENARIO_NAME_MAX + 1];

    if (la > SCENARIO_NAME_MAX || lb > SCENARIO_NAME_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Reject any member of obj whose name is not in allowed[0..n-1]. */
static int jf_known(struct jfile *f, json_t *obj, const char *const *allowed, size_t n)
{
    const char *key;
    json_t *value;

    json_object_foreach(obj, key, value)
    {
        const char *hint = NULL;
        size_t best = 3;
        bool found = false;

        for (size_t i = 0; i < n && !found; i++) {
            size_t d;

            if (strcmp(key, allowed[i]) == 0) {
                found = true;
                break;
            }
            d = edit_distance(key, allowed[i]);
            if (d < best) {
                best = d;
                hint = allowed[i];
            }
        }
        if (found)
            continue;
        if (hint != NULL)
            set_err(f->err, f->cap, "%s:%d: unknown field \"%s\" (did you mean \"%s\"?)", f->path,
                    jf_line(f, key), key, hint);
        else
            set_err(f->err, f->cap, "%s:%d: unknown field \"%s\"", f->path, jf_line(f, key), key);
        return ERR_INVALID;
    }
    return 0;
}

static int jf_int(struct jfile *f, json_t *obj, const char *key, bool required, int64_t min,
                  int64_t max, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    json_int_t x;

    if (v == NULL)
        return required ? jf_missing(f, key) : 0;
    x = json_is_integer(v) ? json_integer_value(v) : 0;
    if (!json_is_integer(v) || x < min) {
        if (min == 1)
            return jf_fail(f, key, "expected a positive integer");
        if (min == 0)
            return jf_fail(f, key, "expected a non-negative integer");
        return jf_fail(f, key, "expected an integer of at least %lld", (long long)min);
    }
    if (x > max)
        return jf_fail(f, key, "must be at most %lld", (long long)max);
    *out = x;
    return 0;
}

static int jf_u32(struct jfile *f, json_t *obj, const char *key, bool required, int64_t min,
                  int64_t max, uint32_t *out)
{
    int64_t v = *out;
    int rc = jf_int(f, obj, key, required, min, max > UINT32_MAX ? UINT32_MAX : max, &v);

    if (rc == 0)
        *out = (uint32_t)v;
    return rc;
}

/* A number (integer or real) in [min, max]. */
static int jf_number(struct jfile *f, json_t *obj, const char *key, bool required, double min,
                     double max, double *out)
{
    json_t *v = json_object_get(obj, key);
    double x;

    if (v == NULL)
        return required ? jf_missing(f, key) : 0;
    if (!json_is_number(v))
        return jf_fail(f, key, "expected a number");
    x = json_number_value(v);
    if (!isfinite(x) || x < min || x > max)
        return jf_fail(f, key, "expected a number from %g to %g", min, max);
    *out = x;
    return 0;
}

/* A money string: min_positive requires > 0, else >= 0. */
static int jf_money(struct jfile *f, json_t *obj, const char *key, bool required, bool positive,
                    int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    int64_t x;
    int rc;

    if (v == NULL)
        return required ? jf_missing(f, key) : 0;
    if (json_is_number(v))
        return jf_fail(f, key, "expected a money string such as \"15.10\", not a JSON number");
    if (!json_is_string(v))
        return jf_fail(f, key, "expected a money string such as \"15.10\"");
    rc = money_parse(&x, json_string_value(v));
    if (rc == ERR_OVERFLOW)
        return jf_fail(f, key, "amount \"%s\" is too large", json_string_value(v));
    if (rc != 0)
        return jf_fail(f, key, "invalid amount \"%s\": expected digits with up to 6 decimals",
                       json_string_value(v));
    if (x < 0)
        return jf_fail(f, key, "must not be negative");
    if (positive && x == 0)
        return jf_fail(f, key, "must be greater than zero");
    *out = x;
    return 0;
}

static int jf_bool(struct jfile *f, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return jf_fail(f, key, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

/* Names of models, coupons, prefixes: 1..SCENARIO_NAME_MAX printable bytes, no , " \ */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > SCENARIO_NAME_MAX)
        return false;
    for (const char *p = s; *p; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == ',' || *p == '"' || *p == '\\')
            return false;
    }
    return true;
}

static int jf_name(struct jfile *f, json_t *obj, const char *key, bool required, const char **out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return required ? jf_missing(f, key) : 0;
    if (!json_is_string(v) || !name_ok(json_string_value(v)))
        return jf_fail(f, key,
                       "expected a name of 1 to %d characters without spaces, commas or quotes",
                       SCENARIO_NAME_MAX);
    *out = json_string_value(v);
    return 0;
}

static int jf_time(struct jfile *f, json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return 0;
    if (!json_is_string(v) || time_parse(out, json_string_value(v)) != 0)
        return jf_fail(f, key, "expected an RFC 3339 time such as \"2026-01-01T00:00:00Z\"");
    return 0;
}

static int jf_description(struct jfile *f, json_t *obj)
{
    json_t *v = json_object_get(obj, "description");

    if (v != NULL && !json_is_string(v))
        return jf_fail(f, "description", "expected a string");
    return 0;
}

/* ---- The scenario's models and coupons ----------------------------------------------- */

static int model_find(const struct scenario *sc, const char *name)
{
    for (uint32_t i = 0; i < sc->model_count; i++) {
        if (strcmp(sc->models[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

static int coupon_find(const struct scenario *sc, const char *code)
{
    for (uint32_t i = 0; i < sc->coupon_count; i++) {
        if (sc->coupons[i].code != NULL && strcmp(sc->coupons[i].code, code) == 0)
            return (int)i;
    }
    return -1;
}

/* "a", "b" and "c": the fleet's models, for messages. */
static void model_list(const struct scenario *sc, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (uint32_t i = 0; i < sc->model_count && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s\"%s\"", i ? ", " : "", sc->models[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* ---- scenario.json ------------------------------------------------------------------- */

static int load_settings(struct scenario *sc, char *err, size_t cap)
{
    static const char *const fields[] = {"description",
                                         "start",
                                         "days",
                                         "seed",
                                         "settle_interval_seconds",
                                         "agent_start_delay_seconds",
                                         "tenants",
                                         "tenant_credit",
                                         "tenant_credit_limit"};
    struct jfile f;
    json_t *o;
    int64_t v;
    int rc;

    rc = jf_load(&f, sc->dir, "scenario.json", err, cap);
    if (rc == ERR_NOTFOUND) {
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    o = f.root;
    if ((rc = jf_known(&f, o, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_description(&f, o)) != 0 || (rc = jf_time(&f, o, "start", &sc->start)) != 0 ||
        (rc = jf_u32(&f, o, "days", false, 1, SCENARIO_MAX_DAYS, &sc->days)) != 0)
        goto out;
    v = (int64_t)sc->seed;
    if ((rc = jf_int(&f, o, "seed", false, 0, INT64_MAX, &v)) != 0)
        goto out;
    sc->seed = (uint64_t)v;
    v = sc->settle_interval / USEC_PER_SEC;
    if ((rc = jf_int(&f, o, "settle_interval_seconds", false, 1, 31 * 86400, &v)) != 0)
        goto out;
    sc->settle_interval = v * USEC_PER_SEC;
    v = sc->start_delay / USEC_PER_SEC;
    if ((rc = jf_int(&f, o, "agent_start_delay_seconds", false, 0, 86400, &v)) != 0)
        goto out;
    sc->start_delay = v * USEC_PER_SEC;
    if ((rc = jf_u32(&f, o, "tenants", false, 1, SCENARIO_MAX_TENANTS, &sc->tenants)) != 0 ||
        (rc = jf_money(&f, o, "tenant_credit", false, false, &sc->tenant_credit)) != 0 ||
        (rc = jf_money(&f, o, "tenant_credit_limit", false, false, &sc->tenant_credit_limit)) != 0)
        goto out;
out:
    jf_release(&f);
    return rc;
}

/* ---- fleet.json ---------------------------------------------------------------------- */

static int load_cost(struct scenario *sc, struct jfile *f, json_t *o, struct cost_basis *c)
{
    static const char *const fields[] = {
        "purchase_price", "purchased_at", "depreciation_years",    "salvage_fraction",
        "power_watts",    "pue",          "electricity_kwh_price", "hosting_monthly"};
    double salvage = 0, pue = 1.0;
    int rc;

    memset(c, 0, sizeof(*c));
    c->purchased_at = sc->start;
    if ((rc = jf_known(f, o, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_money(f, o, "purchase_price", true, false, &c->purchase_price)) != 0 ||
        (rc = jf_time(f, o, "purchased_at", &c->purchased_at)) != 0 ||
        (rc = jf_u32(f, o, "depreciation_years", true, 1, 100, &c->depreciation_years)) != 0 ||
        (rc = jf_number(f, o, "salvage_fraction", false, 0, 1, &salvage)) != 0 ||
        (rc = jf_u32(f, o, "power_watts", false, 0, 10000000, &c->power_watts)) != 0 ||
        (rc = jf_number(f, o, "pue", false, 1, 10, &pue)) != 0 ||
        (rc = jf_money(f, o, "electricity_kwh_price", false, false, &c->electricity_kwh_price)) !=
            0 ||
        (rc = jf_money(f, o, "hosting_monthly", false, false, &c->hosting_monthly)) != 0)
        return rc;
    c->salvage_ppm = (uint32_t)llround(salvage * 1e6);
    c->pue_milli = (uint32_t)llround(pue * 1e3);
    return 0;
}

static int add_model(struct scenario *sc, const char *name, uint32_t *out)
{
    int i = model_find(sc, name);
    struct scenario_model *m;

    if (i >= 0) {
        *out = (uint32_t)i;
        return 0;
    }
    if (sc->model_count >= SCENARIO_MAX_MODELS)
        return ERR_INVALID;
    m = &sc->models[sc->model_count];
    memset(m, 0, sizeof(*m));
    m->name = strdup(name);
    if (m->name == NULL)
        return ERR_NOMEM;
    *out = sc->model_count++;
    return 0;
}

static int load_group(struct scenario *sc, struct jfile *f, json_t *o,
                      struct scenario_host_group *g)
{
    static const char *const fields[] = {"count",      "hostname_prefix", "gpu_model",
                                         "memory_mib", "gpus_per_host",   "nvlink_islands",
                                         "cost",       "description"};
    const char *prefix = NULL, *model = NULL;
    json_t *cost;
    struct scenario_model *m;
    int rc;

    g->nvlink_islands = 1;
    if ((rc = jf_known(f, o, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_description(f, o)) != 0 ||
        (rc = jf_u32(f, o, "count", true, 1, SCENARIO_MAX_HOSTS, &g->count)) != 0 ||
        (rc = jf_name(f, o, "hostname_prefix", true, &prefix)) != 0 ||
        (rc = jf_name(f, o, "gpu_model", true, &model)) != 0 ||
        (rc = jf_u32(f, o, "memory_mib", true, 1, UINT32_MAX, &g->memory_mib)) != 0 ||
        (rc = jf_u32(f, o, "gpus_per_host", true, 1, MAX_GPUS_PER_HOST, &g->gpus_per_host)) != 0 ||
        (rc = jf_u32(f, o, "nvlink_islands", false, 1, MAX_GPUS_PER_HOST, &g->nvlink_islands)) != 0)
        return rc;
    if (strlen(prefix) > 32)
        return jf_fail(f, "hostname_prefix", "must be at most 32 characters");
    for (uint32_t i = 0; i < sc->group_count; i++) {
        if (&sc->groups[i] != g && sc->groups[i].hostname_prefix != NULL &&
            strcmp(sc->groups[i].hostname_prefix, prefix) == 0)
            return jf_fail(f, "hostname_prefix", "\"%s\" is used by another host group", prefix);
    }
    if (g->gpus_per_host % g->nvlink_islands != 0)
        return jf_fail(f, "nvlink_islands", "must divide gpus_per_host (%u)", g->gpus_per_host);
    if (sc->host_count + g->count > SCENARIO_MAX_HOSTS)
        return jf_fail(f, "count", "the fleet would have more than %u hosts", SCENARIO_MAX_HOSTS);
    g->hostname_prefix = strdup(prefix);
    if (g->hostname_prefix == NULL)
        return ERR_NOMEM;
    rc = add_model(sc, model, &g->model);
    if (rc == ERR_INVALID)
        return jf_fail(f, "gpu_model", "more than %d GPU models", SCENARIO_MAX_MODELS);
    if (rc != 0)
        return rc;
    m = &sc->models[g->model];
    if (m->memory_mib == 0)
        m->memory_mib = g->memory_mib;
    if (g->gpus_per_host > m->largest_host)
        m->largest_host = g->gpus_per_host;
    m->gpus += g->count * g->gpus_per_host;
    sc->host_count += g->count;
    sc->gpu_count += g->count * g->gpus_per_host;
    cost = json_object_get(o, "cost");
    if (cost != NULL) {
        if (!json_is_object(cost))
            return jf_fail(f, "cost", "expected an object");
        jf_push_key(f, "cost");
        rc = load_cost(sc, f, cost, &g->cost);
        jf_pop(f);
        if (rc != 0)
            return rc;
        g->has_cost = true;
    }
    return 0;
}

static int load_fleet(struct scenario *sc, char *err, size_t cap)
{
    static const char *const fields[] = {"description", "host_groups"};
    struct jfile f;
    json_t *groups, *o;
    size_t i;
    int rc;

    rc = jf_load(&f, sc->dir, "fleet.json", err, cap);
    if (rc == ERR_NOTFOUND) {
        set_err(err, cap, "%s: cannot read: %s", f.path, strerror(ENOENT));
        rc = ERR_IO;
    }
    if (rc != 0)
        goto out;
    if ((rc = jf_known(&f, f.root, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_description(&f, f.root)) != 0)
        goto out;
    groups = json_object_get(f.root, "host_groups");
    if (groups == NULL) {
        rc = jf_missing(&f, "host_groups");
        goto out;
    }
    if (!json_is_array(groups) || json_array_size(groups) == 0) {
        rc = jf_fail(&f, "host_groups", "expected a non-empty array of host groups");
        goto out;
    }
    sc->groups = calloc(json_array_size(groups), sizeof(*sc->groups));
    sc->models = calloc(SCENARIO_MAX_MODELS, sizeof(*sc->models));
    if (sc->groups == NULL || sc->models == NULL) {
        rc = ERR_NOMEM;
        set_err(err, cap, "%s: out of memory", f.path);
        goto out;
    }
    jf_push_key(&f, "host_groups");
    json_array_foreach(groups, i, o)
    {
        jf_push_index(&f, i);
        sc->group_count++; /* counted first: release frees what a failed load allocated */
        if (!json_is_object(o))
            rc = jf_fail(&f, NULL, "expected a host group object");
        else
            rc = load_group(sc, &f, o, &sc->groups[i]);
        jf_pop(&f);
        if (rc != 0)
            goto out;
    }
    jf_pop(&f);
out:
    if (rc == ERR_NOMEM)
        set_err(err, cap, "%s: out of memory", f.path);
    jf_release(&f);
    return rc;
}

/* ---- prices.json --------------------------------------------------------------------- */

static int load_price(struct scenario *sc, struct jfile *f, json_t *o, struct price *p)
{
    static const char *const fields[] = {"on_demand_hourly", "spot_floor_hourly", "packages"};
    static const char *const package_fields[PACKAGE_COUNT] = {"day", "week", "month"};
    json_t *packages;
    int rc;

    (void)sc;
    if ((rc = jf_known(f, o, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_money(f, o, "on_demand_hourly", true, true, &p->on_demand_hourly)) != 0 ||
        (rc = jf_money(f, o, "spot_floor_hourly", false, false, &p->spot_floor_hourly)) != 0)
        return rc;
    packages = json_object_get(o, "packages");
    if (packages == NULL)
        return 0;
    if (!json_is_object(packages))
        return jf_fail(f, "packages", "expected an object with day, week and month prices");
    jf_push_key(f, "packages");
    rc = jf_known(f, packages, package_fields, PACKAGE_COUNT);
    for (int i = 0; rc == 0 && i < PACKAGE_COUNT; i++)
        rc = jf_money(f, packages, package_fields[i], false, true, &p->package[i]);
    jf_pop(f);
    return rc;
}

static int load_coupon(struct scenario *sc, struct jfile *f, json_t *o, struct scenario_coupon *c)
{
    static const char *const fields[] = {
        "code",      "percent_off", "amount_off", "max_redemptions", "valid_until",
        "gpu_model", "term",        "automatic",  "once_per_tenant", "description"};
    const char *code = NULL, *model = NULL;
    double percent = 0;
    json_t *term;
    int rc;

    c->model = -1;
    c->term = -1;
    if ((rc = jf_known(f, o, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_description(f, o)) != 0 || (rc = jf_name(f, o, "code", true, &code)) != 0 ||
        (rc = jf_number(f, o, "percent_off", false, 0.01, 100, &percent)) != 0 ||
        (rc = jf_money(f, o, "amount_off", false, true, &c->amount_off)) != 0 ||
        (rc = jf_u32(f, o, "max_redemptions", false, 0, UINT32_MAX, &c->max_redemptions)) != 0 ||
        (rc = jf_time(f, o, "valid_until", &c->valid_until)) != 0 ||
        (rc = jf_name(f, o, "gpu_model", false, &model)) != 0 ||
        (rc = jf_bool(f, o, "automatic", &c->automatic)) != 0 ||
        (rc = jf_bool(f, o, "once_per_tenant", &c->once_per_tenant)) != 0)
        return rc;
    if (coupon_find(sc, code) >= 0)
        return jf_fail(f, "code", "coupon \"%s\" is defined twice", code);
    if ((percent > 0) == (c->amount_off > 0))
        return jf_fail(f, NULL, "a coupon needs exactly one of \"percent_off\" and \"amount_off\"");
    c->percent_off_bp = (uint32_t)llround(percent * 100);
    if (model != NULL) {
        c->model = model_find(sc, model);
        if (c->model < 0)
            return jf_fail(f, "gpu_model", "unknown GPU model \"%s\" (not in fleet.json)", model);
    }
    term = json_object_get(o, "term");
    if (term != NULL) {
        enum term t;

        if (!json_is_string(term) || term_parse(&t, json_string_value(term)) != 0)
            return jf_fail(f, "term", "expected one of on_demand, spot, day, week, month");
        c->term = (int)t;
    }
    c->code = strdup(code);
    return c->code ? 0 : ERR_NOMEM;
}

static int load_prices(struct scenario *sc, char *err, size_t cap)
{
    static const char *const fields[] = {"description", "prices", "coupons"};
    struct jfile f;
    json_t *prices, *coupons, *o;
    const char *key;
    size_t i;
    char names[512];
    int rc;

    rc = jf_load(&f, sc->dir, "prices.json", err, cap);
    if (rc == ERR_NOTFOUND) {
        set_err(err, cap, "%s: cannot read: %s", f.path, strerror(ENOENT));
        rc = ERR_IO;
    }
    if (rc != 0)
        goto out;
    if ((rc = jf_known(&f, f.root, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_description(&f, f.root)) != 0)
        goto out;
    prices = json_object_get(f.root, "prices");
    if (prices == NULL) {
        rc = jf_missing(&f, "prices");
        goto out;
    }
    if (!json_is_object(prices)) {
        rc = jf_fail(&f, "prices", "expected an object of prices by GPU model");
        goto out;
    }
    jf_push_key(&f, "prices");
    json_object_foreach(prices, key, o)
    {
        int m = model_find(sc, key);

        if (m < 0) {
            model_list(sc, names, sizeof(names));
            rc = jf_fail(&f, key, "unknown GPU model (fleet.json has %s)", names);
            goto out;
        }
        if (!json_is_object(o)) {
            rc = jf_fail(&f, key, "expected an object of prices");
            goto out;
        }
        jf_push_key(&f, key);
        rc = load_price(sc, &f, o, &sc->models[m].price);
        jf_pop(&f);
        if (rc != 0)
            goto out;
        sc->models[m].priced = true;
    }
    jf_pop(&f);
    for (uint32_t m = 0; m < sc->model_count; m++) {
        if (!sc->models[m].priced) {
            rc = jf_fail(&f, "prices", "no price for GPU model \"%s\" of fleet.json",
                         sc->models[m].name);
            goto out;
        }
    }
    coupons = json_object_get(f.root, "coupons");
    if (coupons == NULL)
        goto out;
    if (!json_is_array(coupons)) {
        rc = jf_fail(&f, "coupons", "expected an array of coupons");
        goto out;
    }
    if (json_array_size(coupons) > SCENARIO_MAX_COUPONS) {
        rc = jf_fail(&f, "coupons", "more than %d coupons", SCENARIO_MAX_COUPONS);
        goto out;
    }
    sc->coupons = calloc(json_array_size(coupons) + 1, sizeof(*sc->coupons));
    if (sc->coupons == NULL) {
        rc = ERR_NOMEM;
        goto out;
    }
    jf_push_key(&f, "coupons");
    json_array_foreach(coupons, i, o)
    {
        jf_push_index(&f, i);
        sc->coupon_count++; /* counted first: release frees what a failed load allocated */
        if (!json_is_object(o))
            rc = jf_fail(&f, NULL, "expected a coupon object");
        else
            rc = load_coupon(sc, &f, o, &sc->coupons[i]);
        jf_pop(&f);
        if (rc != 0)
            goto out;
    }
    jf_pop(&f);
out:
    if (rc == ERR_NOMEM)
        set_err(err, cap, "%s: out of memory", f.path);
    jf_release(&f);
    return rc;
}

/* ---- demand.json (the generator) ----------------------------------------------------- */

/* An object of name -> weight (a number >= 0); at least one weight above zero. */
static int load_weights(struct jfile *f, json_t *parent, const char *field, json_t **out)
{
    json_t *o = json_object_get(parent, field);
    const char *key;
    json_t *v;
    bool any = false;

    *out = NULL;
    if (o == NULL)
        return 0;
    if (!json_is_object(o))
        return jf_fail(f, field, "expected an object of weights");
    jf_push_key(f, field);
    json_object_foreach(o, key, v)
    {
        if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0) {
            int rc = jf_fail(f, key, "expected a weight (a number >= 0)");
            jf_pop(f);
            return rc;
        }
        any = any || json_number_value(v) > 0;
    }
    jf_pop(f);
    if (!any)
        return jf_fail(f, field, "needs at least one weight above zero");
    *out = o;
    return 0;
}

static int load_duration(struct jfile *f, json_t *o, struct duration_dist *d)
{
    static const char *const fields[] = {"distribution", "mean_seconds", "sigma", "min_seconds",
                                         "max_seconds"};
    json_t *kind = json_object_get(o, "distribution");
    const char *k;
    int rc;

    if ((rc = jf_known(f, o, fields, ARRAY_SIZE(fields))) != 0)
        return rc;
    if (kind == NULL)
        return jf_missing(f, "distribution");
    k = json_is_string(kind) ? json_string_value(kind) : "";
    if (strcmp(k, "fixed") == 0)
        d->kind = DURATION_FIXED;
    else if (strcmp(k, "exponential") == 0)
        d->kind = DURATION_EXPONENTIAL;
    else if (strcmp(k, "lognormal") == 0)
        d->kind = DURATION_LOGNORMAL;
    else
        return jf_fail(f, "distribution", "expected fixed, exponential or lognormal");
    d->sigma = 1.0;
    d->min_seconds = 1;
    d->max_seconds = 0;
    if ((rc = jf_number(f, o, "mean_seconds", true, 1, 1e9, &d->mean_seconds)) != 0 ||
        (rc = jf_number(f, o, "min_seconds", false, 1, 1e9, &d->min_seconds)) != 0 ||
        (rc = jf_number(f, o, "max_seconds", false, 1, 1e9, &d->max_seconds)) != 0)
        return rc;
    if (json_object_get(o, "sigma") != NULL && d->kind != DURATION_LOGNORMAL)
        return jf_fail(f, "sigma", "only the lognormal distribution takes a sigma");
    if ((rc = jf_number(f, o, "sigma", false, 0.01, 10, &d->sigma)) != 0)
        return rc;
    if (d->max_seconds > 0 && d->max_seconds < d->min_seconds)
        return jf_fail(f, "max_seconds", "must not be below min_seconds");
    return 0;
}

static int load_demand_model(struct scenario *sc, struct jfile *f, json_t *o,
                             struct demand_model_params *p)
{
    static const char *const fields[] = {
        "gpu_model", "arrivals_per_hour", "duration",         "sizes",   "terms",
        "spot_bid",  "queue_share",       "patience_seconds", "coupons", "description"};
    const char *model = NULL, *key;
    const struct scenario_model *m;
    json_t *duration, *sizes, *terms, *coupons, *bid, *v;
    char names[512];
    int idx, rc;

    if ((rc = jf_known(f, o, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_description(f, o)) != 0 || (rc = jf_name(f, o, "gpu_model", true, &model)) != 0)
        return rc;
    idx = model_find(sc, model);
    if (idx < 0) {
        model_list(sc, names, sizeof(names));
        return jf_fail(f, "gpu_model", "unknown GPU model \"%s\" (fleet.json has %s)", model,
                       names);
    }
    for (struct demand_model_params *q = sc->params; q < p; q++) {
        if (q->model == (uint32_t)idx)
            return jf_fail(f, "gpu_model", "\"%s\" has demand twice", model);
    }
    p->model = (uint32_t)idx;
    m = &sc->models[idx];
    p->queue_share = 1.0;
    if ((rc = jf_number(f, o, "arrivals_per_hour", true, 1e-6, 1e7, &p->arrivals_per_hour)) != 0 ||
        (rc = jf_number(f, o, "queue_share", false, 0, 1, &p->queue_share)) != 0 ||
        (rc = jf_number(f, o, "patience_seconds", false, 0, 1e9, &p->patience_seconds)) != 0)
        return rc;
    duration = json_object_get(o, "duration");
    if (duration == NULL)
        return jf_missing(f, "duration");
    if (!json_is_object(duration))
        return jf_fail(f, "duration", "expected an object");
    jf_push_key(f, "duration");
    rc = load_duration(f, duration, &p->duration);
    jf_pop(f);
    if (rc != 0)
        return rc;

    if ((rc = load_weights(f, o, "sizes", &sizes)) != 0)
        return rc;
    if (sizes == NULL) {
        p->size_weight[1] = 1;
    } else {
        jf_push_key(f, "sizes");
        json_object_foreach(sizes, key, v)
        {
            char *end = NULL;
            long n = strtol(key, &end, 10);

            if (end == key || *end != '\0' || key[0] < '1' || key[0] > '9' || n < 1 ||
                n > MAX_GPUS_PER_HOST) {
                rc = jf_fail(f, key, "expected a GPU count from 1 to %d", MAX_GPUS_PER_HOST);
                break;
            }
            if ((uint32_t)n > m->largest_host && json_number_value(v) > 0) {
                rc = jf_fail(f, key, "%ld GPUs exceed the largest host of \"%s\" (%u GPUs)", n,
                             m->name, m->largest_host);
                break;
            }
            p->size_weight[n] = json_number_value(v);
        }
        jf_pop(f);
        if (rc != 0)
            return rc;
    }

    if ((rc = load_weights(f, o, "terms", &terms)) != 0)
        return rc;
    if (terms == NULL) {
        p->term_weight[TERM_ON_DEMAND] = 1;
    } else {
        jf_push_key(f, "terms");
        json_object_foreach(terms, key, v)
        {
            enum term t;
            bool offered;

            if (term_parse(&t, key) != 0) {
                rc = jf_fail(f, key, "expected one of on_demand, spot, day, week, month");
                break;
            }
            offered = t == TERM_ON_DEMAND || (t == TERM_SPOT && m->price.spot_floor_hourly > 0) ||
                      (TERM_IS_PACKAGE(t) && m->price.package[PACKAGE_INDEX(t)] > 0);
            if (!offered && json_number_value(v) > 0) {
                rc = jf_fail(f, key, "\"%s\" is not offered for \"%s\" (prices.json has no price)",
                             key, m->name);
                break;
            }
            p->term_weight[t] = json_number_value(v);
        }
        jf_pop(f);
        if (rc != 0)
            return rc;
    }

    bid = json_object_get(o, "spot_bid");
    if (p->term_weight[TERM_SPOT] > 0 && bid == NULL)
        return jf_missing(f, "spot_bid");
    if (bid != NULL) {
        static const char *const bid_fields[] = {"min", "max"};
        char floor[MONEY_STR_MAX];

        if (!json_is_object(bid))
            return jf_fail(f, "spot_bid", "expected an object with min and max");
        jf_push_key(f, "spot_bid");
        if ((rc = jf_known(f, bid, bid_fields, 2)) == 0 &&
            (rc = jf_money(f, bid, "min", true, true, &p->bid_min)) == 0 &&
            (rc = jf_money(f, bid, "max", true, true, &p->bid_max)) == 0) {
            if (p->bid_min < m->price.spot_floor_hourly)
                rc = jf_fail(f, "min", "below the spot floor %s of \"%s\"",
                             money_format(floor, m->price.spot_floor_hourly), m->name);
            else if (p->bid_max < p->bid_min)
                rc = jf_fail(f, "max", "must not be below min");
        }
        jf_pop(f);
        if (rc != 0)
            return rc;
    }

    coupons = json_object_get(o, "coupons");
    if (coupons != NULL) {
        double sum = 0;

        if (!json_is_object(coupons))
            return jf_fail(f, "coupons", "expected an object of coupon code -> share");
        jf_push_key(f, "coupons");
        json_object_foreach(coupons, key, v)
        {
            int c = coupon_find(sc, key);

            if (c < 0)
                rc = jf_fail(f, key, "unknown coupon (not in prices.json)");
            else if (sc->coupons[c].model >= 0 && (uint32_t)sc->coupons[c].model != p->model)
                rc = jf_fail(f, key, "coupon is only for \"%s\"",
                             sc->models[sc->coupons[c].model].name);
            else if (sc->coupons[c].term >= 0 && !(p->term_weight[sc->coupons[c].term] > 0))
                rc = jf_fail(f, key, "coupon is only for term %s, which has no weight in \"terms\"",
                             term_name((enum term)sc->coupons[c].term));
            else if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
                rc = jf_fail(f, key, "expected a share from 0 to 1");
            else if (p->coupon_count >= DEMAND_MAX_COUPONS_PER_MODEL)
                rc = jf_fail(f, key, "more than %d coupons", DEMAND_MAX_COUPONS_PER_MODEL);
            if (rc != 0)
                break;
            p->coupon[p->coupon_count] = (uint32_t)c;
            p->coupon_share[p->coupon_count++] = json_number_value(v);
            sum += json_number_value(v);
        }
        jf_pop(f);
        if (rc != 0)
            return rc;
        if (sum > 1 + 1e-9)
            return jf_fail(f, "coupons", "the shares add up to more than 1");
    }
    return 0;
}

static int load_generator(struct scenario *sc, struct jfile *f)
{
    static const char *const fields[] = {"description", "models"};
    json_t *models, *o;
    size_t i;
    int rc;

    if ((rc = jf_known(f, f->root, fields, ARRAY_SIZE(fields))) != 0 ||
        (rc = jf_description(f, f->root)) != 0)
        return rc;
    models = json_object_get(f->root, "models");
    if (models == NULL)
        return jf_missing(f, "models");
    if (!json_is_array(models) || json_array_size(models) == 0)
        return jf_fail(f, "models", "expected a non-empty array of per-model demand");
    if (json_array_size(models) > SCENARIO_MAX_MODELS)
        return jf_fail(f, "models", "more than %d entries", SCENARIO_MAX_MODELS);
    sc->params = calloc(json_array_size(models), sizeof(*sc->params));
    if (sc->params == NULL)
        return ERR_NOMEM;
    jf_push_key(f, "models");
    json_array_foreach(models, i, o)
    {
        jf_push_index(f, i);
        if (!json_is_object(o))
            rc = jf_fail(f, NULL, "expected an object");
        else
            rc = load_demand_model(sc, f, o, &sc->params[i]);
        jf_pop(f);
        if (rc != 0)
            return rc;
        sc->param_count++;
    }
    jf_pop(f);
    sc->demand = DEMAND_GENERATOR;
    return 0;
}

/* ---- demand.csv (a trace) ------------------------------------------------------------ */

enum trace_column {
    COL_ARRIVAL,
    COL_TENANT,
    COL_MODEL,
    COL_COUNT,
    COL_TERM,
    COL_DURATION,
    COL_BID,
    COL_COUPON,
    COL_QUEUE,
    COL_PATIENCE,
    COL_COUNT_
};

static const char *const trace_columns[COL_COUNT_] = {
    "arrival",  "tenant", "gpu_model", "gpu_count", "term",
    "duration", "bid",    "coupon",    "queue",     "patience"};
static const bool trace_required[COL_COUNT_] = {true, true,  true,  true,  true,
                                                true, false, false, false, false};

struct trace_ctx {
    struct scenario *sc;
    const char *path;
    char *err;
    size_t cap;
    uint32_t line;
    struct hmap tenants;
    size_t request_cap;
    size_t tenant_cap;
};

static int csv_fail(struct trace_ctx *t, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int csv_fail(struct trace_ctx *t, int col, const char *fmt, ...)
{
    char msg[SCENARIO_ERR_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (col >= 0)
        set_err(t->err, t->cap, "%s:%u: column \"%s\": %s", t->path, t->line, trace_columns[col],
                msg);
    else
        set_err(t->err, t->cap, "%s:%u: %s", t->path, t->line, msg);
    return ERR_INVALID;
}

/* Split line (modified in place) at commas, trimming blanks; returns the field count. */
static size_t csv_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;

    for (;;) {
        char *end = strchr(p, ',');
        char *q;

        if (end != NULL)
            *end = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        q = p + strlen(p);
        while (q > p && (q[-1] == ' ' || q[-1] == '\t'))
            *--q = '\0';
        if (n < max)
            fields[n] = p;
        n++;
        if (end == NULL)
            return n;
        p = end + 1;
    }
}

/* Non-negative decimal seconds with up to 6 decimals (the money grammar) -> µs. */
static int parse_seconds(const char *s, int64_t *out)
{
    int64_t v;

    if (s[0] == '-' || money_parse(&v, s) != 0)
        return ERR_INVALID;
    *out = v;
    return 0;
}

static int trace_tenant(struct trace_ctx *t, const char *name, uint32_t *out)
{
    struct scenario *sc = t->sc;
    char *copy;
    int rc;

    if (hmap_get(&t->tenants, name, out) == 0)
        return 0;
    if (sc->tenant_name_count >= SCENARIO_MAX_TENANTS)
        return csv_fail(t, COL_TENANT, "more than %d tenants", SCENARIO_MAX_TENANTS);
    if (sc->tenant_name_count == t->tenant_cap) {
        size_t ncap = t->tenant_cap ? t->tenant_cap * 2 : 64;
        char **n = realloc(sc->tenant_names, ncap * sizeof(*n));

        if (n == NULL)
            return ERR_NOMEM;
        sc->tenant_names = n;
        t->tenant_cap = ncap;
    }
    copy = strdup(name);
    if (copy == NULL)
        return ERR_NOMEM;
    rc = hmap_put(&t->tenants, name, sc->tenant_name_count);
    if (rc != 0) {
        free(copy);
        return rc;
    }
    sc->tenant_names[sc->tenant_name_count] = copy;
    *out = sc->tenant_name_count++;
    return 0;
}

static int trace_row(struct trace_ctx *t, char **fields, const int *col_of)
{
    struct scenario *sc = t->sc;
    struct scenario_request r;
    const struct scenario_model *m;
    const char *s;
    int idx, rc;

    memset(&r, 0, sizeof(r));
    r.coupon = -1;
    r.queue = true;
    r.line = t->line;

    s = fields[col_of[COL_ARRIVAL]];
    if (strchr(s, 'T') != NULL || strchr(s, ':') != NULL || (strlen(s) == 10 && s[4] == '-')) {
        if (time_parse(&r.at, s) != 0)
            return csv_fail(t, COL_ARRIVAL, "invalid time \"%s\"", s);
        if (r.at < sc->start)
            return csv_fail(t, COL_ARRIVAL, "%s is before the scenario start", s);
    } else {
        int64_t off;

        if (parse_seconds(s, &off) != 0)
            return csv_fail(t, COL_ARRIVAL,
                            "expected seconds since the start or an RFC 3339 time, got \"%s\"", s);
        r.at = sc->start + off;
    }

    s = fields[col_of[COL_TENANT]];
    if (!name_ok(s))
        return csv_fail(t, COL_TENANT,
                        "expected a name of 1 to %d characters without spaces or quotes",
                        SCENARIO_NAME_MAX);
    rc = trace_tenant(t, s, &r.tenant);
    if (rc != 0)
        return rc;

    s = fields[col_of[COL_MODEL]];
    idx = model_find(sc, s);
    if (idx < 0)
        return csv_fail(t, COL_MODEL, "unknown GPU model \"%s\" (not in fleet.json)", s);
    r.model = (uint32_t)idx;
    m = &sc->models[idx];

    s = fields[col_of[COL_COUNT]];
    {
        char *end = NULL;
        long n = strtol(s, &end, 10);

        if (s[0] < '1' || s[0] > '9' || *end != '\0' || n < 1 || n > MAX_GPUS_PER_HOST)
            return csv_fail(t, COL_COUNT, "expected a GPU count from 1 to %d, got \"%s\"",
                            MAX_GPUS_PER_HOST, s);
        if ((uint32_t)n > m->largest_host)
            return csv_fail(t, COL_COUNT, "%ld GPUs exceed the largest host of \"%s\" (%u GPUs)", n,
                            m->name, m->largest_host);
        r.gpu_count = (uint32_t)n;
    }

    s = fields[col_of[COL_TERM]];
    if (term_parse(&r.term, s) != 0)
        return csv_fail(t, COL_TERM,
                        "expected one of on_demand, spot, day, week, month, got \"%s\"", s);
    if ((r.term == TERM_SPOT && m->price.spot_floor_hourly <= 0) ||
        (TERM_IS_PACKAGE(r.term) && m->price.package[PACKAGE_INDEX(r.term)] <= 0))
        return csv_fail(t, COL_TERM, "\"%s\" is not offered for \"%s\" (prices.json has no price)",
                        s, m->name);

    s = fields[col_of[COL_DURATION]];
    if (s[0] == '\0') {
        if (!TERM_IS_PACKAGE(r.term))
            return csv_fail(t, COL_DURATION, "required for %s requests", term_name(r.term));
    } else if (parse_seconds(s, &r.duration) != 0 || r.duration == 0) {
        return csv_fail(t, COL_DURATION, "expected a positive number of seconds, got \"%s\"", s);
    }

    s = col_of[COL_BID] >= 0 ? fields[col_of[COL_BID]] : "";
    if (r.term == TERM_SPOT) {
        char floor[MONEY_STR_MAX];

        if (s[0] == '\0')
            return csv_fail(t, COL_BID, "required for spot requests");
        if (money_parse(&r.bid, s) != 0 || r.bid <= 0)
            return csv_fail(t, COL_BID, "expected a money amount such as \"6.50\", got \"%s\"", s);
        if (r.bid < m->price.spot_floor_hourly)
            return csv_fail(t, COL_BID, "%s is below the spot floor %s of \"%s\"", s,
                            money_format(floor, m->price.spot_floor_hourly), m->name);
    } else if (s[0] != '\0') {
        return csv_fail(t, COL_BID, "only spot requests take a bid");
    }

    s = col_of[COL_COUPON] >= 0 ? fields[col_of[COL_COUPON]] : "";
    if (s[0] != '\0') {
        const struct scenario_coupon *c;

        r.coupon = coupon_find(sc, s);
        if (r.coupon < 0)
            return csv_fail(t, COL_COUPON, "unknown coupon \"%s\" (not in prices.json)", s);
        c = &sc->coupons[r.coupon];
        if (c->model >= 0 && (uint32_t)c->model != r.model)
            return csv_fail(t, COL_COUPON, "coupon \"%s\" is only for \"%s\"", s,
                            sc->models[c->model].name);
        if (c->term >= 0 && c->term != (int)r.term)
            return csv_fail(t, COL_COUPON, "coupon \"%s\" is only for term %s", s,
                            term_name((enum term)c->term));
    }

    s = col_of[COL_QUEUE] >= 0 ? fields[col_of[COL_QUEUE]] : "";
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0 || strcmp(s, "no") == 0)
        r.queue = false;
    else if (s[0] != '\0' && strcmp(s, "true") != 0 && strcmp(s, "1") != 0 && strcmp(s, "yes") != 0)
        return csv_fail(t, COL_QUEUE, "expected true or false, got \"%s\"", s);

    s = col_of[COL_PATIENCE] >= 0 ? fields[col_of[COL_PATIENCE]] : "";
    if (s[0] != '\0' && (parse_seconds(s, &r.patience) != 0 || r.patience == 0))
        return csv_fail(t, COL_PATIENCE, "expected a positive number of seconds, got \"%s\"", s);

    if (sc->request_count == t->request_cap) {
        size_t ncap = t->request_cap ? t->request_cap * 2 : 1024;
        struct scenario_request *n;

        if (ncap > TRACE_MAX_REQUESTS)
            return csv_fail(t, -1, "more than %u requests", TRACE_MAX_REQUESTS);
        n = realloc(sc->requests, ncap * sizeof(*n));
        if (n == NULL)
            return ERR_NOMEM;
        sc->requests = n;
        t->request_cap = ncap;
    }
    sc->requests[sc->request_count++] = r;
    return 0;
}

static int request_cmp(const void *a, const void *b)
{
    const struct scenario_request *x = a, *y = b;

    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->line < y->line ? -1 : (x->line > y->line);
}

static int trace_header(struct trace_ctx *t, char **fields, size_t n, int *col_of)
{
    for (int c = 0; c < COL_COUNT_; c++)
        col_of[c] = -1;
    for (size_t i = 0; i < n; i++) {
        int c;

        for (c = 0; c < COL_COUNT_; c++) {
            if (strcmp(fields[i], trace_columns[c]) == 0)
                break;
        }
        if (c == COL_COUNT_) {
            if (fields[i][0] == '\0')
                return csv_fail(t, -1, "empty column name in the header");
            return csv_fail(t, -1, "unknown column \"%s\" in the header", fields[i]);
        }
        if (col_of[c] >= 0)
            return csv_fail(t, -1, "column \"%s\" appears twice in the header", fields[i]);
        col_of[c] = (int)i;
    }
    for (int c = 0; c < COL_COUNT_; c++) {
        if (trace_required[c] && col_of[c] < 0)
            return csv_fail(t, -1, "missing column \"%s\" in the header", trace_columns[c]);
    }
    return 0;
}

int scenario_parse_trace(struct scenario *sc, const char *path, const char *text, size_t len,
                         char *err, size_t cap)
{
    struct trace_ctx t = {.sc = sc, .path = path, .err = err, .cap = cap};
    char line[SCENARIO_LINE_MAX + 1];
    char *fields[CSV_MAX_COLUMNS];
    int col_of[COL_COUNT_];
    size_t header_n = 0;
    bool have_header = false;
    size_t pos = 0;
    int rc = 0;

    hmap_init(&t.tenants);
    if (memchr(text, '\0', len) != NULL) {
        set_err(err, cap, "%s: contains a NUL byte (not a text file)", path);
        rc = ERR_INVALID;
        goto out;
    }
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        size_t nf;
        char *p;

        t.line++;
        if (n > 0 && text[pos + n - 1] == '\r')
            n--;
        if (n > SCENARIO_LINE_MAX) {
            rc = csv_fail(&t, -1, "line longer than %d bytes", SCENARIO_LINE_MAX);
            goto out;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += (nl ? (size_t)(nl - (text + pos)) + 1 : len - pos);
        p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (strchr(p, '"') != NULL) {
            rc = csv_fail(&t, -1, "quoted fields are not supported");
            goto out;
        }
        nf = csv_split(p, fields, CSV_MAX_COLUMNS);
        if (nf > CSV_MAX_COLUMNS) {
            rc = csv_fail(&t, -1, "more than %d fields", CSV_MAX_COLUMNS);
            goto out;
        }
        if (!have_header) {
            rc = trace_header(&t, fields, nf, col_of);
            if (rc != 0)
                goto out;
            header_n = nf;
            have_header = true;
            continue;
        }
        if (nf != header_n) {
            rc = csv_fail(&t, -1, "expected %zu fields as in the header, found %zu", header_n, nf);
            goto out;
        }
        rc = trace_row(&t, fields, col_of);
        if (rc != 0)
            goto out;
    }
    if (!have_header) {
        set_err(err, cap, "%s:1: missing the header line (arrival,tenant,gpu_model,...)", path);
        rc = ERR_INVALID;
        goto out;
    }
    for (size_t i = 1; i < sc->request_count; i++) {
        if (request_cmp(&sc->requests[i - 1], &sc->requests[i]) > 0) {
            qsort(sc->requests, sc->request_count, sizeof(*sc->requests), request_cmp);
            break;
        }
    }
    sc->demand = DEMAND_TRACE;
out:
    if (rc == ERR_NOMEM)
        set_err(err, cap, "%s: out of memory", path);
    hmap_release(&t.tenants);
    return rc;
}

static int load_demand(struct scenario *sc, char *err, size_t cap)
{
    char csv_path[PATH_LEN];
    char *text = NULL;
    size_t len = 0;
    struct jfile f;
    int rc_csv, rc;

    memset(&f, 0, sizeof(f));
    rc = join_path(csv_path, sizeof(csv_path), sc->dir, "demand.csv", err, cap);
    if (rc != 0)
        return rc;
    rc_csv = read_text(csv_path, &text, &len, err, cap);
    if (rc_csv != 0 && rc_csv != ERR_NOTFOUND)
        return rc_csv;
    rc = jf_load(&f, sc->dir, "demand.json", err, cap);
    if (rc == 0 && rc_csv == 0) {
        set_err(err, cap, "%s: both demand.csv and demand.json are present; keep one", sc->dir);
        rc = ERR_INVALID;
        goto out;
    }
    if (rc == ERR_NOTFOUND && rc_csv == ERR_NOTFOUND) {
        set_err(err, cap, "%s: no demand: add demand.csv (a trace) or demand.json (a generator)",
                sc->dir);
        rc = ERR_INVALID;
        goto out;
    }
    if (rc_csv == 0) {
        rc = scenario_parse_trace(sc, csv_path, text, len, err, cap);
        goto out;
    }
    if (rc != 0)
        goto out;
    rc = load_generator(sc, &f);
    if (rc == ERR_NOMEM)
        set_err(err, cap, "%s: out of memory", f.path);
out:
    jf_release(&f);
    free(text);
    return rc;
}

/* ---- The whole scenario -------------------------------------------------------------- */

int scenario_load(struct scenario *sc, const char *dir, char *err, size_t cap)
{
    struct stat st;
    int rc;

    memset(sc, 0, sizeof(*sc));
    if (stat(dir, &st) != 0) {
        set_err(err, cap, "%s: cannot open scenario directory: %s", dir, strerror(errno));
        return ERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        set_err(err, cap, "%s: not a directory (a scenario is a directory of files)", dir);
        return ERR_INVALID;
    }
    sc->dir = strdup(dir);
    if (sc->dir == NULL) {
        set_err(err, cap, "out of memory");
        return ERR_NOMEM;
    }
    time_parse(&sc->start, "2026-01-01T00:00:00Z");
    sc->days = 7;
    sc->seed = 1;
    sc->settle_interval = 3600 * USEC_PER_SEC;
    sc->start_delay = 30 * USEC_PER_SEC;
    sc->tenants = 100;
    sc->tenant_credit = INT64_C(1000000000) * MONEY_UNIT;
    sc->tenant_credit_limit = 0;

    if ((rc = load_settings(sc, err, cap)) != 0 || (rc = load_fleet(sc, err, cap)) != 0 ||
        (rc = load_prices(sc, err, cap)) != 0 || (rc = load_demand(sc, err, cap)) != 0) {
        scenario_release(sc);
        return rc;
    }
    return 0;
}

void scenario_release(struct scenario *sc)
{
    if (sc == NULL)
        return;
    free(sc->dir);
    for (uint32_t i = 0; sc->models != NULL && i < sc->model_count; i++)
        free(sc->models[i].name);
    free(sc->models);
    for (uint32_t i = 0; sc->groups != NULL && i < sc->group_count; i++)
        free(sc->groups[i].hostname_prefix);
    free(sc->groups);
    for (uint32_t i = 0; sc->coupons != NULL && i < sc->coupon_count; i++)
        free(sc->coupons[i].code);
    free(sc->coupons);
    free(sc->requests);
    for (uint32_t i = 0; i < sc->tenant_name_count; i++)
        free(sc->tenant_names[i]);
    free(sc->tenant_names);
    free(sc->params);
    memset(sc, 0, sizeof(*sc));
}

int64_t scenario_end(const struct scenario *sc)
{
    return sc->start + (int64_t)sc->days * 86400 * USEC_PER_SEC;
}
