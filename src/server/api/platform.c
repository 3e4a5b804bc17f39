/*
 * platform.c - GET /healthz, GET /metrics, GET /v1/platform.
 */
#include "../../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../engine/ledger.h"
#include "../../engine/money.h"
#include "../apijson.h"
#include "../server.h"
#include "handlers.h"

void api_healthz(struct request *req, struct response *res)
{
    (void)req;
    http_reply(res, 200, strdup("{\"status\":\"ok\"}"));
}

void api_platform(struct request *req, struct response *res)
{
    json_t *j = json_object();

    json_object_set_new(j, "currency", json_string(req->srv->currency));
    json_object_set_new(j, "version", json_string(req->srv->version));
    json_object_set_new(j, "time", api_time(core_clock_now()));
    json_object_set_new(j, "started_at", api_time(req->srv->started_at));
    /* who is asking: what a client such as the console shows its user */
    json_object_set_new(j, "role",
                        json_string(req->who.role == ROLE_ADMIN    ? "admin"
                                    : req->who.role == ROLE_TENANT ? "tenant"
                                                                   : "agent"));
    json_object_set_new(j, "tenant_id",
                        api_id(ID_TENANT, req->who.role == ROLE_TENANT ? req->who.tenant : 0));
    api_reply(res, 200, j);
}

/* What /metrics shows, copied under the read lock and written after it. */
struct metrics {
    struct engine_stats stats;
    uint32_t hosts[3]; /* by enum host_state */
    uint32_t gpus[3];  /* by enum gpu_state */
    int64_t revenue;   /* realized: the revenue and discounts accounts */
    int64_t deferred;
};

static void metrics_read(const struct engine *e, struct metrics *m)
{
    uint32_t n = engine_host_count(e);

    memset(m, 0, sizeof(*m));
    engine_stats(e, &m->stats);
    for (uint32_t id = 1; id <= n; id++) {
        struct host_view h;

        if (engine_host(e, id, &h) < 0)
            continue;
        m->hosts[h.state]++;
        if (h.state == HOST_DOWN) {
            m->gpus[GPU_UNAVAILABLE] += h.gpu_count;
        } else {
            m->gpus[GPU_FREE] += h.free_gpus;
            m->gpus[GPU_ALLOCATED] += h.gpu_count - h.free_gpus;
        }
    }
    m->revenue =
        engine_account_balance(e, ACCT_REVENUE) + engine_account_balance(e, ACCT_DISCOUNTS);
    m->deferred = engine_account_balance(e, ACCT_DEFERRED);
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* serve --metrics admin: the route is public in the table (scrapers without a key are the
   default), so the key is checked here, exactly as the dispatcher checks it (401, 403). */
static bool metrics_allowed(struct request *req, struct response *res)
{
    const char *auth = http_header(req, "Authorization");
    struct principal who;

    if (req->srv->metrics == METRICS_OFF) {
        http_problem(res, 404, "no such route: GET /metrics (serve --metrics off)");
        return false;
    }
    if (req->srv->metrics == METRICS_PUBLIC)
        return true;
    if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
        http_problem(res, 401, "missing API key: send Authorization: Bearer <key>");
        http_add_header(res, "WWW-Authenticate", "Bearer");
        return false;
    }
    for (auth += 7; *auth == ' '; auth++)
        ;
    if (keyring_lookup(&req->srv->keys, auth, &who) < 0) {
        http_problem(res, 401, "unknown or revoked API key");
        http_add_header(res, "WWW-Authenticate", "Bearer");
        return false;
    }
    if (who.role != ROLE_ADMIN) {
        http_problem(res, 403, "GET /metrics is for admin keys (serve --metrics admin)");
        return false;
    }
    return true;
}

void api_metrics(struct request *req, struct response *res)
{
    const struct engine *e;
    struct metrics m;
    char *text = NULL;
    size_t len = 0;
    FILE *f;

    if (!metrics_allowed(req, res))
        return;
    e = core_read_begin(req->srv->core);
    metrics_read(e, &m);
    core_read_end(req->srv->core);

    f = open_memstream(&text, &len);
    if (f == NULL) {
        http_problem(res, 500, "out of memory");
        return;
    }
    metric(f, "gpurent_rentals_live", "gauge", "Rentals starting or running.");
    fprintf(f, "gpurent_rentals_live %u\n", m.stats.live_now);
    metric(f, "gpurent_rentals_pending", "gauge", "Rentals waiting in the queue.");
    fprintf(f, "gpurent_rentals_pending %u\n", m.stats.pending_now);
    metric(f, "gpurent_rentals_created_total", "counter", "Rentals created.");
    fprintf(f, "gpurent_rentals_created_total %llu\n", (unsigned long long)m.stats.rentals_created);
    metric(f, "gpurent_rentals_placed_total", "counter", "Rentals given GPUs, by how.");
    fprintf(f, "gpurent_rentals_placed_total{how=\"at_once\"} %llu\n",
            (unsigned long long)m.stats.placed_at_once);
    fprintf(f, "gpurent_rentals_placed_total{how=\"from_queue\"} %llu\n",
            (unsigned long long)m.stats.placed_from_queue);
    metric(f, "gpurent_rentals_queued_total", "counter", "Rentals created pending.");
    fprintf(f, "gpurent_rentals_queued_total %llu\n", (unsigned long long)m.stats.queued);
    metric(f, "gpurent_rentals_rejected_total", "counter", "Rental requests refused, by reason.");
    fprintf(f, "gpurent_rentals_rejected_total{reason=\"capacity\"} %llu\n",
            (unsigned long long)m.stats.rejected_capacity);
    fprintf(f, "gpurent_rentals_rejected_total{reason=\"funds\"} %llu\n",
            (unsigned long long)m.stats.rejected_funds);
    metric(f, "gpurent_rentals_preempted_total", "counter", "Spot rentals preempted.");
    fprintf(f, "gpurent_rentals_preempted_total %llu\n", (unsigned long long)m.stats.preempted);
    metric(f, "gpurent_rentals_ended_total", "counter", "Rentals ended, by end_reason.");
    for (int r = END_NONE + 1; r < END_REASON_COUNT; r++)
        fprintf(f, "gpurent_rentals_ended_total{reason=\"%s\"} %llu\n",
                end_reason_name((enum end_reason)r), (unsigned long long)m.stats.ended[r]);
    metric(f, "gpurent_gpus", "gauge", "GPUs registered, by state.");
    for (int s = GPU_FREE; s <= GPU_UNAVAILABLE; s++)
        fprintf(f, "gpurent_gpus{state=\"%s\"} %u\n", gpu_state_name((enum gpu_state)s), m.gpus[s]);
    metric(f, "gpurent_hosts", "gauge", "Hosts registered, by state.");
    for (int s = HOST_READY; s <= HOST_DOWN; s++)
        fprintf(f, "gpurent_hosts{state=\"%s\"} %u\n", host_state_name((enum host_state)s),
                m.hosts[s]);
    metric(f, "gpurent_tenants", "gauge", "Tenants.");
    fprintf(f, "gpurent_tenants %u\n", m.stats.tenants);
    metric(f, "gpurent_transfers_total", "counter", "Ledger transfers posted.");
    fprintf(f, "gpurent_transfers_total %llu\n", (unsigned long long)m.stats.transfers);
    metric(f, "gpurent_revenue", "counter",
           "Realized revenue earned so far, in the platform currency.");
    fprintf(f, "gpurent_revenue %.6f\n", (double)m.revenue / (double)MONEY_UNIT);
    metric(f, "gpurent_deferred_revenue", "gauge",
           "Prepaid packages not yet earned, in the platform currency.");
    fprintf(f, "gpurent_deferred_revenue %.6f\n", (double)m.deferred / (double)MONEY_UNIT);
    if (fclose(f) != 0 || text == NULL) {
        free(text);
        http_problem(res, 500, "out of memory");
        return;
    }
    http_reply(res, 200, text);
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
