/*
 * cmd_rentals.c - `gpurent rentals create|ls|show|stop|quote`: a tenant's rentals.
 */
#include "../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/money.h"
#include "cli_internal.h"
#include "table.h"

#define WAIT_POLL_MS 500

static const char *const terms[] = {"on_demand", "spot", "day", "week", "month"};

static bool valid_term(const char *t)
{
    for (size_t i = 0; i < ARRAY_SIZE(terms); i++) {
        if (strcmp(t, terms[i]) == 0)
            return true;
    }
    return false;
}

/* day, week and month packages are bought at creation, for the whole term */
static bool is_package(const char *term)
{
    return strcmp(term, "day") == 0 || strcmp(term, "week") == 0 || strcmp(term, "month") == 0;
}

/* "30.20" for gpu_count x hourly_price, or NULL when the fields are not what we expect. */
static const char *whole_rate(const json_t *r, char buf[MONEY_STR_MAX])
{
    const char *price = json_string_value(json_object_get(r, "hourly_price"));
    json_t *count = json_object_get(r, "gpu_count");
    int64_t per_gpu, total;

    if (price == NULL || !json_is_integer(count) || money_parse(&per_gpu, price) != 0 ||
        money_mul(&total, per_gpu, json_integer_value(count)) != 0)
        return NULL;
    return money_format(buf, total);
}

/* "2 x A100-80G" */
static const char *gpus_text(const json_t *r, char *buf, size_t cap)
{
    char n[CLI_TEXT_MAX];
    const char *count = cli_field(r, "gpu_count", n);
    const char *model = json_string_value(json_object_get(r, "gpu_model"));

    snprintf(buf, cap, "%s x %s", count ? count : "?", model ? model : "?");
    return buf;
}

static void print_rental(const json_t *r)
{
    char b[CLI_TEXT_MAX], gpus[128], rate[MONEY_STR_MAX], price[160];
    const json_t *uuids = json_object_get(r, "gpus");
    const char *hp = json_string_value(json_object_get(r, "hourly_price"));
    const char *end_reason = json_string_value(json_object_get(r, "end_reason"));
    const char *whole = whole_rate(r, rate);
    size_t i;
    json_t *u;

    kv_print(stdout, 13, "id:", cli_field(r, "id", b));
    kv_print(stdout, 13, "state:", cli_field(r, "state", b));
    if (end_reason != NULL) {
        kv_print(stdout, 13, "end reason:", end_reason);
        if (json_is_integer(json_object_get(r, "exit_code")))
            kv_print(stdout, 13, "exit code:", cli_field(r, "exit_code", b));
        if (json_is_string(json_object_get(r, "end_detail")))
            kv_print(stdout, 13, "why:", cli_field(r, "end_detail", b));
    }
    kv_print(stdout, 13, "gpus:", gpus_text(r, gpus, sizeof(gpus)));
    kv_print(stdout, 13, "term:", cli_field(r, "term", b));
    if (hp != NULL) {
        const char *term = json_string_value(json_object_get(r, "term"));

        if (term != NULL && is_package(term) && cli_field(r, "cost", b) != NULL)
            snprintf(price, sizeof(price), "%s /GPU-h (%s prepaid for the %s)", hp, b, term);
        else if (whole != NULL)
            snprintf(price, sizeof(price), "%s /GPU-h (%s /h)", hp, whole);
        else
            snprintf(price, sizeof(price), "%s /GPU-h", hp);
        kv_print(stdout, 13, "price:", price);
    }
    if (json_is_string(json_object_get(r, "max_cost")))
        kv_print(stdout, 13, "max cost:", cli_field(r, "max_cost", b));
    if (json_is_integer(json_object_get(r, "max_duration_seconds"))) {
        char d[64];
        snprintf(d, sizeof(d), "%s s", cli_field(r, "max_duration_seconds", b));
        kv_print(stdout, 13, "max duration:", d);
    }
    kv_print(stdout, 13, "cost:", cli_field(r, "accrued_cost", b));
    kv_print(stdout, 13, "charged:", cli_field(r, "cost", b));
    kv_print(stdout, 13, "tenant:", cli_field(r, "tenant_id", b));
    kv_print(stdout, 13, "host:", cli_field(r, "host_id", b));
    if (json_is_array(uuids) && json_array_size(uuids) > 0) {
        json_array_foreach(uuids, i, u)
        {
            kv_print(stdout, 13, i == 0 ? "gpu uuids:" : "", cli_text(u, b));
        }
    }
    kv_print(stdout, 13, "created:", cli_field(r, "created_at", b));
    kv_print(stdout, 13, "started:", cli_field(r, "started_at", b));
    if (json_is_string(json_object_get(r, "ends_at")))
        kv_print(stdout, 13, "ends:", cli_field(r, "ends_at", b));
    if (json_is_string(json_object_get(r, "ended_at")))
        kv_print(stdout, 13, "ended:", cli_field(r, "ended_at", b));
    if (json_is_string(json_object_get(r, "preempt_at")))
        kv_print(stdout, 13, "preempt at:", cli_field(r, "preempt_at", b));
    if (json_is_string(json_object_get(r, "requeued_from")))
        kv_print(stdout, 13, "requeue of:", cli_field(r, "requeued_from", b));
    if (json_is_string(json_object_get(r, "requeued_as")))
        kv_print(stdout, 13, "requeued as:", cli_field(r, "requeued_as", b));
}

/* For --wait: how a rental that ended before it could be seen running ended (the exit
 * status is ended_badly's). A start that failed says why on stderr, in the host's words. */
static void print_ended(const json_t *r)
{
    char b[CLI_TEXT_MAX], code[CLI_TEXT_MAX];
    const char *why = cli_field(r, "end_reason", b);

    if (why != NULL && strcmp(why, "failed_to_start") == 0)
        fprintf(stderr, "gpurent: the rental failed to start: %s\n",
                cli_field(r, "end_detail", code) ? code : "(no detail from the host)");
    else if (json_is_integer(json_object_get(r, "exit_code")))
        printf("ended: %s (exit code %s)\n", why ? why : "?", cli_field(r, "exit_code", code));
    else
        printf("ended: %s\n", why ? why : "?");
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Poll the rental until it runs or ends; *reply is the last state (replaced). */
static int wait_running(struct cli *cli, const char *id, int64_t timeout_s, json_t **reply)
{
    char path[CLI_PATH_MAX];
    struct timespec t0, t1;
    int rc;

    rc = cli_path(cli, path, "/v1/rentals/", id, "");
    if (rc != 0)
        return rc;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        const char *state = json_string_value(json_object_get(*reply, "state"));

        if (state != NULL && (strcmp(state, "running") == 0 || strcmp(state, "ended") == 0))
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec >= timeout_s) {
            fprintf(stderr, "gpurent: %s is still %s after %llds\n", id, state ? state : "?",
                    (long long)timeout_s);
            return CLI_EXIT_FAIL;
        }
        sleep_ms(WAIT_POLL_MS);
        json_decref(*reply);
        rc = cli_call(cli, "GET", path, NULL, NULL, reply);
        if (rc != 0)
            return rc;
    }
}

/* An ended rental that did not end by its workload exiting with 0 (failed to start, exited
 * with an error, stopped, preempted...). */
static bool ended_badly(const json_t *r)
{
    const char *state = json_string_value(json_object_get(r, "state"));
    const char *reason = json_string_value(json_object_get(r, "end_reason"));
    const json_t *code = json_object_get(r, "exit_code");

    if (state == NULL || strcmp(state, "ended") != 0)
        return false;
    return reason == NULL || strcmp(reason, "exited") != 0 || !json_is_integer(code) ||
           json_integer_value(code) != 0;
}

/* --idle-stop PCT:MINUTES -> {below_util_pct, minutes} */
static int idle_stop(struct cli *cli, const char *text, json_t *body)
{
    unsigned pct, minutes;
    char tail;

    if (sscanf(text, "%u:%u%c", &pct, &minutes, &tail) != 2 || pct > 100 || minutes == 0 ||
        minutes > 100000)
        return cli_usage_error(cli,
                               "--idle-stop: expected PCT:MINUTES (e.g. 5:30: stop after 30 "
                               "minutes below 5%% utilization), got '%s'",
                               text);
    json_object_set_new(
        body, "idle_stop",
        json_pack("{s:I,s:I}", "below_util_pct", (json_int_t)pct, "minutes", (json_int_t)minutes));
    return 0;
}

/* The workload: `-- COMMAND ARGS...`, --image, --env K=V, --restart. */
static int workload(struct cli *cli, json_t *body)
{
    const struct cli_value *image = cli_opt(cli, "--image"), *env = cli_opt(cli, "--env"),
                           *restart = cli_opt(cli, "--restart");
    json_t *w, *cmd, *envo;

    if (cli->nrest == 0 && !image->set) {
        if (env->set || restart->set)
            return cli_usage_error(cli, "--env and --restart need a workload: -- COMMAND ...");
        return 0;
    }
    if (restart->set && strcmp(restart->text, "never") != 0 &&
        strcmp(restart->text, "on_failure") != 0 && strcmp(restart->text, "always") != 0)
        return cli_usage_error(cli, "--restart: expected never, on_failure or always, got '%s'",
                               restart->text);
    w = json_object();
    cmd = json_array();
    envo = json_object();
    json_object_set_new(body, "workload", w);
    json_object_set_new(w, "command", cmd);
    for (int i = 0; i < cli->nrest; i++)
        json_array_append_new(cmd, json_string(cli->rest[i]));
    for (size_t i = 0; i < env->list_len; i++) {
        const char *eq = strchr(env->list[i], '=');
        char name[256];

        if (eq == NULL || eq == env->list[i] || (size_t)(eq - env->list[i]) >= sizeof(name)) {
            json_decref(envo);
            return cli_usage_error(cli, "--env: expected NAME=VALUE, got '%s'", env->list[i]);
        }
        memcpy(name, env->list[i], (size_t)(eq - env->list[i]));
        name[eq - env->list[i]] = '\0';
        json_object_set_new(envo, name, json_string(eq + 1));
    }
    if (json_object_size(envo) > 0)
        json_object_set_new(w, "env", envo);
    else
        json_decref(envo);
    if (image->set)
        json_object_set_new(w, "image", json_string(image->text));
    if (restart->set)
        json_object_set_new(w, "restart", json_string(restart->text));
    return 0;
}

static int rentals_create(struct cli *cli)
{
    const struct cli_value *model = cli_opt(cli, "--model"), *count = cli_opt(cli, "--count"),
                           *term = cli_opt(cli, "--term"), *bid = cli_opt(cli, "--bid"),
                           *coupon = cli_opt(cli, "--coupon"), *queue = cli_opt(cli, "--queue"),
                           *renew = cli_opt(cli, "--auto-renew"),
                           *requeue = cli_opt(cli, "--requeue"),
                           *max_cost = cli_opt(cli, "--max-cost"),
                           *max_dur = cli_opt(cli, "--max-duration"),
                           *idle = cli_opt(cli, "--idle-stop"),
                           *idem = cli_opt(cli, "--idempotency-key"),
                           *wait = cli_opt(cli, "--wait"),
                           *wait_timeout = cli_opt(cli, "--wait-timeout"),
                           *tenant = cli_opt(cli, "--tenant");
    const char *term_name = term->set ? term->text : "on_demand";
    char m[MONEY_STR_MAX], rate[MONEY_STR_MAX], gpus[128], b[CLI_TEXT_MAX];
    json_t *body = NULL, *reply = NULL;
    const char *id, *state;
    int rc;

    if (!model->set)
        return cli_usage_error(cli, "--model is required (see 'gpurent offers')");
    if (!valid_term(term_name))
        return cli_usage_error(
            cli, "--term: expected on_demand, spot, day, week or month, got '%s'", term_name);
    if (strcmp(term_name, "spot") == 0 && !bid->set)
        return cli_usage_error(cli, "--bid is required for --term spot");
    if (strcmp(term_name, "spot") != 0 && bid->set)
        return cli_usage_error(cli, "--bid is only for --term spot");
    body = json_pack("{s:s,s:I,s:s}", "gpu_model", model->text, "gpu_count",
                     (json_int_t)(count->set ? count->count : 1), "term", term_name);
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (tenant->set)
        json_object_set_new(body, "tenant_id", json_string(tenant->text));
    if (bid->set)
        json_object_set_new(body, "max_hourly", json_string(cli_money_text(bid->money, m)));
    if (coupon->set)
        json_object_set_new(body, "coupon", json_string(coupon->text));
    if (queue->set)
        json_object_set_new(body, "queue", json_true());
    if (renew->set)
        json_object_set_new(body, "auto_renew", json_true());
    if (requeue->set)
        json_object_set_new(body, "requeue", json_true());
    if (max_cost->set)
        json_object_set_new(body, "max_cost", json_string(cli_money_text(max_cost->money, m)));
    if (max_dur->set)
        json_object_set_new(body, "max_duration_seconds", json_integer(max_dur->seconds));
    rc = idle->set ? idle_stop(cli, idle->text, body) : 0;
    if (rc == 0)
        rc = workload(cli, body);
    if (rc == 0) {
        rc = cli_call(cli, "POST", "/v1/rentals", body, idem->set ? idem->text : NULL, &reply);
        if (rc != 0 && !queue->set && strstr(client_errmsg(), "409 conflict: no capacity") != NULL)
            fprintf(stderr, "gpurent: see 'gpurent offers' for what is free now, or add --queue to "
                            "wait for GPUs\n");
    }
    if (rc != 0)
        goto out;
    id = json_string_value(json_object_get(reply, "id"));
    if (id == NULL) {
        fprintf(stderr, "gpurent: the server's reply has no rental id\n");
        rc = CLI_EXIT_FAIL;
        goto out;
    }
    if (wait->set) {
        json_t *r = json_incref(reply);

        rc = wait_running(cli, id, wait_timeout->set ? wait_timeout->seconds : 120, &r);
        json_decref(reply);
        reply = r;
        id = json_string_value(json_object_get(reply, "id"));
        if (rc != 0 || id == NULL) {
            rc = rc ? rc : CLI_EXIT_FAIL;
            goto out;
        }
        /* it ended while we waited: a success only when its workload exited with 0 */
        rc = ended_badly(reply) ? CLI_EXIT_FAIL : 0;
    }
    if (cli->json) {
        cli_print_raw(cli);
        goto out;
    }
    if (cli->quiet) {
        printf("%s\n", id);
        goto out;
    }
    state = json_string_value(json_object_get(reply, "state"));
    printf("%s %s: %s, %s, %s, %s /GPU-h", wait->set ? "rental" : "created rental", id,
           state ? state : "?", gpus_text(reply, gpus, sizeof(gpus)), term_name,
           json_string_value(json_object_get(reply, "hourly_price"))
               ? json_string_value(json_object_get(reply, "hourly_price"))
               : "?");
    if (is_package(term_name) && cli_field(reply, "cost", b) != NULL)
        printf(" (%s prepaid for the %s)", b, term_name); /* nothing accrues by the hour */
    else if (whole_rate(reply, rate) != NULL)
        printf(" (%s /h)", rate);
    if (cli_field(reply, "host_id", b) != NULL)
        printf(" on %s", b);
    printf("\n");
    if (state != NULL && strcmp(state, "pending") == 0)
        printf("queued: it starts when GPUs free up ('gpurent rentals show %s')\n", id);
    if (state != NULL && strcmp(state, "ended") == 0)
        print_ended(reply);
out:
    json_decref(body);
    json_decref(reply);
    return rc;
}

/* Whether the key is the operator's (GET /v1/platform says the caller's role). */
static bool caller_is_admin(struct cli *cli)
{
    json_t *reply = NULL;
    bool admin;

    if (cli_call(cli, "GET", "/v1/platform", NULL, NULL, &reply) != 0)
        return false;
    admin = json_is_string(json_object_get(reply, "role")) &&
            strcmp(json_string_value(json_object_get(reply, "role")), "admin") == 0;
    json_decref(reply);
    return admin;
}

static int rentals_ls(struct cli *cli)
{
    /* the operator sees every tenant's rentals: a TENANT column says whose */
    static const char *const heads[] = {"ID",    "TENANT",  "STATE",        "MODEL",
                                        ">GPUS", "TERM",    ">PRICE/GPU-H", ">COST",
                                        "HOST",  "CREATED", "END REASON",   NULL};
    static const char *const fields[] = {"id",        "tenant_id",  "state",        "gpu_model",
                                         "gpu_count", "term",       "hourly_price", "accrued_cost",
                                         "host_id",   "created_at", "end_reason"};
    const struct cli_value *state = cli_opt(cli, "--state"), *tenant = cli_opt(cli, "--tenant");
    char path[CLI_PATH_MAX] = "/v1/rentals";
    const char *h[ARRAY_SIZE(heads)];
    size_t nh = 0, skip = 1; /* the TENANT column, unless the operator lists everyone's */
    json_t *data = NULL, *r;
    struct table t;
    size_t i;
    int rc;

    if (state->set && (rc = cli_query_add(cli, path, "state", state->text)) != 0)
        return rc;
    if (tenant->set && (rc = cli_query_add(cli, path, "tenant_id", tenant->text)) != 0)
        return rc;
    rc = cli_list(cli, path, &data);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(data);
        return cli_print_raw(cli);
    }
    if (!cli->quiet && !tenant->set && caller_is_admin(cli))
        skip = ARRAY_SIZE(fields);
    for (size_t k = 0; heads[k] != NULL; k++) {
        if (k != skip)
            h[nh++] = heads[k];
    }
    h[nh] = NULL;
    table_init(&t, h);
    json_array_foreach(data, i, r)
    {
        char b[ARRAY_SIZE(fields)][CLI_TEXT_MAX];
        const char *row[ARRAY_SIZE(fields)];
        size_t n = 0;

        for (size_t k = 0; k < ARRAY_SIZE(fields); k++) {
            if (k != skip)
                row[n++] = cli_field(r, fields[k], b[k]);
        }
        if (cli->quiet)
            printf("%s\n", row[0] ? row[0] : "-");
        else
            table_add(&t, row);
    }
    if (!cli->quiet && table_print(&t, stdout) != 0) {
        fprintf(stderr, "gpurent: out of memory\n");
        rc = CLI_EXIT_FAIL;
    }
    table_release(&t);
    json_decref(data);
    return rc;
}

static int rentals_show(struct cli *cli)
{
    char path[CLI_PATH_MAX];
    json_t *reply = NULL;
    int rc;

    rc = cli_path(cli, path, "/v1/rentals/", cli->args[0], "");
    if (rc == 0)
        rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json)
        rc = cli_print_raw(cli);
    else
        print_rental(reply);
    json_decref(reply);
    return rc;
}

/* `rentals telemetry ID`: each GPU's last report while the rental held it, and its mean
 * utilization over the reports the server keeps (GET /v1/rentals/{id}/telemetry). */
static int rentals_telemetry(struct cli *cli)
{
    static const char *const heads[] = {">GPU",   "UUID",  ">UTIL", ">MEAN UTIL", ">MEMORY",
                                        ">POWER", ">TEMP", "AT",    NULL};
    char path[CLI_PATH_MAX];
    json_t *reply = NULL, *g;
    struct table t;
    size_t i;
    int rc;

    rc = cli_path(cli, path, "/v1/rentals/", cli->args[0], "/telemetry");
    if (rc == 0)
        rc = cli_call(cli, "GET", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    table_init(&t, heads);
    json_array_foreach(json_object_get(reply, "gpus"), i, g)
    {
        const json_t *samples = json_object_get(g, "samples"), *last, *s;
        size_t n = json_array_size(samples), j, k = 0;
        char c[8][CLI_TEXT_MAX];
        const char *row[8];
        double sum = 0;

        last = n > 0 ? json_array_get(samples, n - 1) : NULL;
        json_array_foreach(samples, j, s)
        {
            if (json_is_number(json_object_get(s, "util_pct"))) {
                sum += json_number_value(json_object_get(s, "util_pct"));
                k++;
            }
        }
        row[0] = cli_field(g, "index", c[0]);
        row[1] = cli_field(g, "uuid", c[1]);
        row[2] = NULL;
        if (json_is_number(json_object_get(last, "util_pct"))) {
            snprintf(c[2], CLI_TEXT_MAX, "%.0f%%",
                     json_number_value(json_object_get(last, "util_pct")));
            row[2] = c[2];
        }
        row[3] = NULL;
        if (k > 0) {
            snprintf(c[3], CLI_TEXT_MAX, "%.0f%%", sum / (double)k);
            row[3] = c[3];
        }
        row[4] = NULL;
        if (json_is_integer(json_object_get(last, "mem_used_mib"))) {
            snprintf(c[4], CLI_TEXT_MAX, "%lld MiB",
                     (long long)json_integer_value(json_object_get(last, "mem_used_mib")));
            row[4] = c[4];
        }
        row[5] = NULL;
        if (json_is_number(json_object_get(last, "power_w"))) {
            snprintf(c[5], CLI_TEXT_MAX, "%.0f W",
                     json_number_value(json_object_get(last, "power_w")));
            row[5] = c[5];
        }
        row[6] = NULL;
        if (json_is_number(json_object_get(last, "temp_c"))) {
            snprintf(c[6], CLI_TEXT_MAX, "%.0f C",
                     json_number_value(json_object_get(last, "temp_c")));
            row[6] = c[6];
        }
        row[7] = cli_field(last, "at", c[7]);
        table_add(&t, row);
    }
    if (json_array_size(json_object_get(reply, "gpus")) == 0)
        printf("no telemetry: the rental holds no GPUs, or none has reported yet\n");
    else if (table_print(&t, stdout) != 0)
        rc = CLI_EXIT_FAIL;
    table_release(&t);
    json_decref(reply);
    return rc;
}

/* Stop each rental; one that cannot be stopped (an unknown id) is reported and the others
 * are still stopped: exit status 1 when any failed. */
static int rentals_stop(struct cli *cli)
{
    char path[CLI_PATH_MAX], b[CLI_TEXT_MAX], b2[CLI_TEXT_MAX];
    json_t *reply = NULL;
    const char *cost, *reason;
    int rc = 0;

    for (unsigned i = 0; i < cli->nargs; i++) {
        int one = cli_path(cli, path, "/v1/rentals/", cli->args[i], "/stop");

        if (one == 0)
            one = cli_call(cli, "POST", path, NULL, NULL, &reply);
        if (one != 0) {
            rc = rc ? rc : one;
            continue;
        }
        if (cli->json) {
            cli_print_raw(cli);
        } else if (cli->quiet) {
            printf("%s\n", cli->args[i]);
        } else {
            cost = cli_field(reply, "cost", b);
            reason = cli_field(reply, "end_reason", b2);
            printf("stopped %s", cli->args[i]);
            if (reason != NULL && strcmp(reason, "stopped") != 0)
                printf(" (it had already ended: %s)", reason);
            if (cost != NULL)
                printf(": cost %s", cost);
            printf("\n");
        }
        json_decref(reply);
        reply = NULL;
    }
    return rc;
}

static int rentals_quote(struct cli *cli)
{
    const struct cli_value *model = cli_opt(cli, "--model"), *count = cli_opt(cli, "--count"),
                           *term = cli_opt(cli, "--term"), *dur = cli_opt(cli, "--duration"),
                           *coupon = cli_opt(cli, "--coupon"), *bid = cli_opt(cli, "--bid"),
                           *tenant = cli_opt(cli, "--tenant");
    const char *term_name = term->set ? term->text : "on_demand";
    char b[CLI_TEXT_MAX];
    json_t *body, *reply = NULL;
    int rc;

    if (!model->set)
        return cli_usage_error(cli, "--model is required");
    if (!valid_term(term_name))
        return cli_usage_error(
            cli, "--term: expected on_demand, spot, day, week or month, got '%s'", term_name);
    body = json_pack("{s:s,s:I,s:s}", "gpu_model", model->text, "gpu_count",
                     (json_int_t)(count->set ? count->count : 1), "term", term_name);
    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (dur->set)
        json_object_set_new(body, "duration_seconds", json_integer(dur->seconds));
    if (bid->set)
        json_object_set_new(body, "max_hourly", cli_opt_json(cli, "--bid"));
    if (tenant->set)
        json_object_set_new(body, "tenant_id", json_string(tenant->text));
    if (coupon->set)
        json_object_set_new(body, "coupon", json_string(coupon->text));
    rc = cli_call(cli, "POST", "/v1/quotes", body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = cli_print_raw(cli);
    } else {
        char line[CLI_TEXT_MAX + 32];

        if (cli_field(reply, "hourly_price", b) != NULL)
            snprintf(line, sizeof(line), "%s /GPU-h", b);
        kv_print(stdout, 11, "price:", cli_field(reply, "hourly_price", b) ? line : NULL);
        if (cli_field(reply, "hourly_total", b) != NULL)
            snprintf(line, sizeof(line), "%s /h", b);
        kv_print(stdout, 11, "per hour:", cli_field(reply, "hourly_total", b) ? line : NULL);
        kv_print(stdout, 11,
                 "duration:", cli_duration(json_object_get(reply, "duration_seconds"), b));
        kv_print(stdout, 11, "list:", cli_field(reply, "list_total", b));
        kv_print(stdout, 11, "discount:", cli_field(reply, "discount", b));
        kv_print(stdout, 11, "total:", cli_field(reply, "total", b));
    }
    json_decref(reply);
    return rc;
}

static const struct cli_option create_options[] = {
    {"--model", OPT_TEXT, "MODEL", "the GPU model, as 'gpurent offers' lists it (required)", 0, 0},
    {"--count", OPT_COUNT, "N", "how many GPUs (default 1)", 1, 1024},
    {"--term", OPT_TEXT, "TERM", "on_demand (default), spot, day, week or month", 0, 0},
    {"--bid", OPT_MONEY, "AMOUNT", "spot: the most you pay per GPU-hour", 0, 0},
    {"--coupon", OPT_TEXT, "CODE", "apply a coupon", 0, 0},
    {"--queue", OPT_FLAG, NULL, "wait in the queue when no GPUs are free now", 0, 0},
    {"--auto-renew", OPT_FLAG, NULL, "packages: renew at the end when the balance allows", 0, 0},
    {"--requeue", OPT_FLAG, NULL, "spot: queue again (same spec and bid) when preempted", 0, 0},
    {"--max-cost", OPT_MONEY, "AMOUNT", "end the rental when its charges reach AMOUNT", 0, 0},
    {"--max-duration", OPT_SECONDS, "DURATION", "end it after running this long (90m, 2h)", 0, 0},
    {"--idle-stop", OPT_TEXT, "PCT:MINUTES", "end it after MINUTES below PCT% utilization", 0, 0},
    {"--image", OPT_TEXT, "IMAGE", "run the workload in this container image", 0, 0},
    {"--env", OPT_MULTI, "NAME=VALUE", "an environment variable of the workload (repeatable)", 0,
     0},
    {"--restart", OPT_TEXT, "POLICY", "never (default), on_failure or always", 0, 0},
    {"--idempotency-key", OPT_TEXT, "KEY", "a retry with the same key creates nothing new", 0, 0},
    {"--wait", OPT_FLAG, NULL, "wait until the rental runs (or ends), then print it", 0, 0},
    {"--wait-timeout", OPT_SECONDS, "DURATION", "how long --wait waits (default 120s)", 0, 0},
    {"--tenant", OPT_TEXT, "TENANT_ID", "admin: rent for this tenant", 0, 0},
    {0},
};

static const struct cli_option ls_options[] = {
    {"--state", OPT_TEXT, "STATE", "only pending, starting, running or ended rentals", 0, 0},
    {"--tenant", OPT_TEXT, "TENANT_ID", "admin: only this tenant's", 0, 0},
    {0},
};

static const struct cli_option quote_options[] = {
    {"--model", OPT_TEXT, "MODEL", "the GPU model (required)", 0, 0},
    {"--count", OPT_COUNT, "N", "how many GPUs (default 1)", 1, 1024},
    {"--term", OPT_TEXT, "TERM", "on_demand (default), spot, day, week or month", 0, 0},
    {"--duration", OPT_SECONDS, "DURATION", "price this long a run (on_demand, spot)", 0, 0},
    {"--coupon", OPT_TEXT, "CODE", "apply a coupon", 0, 0},
    {"--bid", OPT_MONEY, "AMOUNT", "spot: the bid per GPU-hour", 0, 0},
    {"--tenant", OPT_TEXT, "TENANT_ID", "admin: price it for this tenant", 0, 0},
    {0},
};

static const char create_details[] =
    "Billing runs from the moment the workload runs until it ends or is stopped.\n"
    "Without a command the GPUs are held for you until 'gpurent rentals stop ID'.\n"
    "With --wait, a rental that ends before it is seen running exits 1 unless its\n"
    "workload exited with 0 (the end reason and exit code are printed).\n"
    "\n"
    "example:\n"
    "  gpurent rentals create --model A100-80G --count 2 --max-cost 10 -- python train.py\n";

const struct cli_command cli_rentals_commands[] = {
    {
        .noun = "rentals",
        .verb = "create",
        .fn = rentals_create,
        .summary = "rent GPUs (optionally running a command on them)",
        .rest = "COMMAND [ARG...]",
        .options = create_options,
        .details = create_details,
    },
    {
        .noun = "rentals",
        .verb = "ls",
        .fn = rentals_ls,
        .summary = "list your rentals (admin: everyone's, with a TENANT column)",
        .options = ls_options,
    },
    {
        .noun = "rentals",
        .verb = "show",
        .fn = rentals_show,
        .summary = "one rental: state, GPUs, price, cost so far",
        .args = "RENTAL_ID",
        .min_args = 1,
        .max_args = 1,
    },
    {
        .noun = "rentals",
        .verb = "stop",
        .fn = rentals_stop,
        .summary = "end rentals now; billing stops (idempotent)",
        .details = "Every id is stopped even when another one fails; the exit status is then 1.\n",
        .args = "RENTAL_ID...",
        .min_args = 1,
        .max_args = CLI_ARGS_MAX,
    },
    {
        .noun = "rentals",
        .verb = "telemetry",
        .fn = rentals_telemetry,
        .summary = "each GPU's utilization, memory, power and temperature",
        .args = "RENTAL_ID",
        .min_args = 1,
        .max_args = 1,
        .details = "The last report of each GPU while the rental held it, and the mean\n"
                   "utilization over the reports the server keeps (the last hour or so).\n",
    },
    {
        .noun = "rentals",
        .verb = "quote",
        .fn = rentals_quote,
        .summary = "what a rental would cost, exactly as it would be billed",
        .options = quote_options,
    },
    {0},
};

/* `gpurent quote`: the same as `gpurent rentals quote`. */
const struct cli_command cli_quote_commands[] = {
    {
        .noun = "quote",
        .fn = rentals_quote,
        .summary = "what a rental would cost, exactly as it would be billed",
        .options = quote_options,
        .details = "example:\n"
                   "  gpurent quote --model A100-80G --count 2 --term week --coupon WELCOME10\n",
    },
    {0},
};
