/*
 * hosts.c - hosts and their agents: POST /v1/join-tokens, POST /v1/agent/register,
 * POST /v1/agent/heartbeat, GET /v1/hosts, GET /v1/hosts/{id}, POST drain/undrain,
 * PUT /v1/hosts/{id}/cost.
 *
 * Join tokens are the server's own records, kept in the store's meta table under
 * "join:<hash of the token>" (the token itself is never stored): the value is the expiry in
 * µs, or "used". Registration checks the token in the job's `before` hook and marks it used
 * in the `after` hook, both on the engine thread inside the batch's transaction, so a token
 * registers exactly one host. The agent's key is minted in the same batch.
 *
 * Heartbeats are level-triggered: the agent reports what it runs, the reply says what it
 * should run (the live rentals placed on it, each with its epoch, GPUs and workload) and
 * what to stop (the rentals it reported that are not live on it).
 */
#include "../../common/compat.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../../common/err.h"
#include "../../common/ids.h"
#include "../../engine/money.h"
#include "../../store/store.h"
#include "../apijson.h"
#include "../auth.h"
#include "../server.h"
#include "handlers.h"
#include "records.h"

#define JOIN_PREFIX        "gjt_"
#define JOIN_RANDOM_CHARS  32
#define JOIN_TOKEN_MAX     64
#define JOIN_TTL_DEFAULT   3600
#define JOIN_TTL_MAX       (30 * 86400)
#define HOSTNAME_MAX_BYTES 63
#define UUID_MAX_BYTES     95
#define MODEL_MAX_BYTES    63
#define REPORTS_MAX        256
#define TELEMETRY_MAX      64

/* The host in the path: 0 and *out, or -1 with a 404 written. */
static int path_host(struct request *req, struct response *res, uint32_t *out)
{
    uint64_t n;

    if (api_parse_id(ID_HOST, req->params[0], UINT32_MAX, &n) < 0) {
        http_problem(res, 404, "unknown host \"%.40s\"", req->params[0]);
        return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

/* The store_meta name of a join token: "join:" + hex of its hash. */
static void join_name(char *buf, size_t cap, const char *token)
{
    unsigned char h[32];
    int n;

    idem_hash_body(token, strlen(token), h);
    n = snprintf(buf, cap, "join:");
    for (int i = 0; i < 32 && (size_t)n + 2 < cap; i++)
        n += snprintf(buf + n, cap - (size_t)n, "%02x", h[i]);
}

/* ---- POST /v1/join-tokens -------------------------------------------------------------- */

struct join_ctx {
    char token[JOIN_TOKEN_MAX];
    int64_t ttl_us;
};

static int join_created(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct join_ctx *ctx = job->ctx;
    char name[80], value[32], err[256];
    json_t *j;
    int rc;

    (void)e;
    join_name(name, sizeof(name), ctx->token);
    snprintf(value, sizeof(value), "%" PRId64, now + ctx->ttl_us);
    rc = store_meta_put(store, name, value, err, sizeof(err));
    if (rc < 0)
        return rc;
    j = json_object();
    json_object_set_new(j, "object", json_string("join_token"));
    json_object_set_new(j, "token", json_string(ctx->token));
    json_object_set_new(j, "expires_at", api_time(now + ctx->ttl_us));
    return api_job_reply(job, 201, j);
}

void api_join_token_create(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"ttl_seconds", NULL};
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    struct join_ctx ctx = {0};
    struct core_job job = {.after = join_created, .ctx = &ctx};
    struct api_fields f;
    struct api_error err;
    int64_t ttl = JOIN_TTL_DEFAULT;
    size_t n = strlen(JOIN_PREFIX);
    json_t *body;

    body = api_body(req, res, API_BODY_OPTIONAL);
    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_int(&f, "ttl_seconds", false, 60, JOIN_TTL_MAX, &ttl);
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    ctx.ttl_us = ttl * USEC_PER_SEC;
    memcpy(ctx.token, JOIN_PREFIX, n);
    while (n < strlen(JOIN_PREFIX) + JOIN_RANDOM_CHARS) {
        unsigned char rnd[64];
        ssize_t got = getrandom(rnd, sizeof(rnd), 0);

        if (got <= 0) {
            if (got < 0 && errno == EINTR)
                continue;
            http_problem(res, 500, "no randomness for a token");
            goto out;
        }
        for (ssize_t i = 0; i < got && n < strlen(JOIN_PREFIX) + JOIN_RANDOM_CHARS; i++) {
            if (rnd[i] < 248) /* 248 = 4 x 62: no modulo bias */
                ctx.token[n++] = alphabet[rnd[i] % 62];
        }
    }
    ctx.token[n] = '\0';
    api_submit(req, res, &job);
out:
    json_decref(body);
}

/* ---- POST /v1/agent/register ----------------------------------------------------------- */

struct register_ctx {
    struct server *srv;
    struct store *store; /* the core's; read only on the engine thread, in the batch */
    char join[80];       /* the token's meta name */
};

static int register_before(struct core_job *job, const struct engine *e)
{
    struct register_ctx *ctx = job->ctx;
    char value[32], err[256];
    char *end;
    long long expires;

    (void)e;
    if (store_meta_get(ctx->store, ctx->join, value, sizeof(value), err, sizeof(err)) < 0)
        goto refuse;
    errno = 0;
    expires = strtoll(value, &end, 10);
    if (errno != 0 || *end != '\0' || end == value || expires <= job->now)
        goto refuse;
    return 0;
refuse:
    api_job_problem(job, 401, "join_token: unknown, already used or expired");
    return 1;
}

static int registered(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct register_ctx *ctx = job->ctx;
    struct key_record rec;
    char text[KEY_TEXT_MAX], err[256];
    json_t *j;
    int rc;

    (void)e;
    if (job->reply != NULL || job->result.code != 0)
        return 0; /* refused by the token check, or by the engine */
    rc = store_meta_put(store, ctx->join, "used", err, sizeof(err));
    if (rc < 0)
        return rc;
    rc = keyring_mint(&ctx->srv->keys, ROLE_AGENT, 0, (uint32_t)job->result.id, now, text, &rec);
    if (rc < 0)
        return rc;
    rc = store_put_key(store, &rec, err, sizeof(err));
    if (rc < 0)
        return rc;
    rc = keyring_add(&ctx->srv->keys, &rec);
    if (rc < 0)
        return rc;
    j = json_object();
    json_object_set_new(j, "object", json_string("agent_registration"));
    json_object_set_new(j, "host_id", api_id(ID_HOST, job->result.id));
    json_object_set_new(j, "agent_key", json_string(text));
    json_object_set_new(j, "agent_key_id", json_string(rec.id));
    return api_job_reply(job, 201, j);
}

void api_agent_register(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"join_token", "hostname", "gpus", NULL};
    static const char *const gpu_fields[] = {"index",      "uuid",          "model",
                                             "memory_mib", "nvlink_island", NULL};
    struct gpu_spec gpus[MAX_GPUS_PER_HOST];
    struct command cmd = {.type = CMD_HOST_REGISTER};
    struct register_ctx ctx = {.srv = req->srv, .store = core_store(req->srv->core)};
    struct core_job job = {
        .cmd = &cmd, .before = register_before, .after = registered, .ctx = &ctx};
    struct api_fields f;
    struct api_error err;
    const json_t *arr = NULL;
    const char *token = NULL;
    json_t *body;

    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    memset(gpus, 0, sizeof(gpus));
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_string(&f, "join_token", true, JOIN_TOKEN_MAX - 1, &token);
    api_get_string(&f, "hostname", true, HOSTNAME_MAX_BYTES, &cmd.u.host_register.hostname);
    if (api_get_member(&f, "gpus", true, JSON_ARRAY, &arr)) {
        size_t n = json_array_size(arr);

        if (n == 0 || n > MAX_GPUS_PER_HOST)
            api_fail_field(&f, "gpus", "a host has 1 to %d GPUs", MAX_GPUS_PER_HOST);
        for (size_t i = 0; i < n && !api_failed(&f); i++) {
            const json_t *g = json_array_get(arr, i);
            struct api_fields gf;
            int64_t index = 0, mem = 0, island = 0;

            if (!json_is_object(g)) {
                api_fail(&f, "gpus[%zu]: must be an object", i);
                break;
            }
            api_fields_element(&gf, &f, "gpus", i, g);
            api_only_fields(&gf, gpu_fields);
            api_get_int(&gf, "index", true, 0, MAX_GPUS_PER_HOST - 1, &index);
            api_get_string(&gf, "uuid", true, UUID_MAX_BYTES, &gpus[i].uuid);
            api_get_string(&gf, "model", true, MODEL_MAX_BYTES, &gpus[i].model);
            api_get_int(&gf, "memory_mib", true, 1, UINT32_MAX, &mem);
            api_get_int(&gf, "nvlink_island", false, 0, UINT32_MAX, &island);
            gpus[i].index = (uint32_t)index;
            gpus[i].memory_mib = (uint32_t)mem;
            gpus[i].nvlink_island = (uint32_t)island;
        }
        cmd.u.host_register.gpus = gpus;
        cmd.u.host_register.gpu_count = (uint32_t)n;
    }
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    join_name(ctx.join, sizeof(ctx.join), token);
    api_submit(req, res, &job);
out:
    json_decref(body);
}

/* ---- POST /v1/agent/heartbeat ---------------------------------------------------------- */

/* A heartbeat may wait (long-poll, ?wait=S) this long at most for something to do. */
#define HEARTBEAT_WAIT_MAX 60

struct heartbeat_ctx {
    struct server *srv;
    struct command *cmd;
    struct rental_report *reports; /* owned: what the agent reported */
    bool *has_epoch;               /* owned; per report */
    const char **details;          /* owned array, strings borrowed from the body; per report */
    uint32_t count;
    struct rental_report *relevant; /* owned: the reports the engine can use */
    struct gpu_telemetry telemetry[TELEMETRY_MAX];
    const char *telemetry_uuid[TELEMETRY_MAX]; /* borrowed from the body */
    uint32_t telemetry_count;
    uint32_t host;
    bool nothing_new; /* the reply only repeats what the agent reported: it may wait */
    uint64_t gen;     /* the host's generation the reply was built at */
    uint64_t idle[MAX_GPUS_PER_HOST]; /* rentals whose idle_stop rule fired */
    uint32_t idle_count;
};

static int parse_report_state(enum report_state *out, const char *s)
{
    static const char *const names[] = {"starting", "running", "exited", "failed"};

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum report_state)i;
            return 0;
        }
    }
    return ERR_INVALID;
}

/*
 * Only reports about this host's live rentals reach the engine (it would ignore the rest,
 * but the command log would keep them); a report without an epoch is about the rental's
 * current assignment.
 */
static int heartbeat_before(struct core_job *job, const struct engine *e)
{
    struct heartbeat_ctx *ctx = job->ctx;
    struct cmd_host_report *hr = &ctx->cmd->u.host_report;
    uint32_t n = 0;

    for (uint32_t i = 0; i < ctx->count; i++) {
        struct rental_report rep = ctx->reports[i];
        struct rental_view v;

        if (engine_rental(e, rep.rental, &v) < 0 || v.host != hr->host ||
            (v.state != RENTAL_STARTING && v.state != RENTAL_RUNNING))
            continue;
        if (!ctx->has_epoch[i])
            rep.epoch = v.epoch;
        ctx->relevant[n++] = rep;
    }
    hr->reports = n > 0 ? ctx->relevant : NULL;
    hr->count = n;
    return 0;
}

/* One rental the agent should run: its assignment and its workload. */
static json_t *run_entry(const struct engine *e, struct store *store, const struct rental_view *v,
                         char *buf)
{
    struct gpu_view gpus[MAX_GPUS_PER_HOST];
    json_t *j = json_object();
    json_t *indices = json_array(), *uuids = json_array();
    json_t *workload = NULL;
    char name[64], err[256];
    int n = engine_host_gpus(e, v->host, gpus, MAX_GPUS_PER_HOST);

    for (int i = 0; i < n; i++) {
        if ((v->gpu_mask >> gpus[i].index) & 1) {
            json_array_append_new(indices, json_integer(gpus[i].index));
            json_array_append_new(uuids, json_string(gpus[i].uuid));
        }
    }
    if (v->has_workload) {
        api_workload_name(name, sizeof(name),
                          v->origin); /* a requeued rental runs its first one's */
        if (store_meta_get(store, name, buf, API_WORKLOAD_MAX + 1, err, sizeof(err)) == 0)
            workload = json_loads(buf, 0, NULL);
    }
    json_object_set_new(j, "rental_id", api_id(ID_RENTAL, v->id));
    json_object_set_new(j, "epoch", json_integer(v->epoch));
    json_object_set_new(j, "state", json_string(rental_state_name(v->state)));
    json_object_set_new(j, "gpu_indices", indices);
    json_object_set_new(j, "gpu_uuids", uuids);
    json_object_set_new(j, "workload", workload ? workload : json_null());
    json_object_set_new(j, "ends_at", api_time(v->ends_at));
    json_object_set_new(j, "preempt_at", api_time(v->preempt_at));
    return j;
}

/*
 * The idle_stop rule of a running rental: idle while every one of its GPUs reports a
 * utilization under the threshold in this heartbeat; after `minutes` of that without a break
 * it is stopped (end_reason idle) once this heartbeat is answered. A heartbeat without
 * utilization for all its GPUs decides nothing.
 */
static void check_idle(struct heartbeat_ctx *ctx, struct store *store, const struct rental_view *v,
                       const struct gpu_view *gpus, int n, char *buf, int64_t now)
{
    struct idle_rule *rule;
    double max = -1;

    if (v->state != RENTAL_RUNNING || api_idle_rule(ctx->srv->api, v->id, &rule) < 0)
        return;
    if (!rule->loaded) {
        char name[64], err[256];
        json_t *rec, *idle;
        rule->loaded = true;
        api_workload_name(name, sizeof(name),
                          v->origin); /* a requeued rental runs its first one's */
        if (store_meta_get(store, name, buf, API_WORKLOAD_MAX + 1, err, sizeof(err)) == 0 &&
            (rec = json_loads(buf, 0, NULL)) != NULL) {
            idle = json_object_get(rec, "idle_stop");
            if (json_is_object(idle)) {
                rule->has_rule = true;
                rule->below_pct = json_number_value(json_object_get(idle, "below_util_pct"));
                rule->minutes = json_integer_value(json_object_get(idle, "minutes"));
            }
            json_decref(rec);
        }
    }
    if (!rule->has_rule)
        return;
    for (int i = 0; i < n; i++) {
        bool found = false;
        if (!((v->gpu_mask >> gpus[i].index) & 1))
            continue;
        for (uint32_t t = 0; t < ctx->telemetry_count && !found; t++) {
            if (strcmp(ctx->telemetry_uuid[t], gpus[i].uuid) == 0 && ctx->telemetry[t].has_util) {
                found = true;
                if (ctx->telemetry[t].util_pct > max)
                    max = ctx->telemetry[t].util_pct;
            }
        }
        if (!found)
            return;
    }
    if (max >= rule->below_pct) {
        rule->idle_since = 0;
    } else if (rule->idle_since == 0) {
        rule->idle_since = now;
    } else if (now - rule->idle_since >= rule->minutes * ctx->srv->idle_minute_us &&
               ctx->idle_count < MAX_GPUS_PER_HOST) {
        ctx->idle[ctx->idle_count++] = v->id;
    }
}

/* Was rental id among the reports applied (starting or running on this host before)? */
static bool reported_relevant(const struct heartbeat_ctx *ctx, uint64_t id)
{
    const struct cmd_host_report *hr = &ctx->cmd->u.host_report;

    for (uint32_t i = 0; i < hr->count; i++) {
        if (hr->reports[i].rental == id)
            return true;
    }
    return false;
}

/* Does the agent already hold rental id at this epoch (starting or running)? */
static bool reported_as_held(const struct heartbeat_ctx *ctx, uint64_t id, uint32_t epoch)
{
    for (uint32_t i = 0; i < ctx->count; i++) {
        const struct rental_report *r = &ctx->reports[i];
        if (r->rental == id && (!ctx->has_epoch[i] || r->epoch == epoch) &&
            (r->state == REPORT_STARTING || r->state == REPORT_RUNNING))
            return true;
    }
    return false;
}

/* The agent's words for each start it reports failed that this report ended
 * failed_to_start: kept with the rental (its end_detail), in the batch's transaction. */
static int record_failures(const struct heartbeat_ctx *ctx, const struct engine *e,
                           struct store *store)
{
    for (uint32_t i = 0; i < ctx->count; i++) {
        const struct rental_report *r = &ctx->reports[i];
        struct rental_view v;
        char err[256];

        if (r->state != REPORT_FAILED || ctx->details[i] == NULL ||
            !reported_relevant(ctx, r->rental) || engine_rental(e, r->rental, &v) < 0 ||
            v.state != RENTAL_ENDED || v.end_reason != END_FAILED_TO_START)
            continue;
        if (api_end_detail_put(store, r->rental, ctx->details[i], err, sizeof(err)) != 0)
            return -1;
    }
    return 0;
}

static int heartbeat_done(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct heartbeat_ctx *ctx = job->ctx;
    uint32_t host = ctx->host;
    struct gpu_view gpus[MAX_GPUS_PER_HOST];
    struct host_view hv;
    json_t *j, *run, *stop;
    uint64_t seen[MAX_GPUS_PER_HOST];
    uint32_t nseen = 0;
    char *buf;
    int n;

    if (job->result.code != 0)
        return 0;
    if (engine_host(e, host, &hv) < 0)
        return api_job_problem(job, 404, "unknown host");
    buf = malloc(API_WORKLOAD_MAX + 1);
    if (buf == NULL)
        return api_job_problem(job, 500, "out of memory");
    run = json_array();
    stop = json_array();
    n = engine_host_gpus(e, host, gpus, MAX_GPUS_PER_HOST);
    /* telemetry of this host's own GPUs only: the table stays bounded by the fleet */
    for (uint32_t t = 0; t < ctx->telemetry_count; t++) {
        for (int i = 0; i < n; i++) {
            if (strcmp(ctx->telemetry_uuid[t], gpus[i].uuid) == 0) {
                ctx->telemetry[t].at = now;
                api_telemetry_put(ctx->srv->api, gpus[i].uuid, &ctx->telemetry[t]);
                break;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        struct rental_view v;
        bool dup = false;

        if (gpus[i].rental == 0)
            continue;
        for (uint32_t k = 0; k < nseen; k++)
            dup = dup || seen[k] == gpus[i].rental;
        if (dup)
            continue;
        seen[nseen++] = gpus[i].rental;
        if (engine_rental(e, gpus[i].rental, &v) == 0 && v.host == host &&
            (v.state == RENTAL_STARTING || v.state == RENTAL_RUNNING)) {
            json_array_append_new(run, run_entry(e, store, &v, buf));
            if (job->cmd != NULL) /* a fresh report, not a woken long-poll */
                check_idle(ctx, store, &v, gpus, n, buf, now);
            if (!reported_as_held(ctx, v.id, v.epoch))
                ctx->nothing_new = false;
        }
    }
    free(buf);
    if (job->cmd != NULL && record_failures(ctx, e, store) != 0)
        return api_job_problem(job, 500, "could not store a failed start's detail");
    for (uint32_t i = 0; i < ctx->count; i++) {
        struct rental_view v;
        uint64_t id = ctx->reports[i].rental;

        if (engine_rental(e, id, &v) == 0 && v.host == host &&
            (v.state == RENTAL_STARTING || v.state == RENTAL_RUNNING))
            continue;
        json_array_append_new(stop, api_id(ID_RENTAL, id));
    }
    if (json_array_size(stop) > 0)
        ctx->nothing_new = false;
    ctx->gen = core_host_generation(ctx->srv->core, host);
    j = json_object();
    json_object_set_new(j, "object", json_string("heartbeat_reply"));
    json_object_set_new(j, "host_id", api_id(ID_HOST, host));
    json_object_set_new(j, "host_state", json_string(host_state_name(hv.state)));
    json_object_set_new(j, "time", api_time(now));
    json_object_set_new(j, "run", run);
    json_object_set_new(j, "stop", stop);
    return api_job_reply(job, 200, j);
}

/* What a heartbeat's entries may hold: unknown fields are refused, never ignored. */
static const char *const telemetry_fields[] = {"uuid",    "util_pct", "mem_used_mib",
                                               "power_w", "temp_c",   NULL};
static const char *const report_fields[] = {"id", "state", "epoch", "exit_code", "detail", NULL};

static void read_telemetry(struct api_fields *f, const json_t *arr, struct heartbeat_ctx *ctx)
{
    size_t n = json_array_size(arr);

    if (n > TELEMETRY_MAX) {
        api_fail_field(f, "telemetry", "at most %d entries", TELEMETRY_MAX);
        return;
    }
    for (size_t i = 0; i < n && !api_failed(f); i++) {
        const json_t *t = json_array_get(arr, i);
        struct gpu_telemetry *tm = &ctx->telemetry[i];
        struct api_fields tf;

        if (!json_is_object(t)) {
            api_fail(f, "telemetry[%zu]: must be an object", i);
            return;
        }
        api_fields_element(&tf, f, "telemetry", i, t);
        api_only_fields(&tf, telemetry_fields);
        api_get_string(&tf, "uuid", true, UUID_MAX_BYTES, &ctx->telemetry_uuid[i]);
        tm->has_util = api_get_number(&tf, "util_pct", false, 0, 100, &tm->util_pct);
        tm->has_mem = api_get_int(&tf, "mem_used_mib", false, 0, UINT32_MAX, &tm->mem_used_mib);
        tm->has_power = api_get_number(&tf, "power_w", false, 0, 100000, &tm->power_w);
        tm->has_temp = api_get_number(&tf, "temp_c", false, -100, 300, &tm->temp_c);
    }
    ctx->telemetry_count = (uint32_t)n;
}

static void read_reports(struct api_fields *f, const json_t *arr, struct heartbeat_ctx *ctx)
{
    size_t n = json_array_size(arr);

    if (n > REPORTS_MAX) {
        api_fail_field(f, "rentals", "at most %d entries", REPORTS_MAX);
        return;
    }
    ctx->reports = calloc(n ? n : 1, sizeof(*ctx->reports));
    ctx->has_epoch = calloc(n ? n : 1, sizeof(*ctx->has_epoch));
    ctx->relevant = calloc(n ? n : 1, sizeof(*ctx->relevant));
    ctx->details = calloc(n ? n : 1, sizeof(*ctx->details));
    if (ctx->reports == NULL || ctx->has_epoch == NULL || ctx->relevant == NULL ||
        ctx->details == NULL) {
        api_fail(f, "out of memory");
        f->err->status = 500;
        return;
    }
    for (size_t i = 0; i < n && !api_failed(f); i++) {
        const json_t *r = json_array_get(arr, i);
        struct rental_report *rep = &ctx->reports[i];
        struct api_fields rf;
        const char *state = NULL, *detail = NULL;
        int64_t epoch = 0, code = 0;

        if (!json_is_object(r)) {
            api_fail(f, "rentals[%zu]: must be an object", i);
            return;
        }
        api_fields_element(&rf, f, "rentals", i, r);
        api_only_fields(&rf, report_fields); /* nothing else of a rental is the agent's to say */
        api_get_id(&rf, "id", true, ID_RENTAL, UINT64_MAX, &rep->rental); /* unknown: stop it */
        if (api_get_string(&rf, "state", true, 16, &state) &&
            parse_report_state(&rep->state, state) < 0)
            api_fail_field(&rf, "state", "must be starting, running, exited or failed");
        ctx->has_epoch[i] = api_get_int(&rf, "epoch", false, 0, UINT32_MAX, &epoch);
        api_get_int(&rf, "exit_code", false, INT32_MIN, INT32_MAX, &code);
        api_get_string(&rf, "detail", false, API_END_DETAIL_MAX, &detail);
        ctx->details[i] = detail;
        rep->epoch = (uint32_t)epoch;
        rep->exit_code = (int)code;
    }
    ctx->count = (uint32_t)n;
}

void api_agent_heartbeat(struct request *req, struct response *res)
{
    static const char *const allowed[] = {"telemetry", "rentals", NULL};
    struct command cmd = {.type = CMD_HOST_REPORT};
    struct heartbeat_ctx ctx = {.srv = req->srv, .cmd = &cmd, .nothing_new = true};
    struct core_job job = {
        .cmd = &cmd, .before = heartbeat_before, .after = heartbeat_done, .ctx = &ctx};
    const char *wait_arg = http_query(req, "wait");
    long wait_s = 0;
    const json_t *telemetry = NULL, *rentals = NULL;
    struct api_fields f;
    struct api_error err;
    json_t *body;

    body = api_body(req, res, API_BODY_OPTIONAL);
    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    if (api_get_member(&f, "telemetry", false, JSON_ARRAY, &telemetry))
        read_telemetry(&f, telemetry, &ctx);
    if (api_get_member(&f, "rentals", false, JSON_ARRAY, &rentals))
        read_reports(&f, rentals, &ctx);
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    if (wait_arg != NULL) {
        char *end;
        wait_s = strtol(wait_arg, &end, 10);
        if (*wait_arg == '\0' || *end != '\0' || wait_s < 0 || wait_s > HEARTBEAT_WAIT_MAX) {
            http_problem(res, 400, "wait: whole seconds from 0 to %d", HEARTBEAT_WAIT_MAX);
            goto out;
        }
    }
    ctx.host = req->who.host;
    cmd.u.host_report.host = req->who.host; /* the reports: chosen by heartbeat_before */
    if (req->resumed) {
        /* a parked long-poll woken: the report was applied when it arrived; answer with the
           desired state as it is now */
        job.cmd = NULL;
        job.before = NULL;
    }
    api_submit(req, res, &job);
    for (uint32_t i = 0; i < ctx.idle_count; i++) {
        /* idle_stop fired: end it (idle) as the operator would; the agent hears at its next
           heartbeat, which is not held since the host changed */
        struct command stop = {.type = CMD_RENTAL_STOP};
        struct core_job sj = {.cmd = &stop};
        stop.u.rental_stop.rental = ctx.idle[i];
        stop.u.rental_stop.idle = true;
        core_submit(req->srv->core, &sj);
        free(sj.reply);
    }
    if (!req->resumed && wait_s > 0 && res->status == 200 && ctx.nothing_new) {
        /* nothing to do for the agent yet: hold the reply until its host changes */
        res->park = true;
        res->park_host = req->who.host;
        res->park_gen = ctx.gen;
        res->park_until = core_clock_now() + (int64_t)wait_s * 1000000;
    }
out:
    free(ctx.reports);
    free(ctx.has_epoch);
    free(ctx.relevant);
    free(ctx.details);
    json_decref(body);
}

/* ---- GET /v1/hosts, GET /v1/hosts/{id} ------------------------------------------------- */

void api_host_list(struct request *req, struct response *res)
{
    const char *state_arg = http_query(req, "state");
    const char *model = http_query(req, "gpu_model");
    char cursor[ID_STR_MAX];
    const struct engine *e;
    struct api_page page;
    uint32_t n, id, last = 0;
    int state = -1;
    bool more = false;
    json_t *data;
    static const char *const args[] = {"state", "gpu_model", "limit", "cursor", NULL};

    if (api_only_query(req, res, args) < 0 || api_page_parse(req, res, ID_HOST, &page) < 0)
        return;
    if (state_arg != NULL) {
        for (int s = HOST_READY; s <= HOST_DOWN; s++) {
            if (strcmp(state_arg, host_state_name((enum host_state)s)) == 0)
                state = s;
        }
        if (state < 0) {
            http_problem(res, 400, "state: must be ready, draining or down");
            return;
        }
    }
    data = json_array();
    e = core_read_begin(req->srv->core);
    n = engine_host_count(e);
    id = page.has_cursor ? (page.cursor >= n ? n + 1 : (uint32_t)page.cursor + 1) : 1;
    for (; id <= n; id++) {
        struct host_view hv;

        if (engine_host(e, id, &hv) < 0)
            continue;
        if (state >= 0 && (int)hv.state != state)
            continue;
        if (model != NULL && strcmp(model, hv.gpu_model) != 0)
            continue;
        if (json_array_size(data) == page.limit) {
            more = true;
            break;
        }
        json_array_append_new(data, api_host_json(e, &hv, true, req->srv->api));
        last = id;
    }
    core_read_end(req->srv->core);
    api_reply_list(res, data, more ? id_format(cursor, ID_HOST, last) : NULL);
}

void api_host_get(struct request *req, struct response *res)
{
    const struct engine *e;
    struct host_view hv;
    json_t *j = NULL;
    uint32_t id;

    if (path_host(req, res, &id) < 0)
        return;
    e = core_read_begin(req->srv->core);
    if (engine_host(e, id, &hv) == 0)
        j = api_host_json(e, &hv, true, req->srv->api);
    core_read_end(req->srv->core);
    if (j == NULL) {
        http_problem(res, 404, "unknown host \"%.40s\"", req->params[0]);
        return;
    }
    api_reply(res, 200, j);
}

/* ---- drain, undrain, cost -------------------------------------------------------------- */

static int host_changed(struct core_job *job, struct engine *e, struct store *store, int64_t now)
{
    struct server *srv = job->ctx;
    struct host_view hv;

    (void)store;
    (void)now;
    if (job->result.code != 0)
        return 0;
    if (engine_host(e, (uint32_t)job->result.id, &hv) < 0)
        return api_job_problem(job, 500, "the host vanished");
    return api_job_reply(job, 200, api_host_json(e, &hv, true, srv->api));
}

static void drain(struct request *req, struct response *res, enum command_type type)
{
    struct command cmd = {.type = type};
    struct core_job job = {.cmd = &cmd, .after = host_changed, .ctx = req->srv};

    if (path_host(req, res, &cmd.u.host.host) == 0)
        api_submit_no_fields(req, res, &job);
}

void api_host_drain(struct request *req, struct response *res)
{
    drain(req, res, CMD_HOST_DRAIN);
}

void api_host_undrain(struct request *req, struct response *res)
{
    drain(req, res, CMD_HOST_UNDRAIN);
}

void api_host_cost(struct request *req, struct response *res)
{
    static const char *const allowed[] = {
        "purchase_price",        "purchased_at",    "depreciation_years",
        "salvage_fraction",      "power_watts",     "pue",
        "electricity_kwh_price", "hosting_monthly", NULL};
    struct command cmd = {.type = CMD_HOST_COST};
    struct cost_basis *cb = &cmd.u.host_cost.cost;
    struct core_job job = {.cmd = &cmd, .after = host_changed, .ctx = req->srv};
    struct api_fields f;
    struct api_error err;
    int64_t years = 0, watts = 0;
    double salvage = 0, pue = 1;
    json_t *body;

    if (path_host(req, res, &cmd.u.host_cost.host) < 0)
        return;
    body = api_body(req, res, API_BODY_REQUIRED);
    if (body == NULL)
        return;
    api_fields_init(&f, body, &err);
    api_only_fields(&f, allowed);
    api_get_money(&f, "purchase_price", true, 0, &cb->purchase_price);
    api_get_time(&f, "purchased_at", true, &cb->purchased_at);
    api_get_int(&f, "depreciation_years", true, 1, 100, &years);
    api_get_number(&f, "salvage_fraction", false, 0, 1, &salvage);
    api_get_int(&f, "power_watts", true, 0, 1000000, &watts);
    api_get_number(&f, "pue", true, 1, 5, &pue);
    api_get_money(&f, "electricity_kwh_price", true, 0, &cb->electricity_kwh_price);
    api_get_money(&f, "hosting_monthly", true, 0, &cb->hosting_monthly);
    if (api_failed(&f)) {
        http_problem(res, err.status, "%s", err.detail);
        goto out;
    }
    cb->depreciation_years = (uint32_t)years;
    cb->salvage_ppm = (uint32_t)llround(salvage * 1e6);
    cb->power_watts = (uint32_t)watts;
    cb->pue_milli = (uint32_t)llround(pue * 1e3);
    api_submit(req, res, &job);
out:
    json_decref(body);
}
