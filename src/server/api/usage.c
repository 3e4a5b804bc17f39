/*
 * usage.c - what a tenant spent: GET /v1/usage (line items over a period, JSON or CSV) and
 * GET /v1/invoices/{YYYY-MM} (a calendar month's line items and total).
 *
 * History lives in the database, not in the engine (which keeps balances, not transfers), so
 * these read the ledger through the server's reporting reader (store_open_reader: a read-only
 * connection of its own), never through the engine thread's connection. The rule that turns
 * transfers into line items is store.h's (struct usage_line); docs/schema.md explains it.
 * A tenant key reads its own usage; an admin key names the tenant with ?tenant=.
 */
#include "../../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/ids.h"
#include "../../common/timeutil.h"
#include "../../engine/money.h"
#include "../../store/store.h"
#include "../apijson.h"
#include "../server.h"
#include "handlers.h"

#define USAGE_PERIOD_MAX_DAYS 400 /* the longest period one request may cover */
#define CSV_CONTENT_TYPE      "text/csv; charset=utf-8"
#define CSV_HEADER                                                                                 \
    "rental_id,kind,gpu_model,gpu_count,term,seconds,list_amount,discount,amount,corrects,"        \
    "reason\r\n"

/* What one request asked for. */
struct usage_query {
    uint32_t tenant;
    uint32_t wallet; /* the tenant's ledger account */
    int64_t from, to;
    bool csv;
};

/* The report being built by store_usage's callbacks. */
struct usage_report {
    json_t *lines;   /* JSON: the line objects (owned) */
    json_t *credits; /* JSON: the credit objects (owned) */
    FILE *csv;       /* CSV: the text being written (open_memstream) */
    int64_t list_amount, discount, total, credits_total;
};

/* ---- The request ------------------------------------------------------------------------- */

/* ?format=json|csv: 0, or -1 with a 400 written. */
static int parse_format(const struct request *req, struct response *res, bool *csv)
{
    const char *f = http_query(req, "format");

    *csv = false;
    if (f == NULL || strcmp(f, "json") == 0)
        return 0;
    if (strcmp(f, "csv") == 0) {
        *csv = true;
        return 0;
    }
    http_problem(res, 400, "format: must be json or csv");
    return -1;
}

/*
 * Whose usage: a tenant key's own tenant (it may not name one), or the tenant an admin key
 * names with ?tenant=. Sets q->tenant and q->wallet: 0, or -1 with a problem written (400,
 * or 404 for an unknown tenant).
 */
static int resolve_tenant(const struct request *req, struct response *res, struct usage_query *q)
{
    const char *param = NULL;
    const struct engine *e;
    struct tenant_view tv;
    uint64_t n = 0;
    int rc;

    if (api_query_tenant(req, res, &param) < 0)
        return -1;
    if (req->who.role == ROLE_TENANT) {
        if (param != NULL) {
            http_problem(res, 400, "tenant: only for admin keys (a tenant key reads its own)");
            return -1;
        }
        n = req->who.tenant;
    } else if (param == NULL) {
        http_problem(res, 400, "tenant: required with an admin key (tenant=%s_...)", ID_TENANT);
        return -1;
    } else if (api_parse_id(ID_TENANT, param, UINT32_MAX, &n) < 0) {
        http_problem(res, 404, "unknown tenant \"%.40s\"", param);
        return -1;
    }
    e = core_read_begin(req->srv->core);
    rc = engine_tenant(e, (uint32_t)n, &tv);
    core_read_end(req->srv->core);
    if (rc < 0) {
        if (param != NULL)
            http_problem(res, 404, "unknown tenant \"%.40s\"", param);
        else
            http_problem(res, 404, "unknown tenant");
        return -1;
    }
    q->tenant = tv.id;
    q->wallet = tv.account;
    return 0;
}

/* "YYYY-MM" (a month from 1970-01 to 9999-12) as its first µs and the next month's. */
static int parse_month(const char *s, int64_t *from, int64_t *to)
{
    int64_t index;

    if (api_parse_month(s, &index) < 0)
        return ERR_INVALID;
    *from = time_month_start(index);
    *to = time_month_start(index + 1);
    return 0;
}

/* ---- Writing ----------------------------------------------------------------------------- */

/* One CSV field (RFC 4180): quoted, with quotes doubled, when it holds , " CR or LF. */
static void csv_field(FILE *f, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
    } else {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    }
    fputs(last ? "\r\n" : ",", f);
}

static int add_line(void *ctx, const struct usage_line *l)
{
    struct usage_report *rep = ctx;
    char list[MONEY_STR_MAX], disc[MONEY_STR_MAX], amount[MONEY_STR_MAX], num[24];
    json_t *j;

    if (money_add(&rep->list_amount, rep->list_amount, l->list_amount) < 0 ||
        money_add(&rep->discount, rep->discount, l->discount) < 0 ||
        money_add(&rep->total, rep->total, l->amount) < 0)
        return ERR_OVERFLOW;
    if (rep->csv != NULL) {
        csv_field(rep->csv, l->rental_id ? l->rental_id : "", false);
        csv_field(rep->csv, l->kind, false);
        csv_field(rep->csv, l->gpu_model ? l->gpu_model : "", false);
        snprintf(num, sizeof(num), "%u", l->gpu_count);
        csv_field(rep->csv, l->rental != 0 ? num : "", false);
        csv_field(rep->csv, l->term ? l->term : "", false);
        snprintf(num, sizeof(num), "%lld", (long long)l->seconds);
        csv_field(rep->csv, num, false);
        csv_field(rep->csv, money_format(list, l->list_amount), false);
        csv_field(rep->csv, money_format(disc, l->discount), false);
        csv_field(rep->csv, money_format(amount, l->amount), false);
        csv_field(rep->csv, l->corrects ? l->corrects : "", false);
        csv_field(rep->csv, l->reason ? l->reason : "", true);
        return 0;
    }
    j = json_object();
    json_object_set_new(j, "object", json_string("usage_line"));
    json_object_set_new(j, "rental_id", l->rental_id ? json_string(l->rental_id) : json_null());
    json_object_set_new(j, "kind", json_string(l->kind));
    json_object_set_new(j, "gpu_model", l->gpu_model ? json_string(l->gpu_model) : json_null());
    json_object_set_new(j, "gpu_count", l->rental != 0 ? json_integer(l->gpu_count) : json_null());
    json_object_set_new(j, "term", l->term ? json_string(l->term) : json_null());
    json_object_set_new(j, "seconds", json_integer(l->seconds));
    json_object_set_new(j, "list_amount", api_money(l->list_amount));
    json_object_set_new(j, "discount", api_money(l->discount));
    json_object_set_new(j, "amount", api_money(l->amount));
    json_object_set_new(j, "corrects", l->corrects ? json_string(l->corrects) : json_null());
    json_object_set_new(j, "reason", l->reason ? json_string(l->reason) : json_null());
    return json_array_append_new(rep->lines, j) == 0 ? 0 : ERR_NOMEM;
}

static int add_credit(void *ctx, const struct usage_credit *c)
{
    struct usage_report *rep = ctx;
    json_t *j;

    if (money_add(&rep->credits_total, rep->credits_total, c->amount) < 0)
        return ERR_OVERFLOW;
    if (rep->credits == NULL) /* CSV: line items only */
        return 0;
    j = json_object();
    json_object_set_new(j, "object", json_string("credit"));
    json_object_set_new(j, "transfer_seq", json_integer((json_int_t)c->seq));
    json_object_set_new(j, "kind", json_string(c->kind));
    json_object_set_new(j, "at", api_time(c->at));
    json_object_set_new(j, "amount", api_money(c->amount));
    return json_array_append_new(rep->credits, j) == 0 ? 0 : ERR_NOMEM;
}

/*
 * Read the usage of q and answer it: CSV (the line items), or JSON with `object` and the
 * lines under `lines_key`, plus what extra (stolen; may be NULL) adds to the object.
 */
static void reply_usage(struct request *req, struct response *res, const struct usage_query *q,
                        const char *object, const char *lines_key, json_t *extra)
{
    struct usage_report rep = {0};
    struct store_reader *reader = req->srv->reader;
    char err[256] = "", *text = NULL;
    size_t len = 0;
    json_t *j;
    int rc;

    if (reader == NULL) {
        http_problem(res, 503, "usage is not available: the server has no reporting reader");
        goto out;
    }
    if (q->csv) {
        rep.csv = open_memstream(&text, &len);
        if (rep.csv == NULL) {
            http_problem(res, 500, "out of memory");
            goto out;
        }
        fputs(CSV_HEADER, rep.csv);
    } else {
        rep.lines = json_array();
        rep.credits = json_array();
    }
    rc = store_usage(reader, q->wallet, q->from, q->to, add_line, add_credit, &rep, err,
                     sizeof(err));
    if (rep.csv != NULL && fclose(rep.csv) != 0 && rc == 0)
        rc = ERR_NOMEM;
    rep.csv = NULL;
    if (rc < 0) {
        if (rc == ERR_IO)
            http_problem(res, 503, "the usage could not be read: %s", err);
        else
            http_problem(res, 500, "the usage could not be written: %s",
                         rc == ERR_OVERFLOW ? "an amount overflows" : "out of memory");
        goto out;
    }
    if (q->csv) {
        free(res->body);
        res->status = 200;
        res->body = text; /* NUL-terminated by open_memstream */
        res->content_type = CSV_CONTENT_TYPE;
        text = NULL;
        goto out;
    }
    j = json_object();
    json_object_set_new(j, "object", json_string(object));
    json_object_set_new(j, "tenant_id", api_id(ID_TENANT, q->tenant));
    json_object_set_new(j, "currency", json_string(req->srv->currency));
    json_object_set_new(j, "from", api_time(q->from));
    json_object_set_new(j, "to", api_time(q->to));
    if (extra != NULL)
        json_object_update(j, extra);
    json_object_set_new(j, lines_key, rep.lines);
    json_object_set_new(j, "list_amount", api_money(rep.list_amount));
    json_object_set_new(j, "discount", api_money(rep.discount));
    json_object_set_new(j, "total", api_money(rep.total));
    json_object_set_new(j, "credits", rep.credits);
    json_object_set_new(j, "credits_total", api_money(rep.credits_total));
    rep.lines = rep.credits = NULL;
    api_reply(res, 200, j);
out:
    json_decref(extra);
    json_decref(rep.lines);
    json_decref(rep.credits);
    free(text);
}

/* ---- GET /v1/usage ----------------------------------------------------------------------- */

void api_usage(struct request *req, struct response *res)
{
    static const char *const args[] = {"from", "to", "format", "tenant", "tenant_id", NULL};
    struct usage_query q = {.to = core_clock_now()};

    if (api_only_query(req, res, args) < 0 || parse_format(req, res, &q.csv) < 0 ||
        api_query_time(req, res, "to", &q.to) < 0)
        return;
    q.from = time_month_start(time_month_index(q.to - 1)); /* the month `to` ends */
    if (api_query_time(req, res, "from", &q.from) < 0)
        return;
    if (q.from >= q.to) {
        http_problem(res, 400, "from: must be before to");
        return;
    }
    if (q.to - q.from > USAGE_PERIOD_MAX_DAYS * 86400 * USEC_PER_SEC) {
        http_problem(res, 400, "to: must be at most %d days after from", USAGE_PERIOD_MAX_DAYS);
        return;
    }
    if (resolve_tenant(req, res, &q) < 0)
        return;
    reply_usage(req, res, &q, "usage", "data", NULL);
}

/* ---- GET /v1/invoices/{YYYY-MM} ---------------------------------------------------------- */

void api_invoice(struct request *req, struct response *res)
{
    static const char *const args[] = {"format", "tenant", "tenant_id", NULL};
    struct usage_query q = {0};
    json_t *extra;

    if (api_only_query(req, res, args) < 0)
        return;
    if (parse_month(req->params[0], &q.from, &q.to) < 0) {
        http_problem(res, 400, "month: must be a calendar month like \"2026-11\", not \"%.40s\"",
                     req->params[0]);
        return;
    }
    if (parse_format(req, res, &q.csv) < 0 || resolve_tenant(req, res, &q) < 0)
        return;
    extra = json_object();
    json_object_set_new(extra, "month", json_string(req->params[0]));
    /* a month still running can get more lines; one that is over cannot (transfers are
       dated when they are posted, and the engine's clock only moves forward) */
    json_object_set_new(extra, "status", json_string(core_clock_now() < q.to ? "open" : "closed"));
    reply_usage(req, res, &q, "invoice", "lines", extra);
}
