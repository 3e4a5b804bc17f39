/*
 * demo.c - `gpurent serve --demo`: prices, a simulated fleet and a demo tenant, made through
 * the REST API like any operator would (see demo.h).
 */
#include "common/compat.h"

#include "demo.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "client/client.h"
#include "common/err.h"
#include "common/timeutil.h"

#define DEMO_TENANT          "demo"
#define DEMO_CREDIT          "1000.00"
#define DEMO_HEARTBEAT_S     1
#define DEMO_HOSTNAME_MAX    64
#define DEMO_REGISTER_WAIT   15000 /* ms for every simulated host to register */
#define DEMO_HOSTNAME_ROUNDS 100   /* sim-a100-1, sim-a100-1-2, ... on a reused data dir */

/* One simulated host of the demo fleet, with the cost basis the economics report uses. */
struct demo_host {
    const char *hostname;
    const char *model;
    unsigned gpus;
    unsigned memory_mib;
    const char *purchase_price; /* the host's GPUs: 8 x the card price */
    unsigned power_watts;       /* the GPUs' rated power together */
};

/*
 * 8 A100-80G cards at 100000 (the founding brief's price), 8 H100-80G at 250000. Power at
 * PUE 1.3 and 0.60 /kWh plus hosting of 8700 a month make the brief's opex of about
 * 1.80 an hour per A100 (0.31 power + 1.49 hosting).
 */
static const struct demo_host fleet[] = {
    {"sim-a100-1", "A100-80G", 8, 81920, "800000.00", 3200},
    {"sim-a100-2", "A100-80G", 8, 81920, "800000.00", 3200},
    {"sim-h100-1", "H100-80G", 8, 81920, "2000000.00", 5600},
};

/* How fleet[i] runs: a host of an earlier demo resumed with a new agent key, or a new one. */
struct demo_slot {
    char hostname[DEMO_HOSTNAME_MAX];
    char host_id[32];    /* resume: the host registered before */
    char agent_key[128]; /* resume: a fresh key for it (admin POST /v1/keys {host_id}) */
    bool resume;
};

struct demo {
    struct client *admin;                    /* owned */
    struct agent *agents[ARRAY_SIZE(fleet)]; /* owned: in-process agents, sim GPUs and runtime */
    struct demo_slot slots[ARRAY_SIZE(fleet)];
    char tenant_id[32];
    char tenant_key[128];
    bool tenant_reused; /* the data directory had it: a new key, no new credit */
};

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return ERR_INVALID;
}

/* A request whose failure ends the demo's start: 0, or the code with err set. */
static int call(struct demo *d, const char *method, const char *path, json_t *body, json_t **reply,
                char *err, size_t cap)
{
    int status, rc;

    rc = client_request(d->admin, method, path, body, &status, reply);
    json_decref(body);
    if (rc != 0) {
        snprintf(err, cap, "%s %s: %s", method, path, client_errmsg());
        if (reply != NULL) {
            json_decref(*reply);
            *reply = NULL;
        }
    }
    return rc;
}

/* The server answers (it may have only just started listening). */
static int wait_healthy(struct demo *d, char *err, size_t cap)
{
    int status = 0, rc = ERR_IO;

    for (int i = 0; i < 50 && rc != 0; i++) {
        rc = client_request(d->admin, "GET", "/healthz", NULL, &status, NULL);
        if (rc != 0) {
            struct timespec ts = {0, 100 * 1000000L};

            nanosleep(&ts, NULL);
        }
    }
    if (rc != 0)
        snprintf(err, cap, "the server does not answer: %s", client_errmsg());
    return rc;
}

static int set_prices(struct demo *d, char *err, size_t cap)
{
    int rc;

    rc = call(d, "PUT", "/v1/prices/A100-80G",
              json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "on_demand_hourly", "15.10",
                        "spot_floor_hourly", "6.00", "packages", "day", "182.40", "week", "1209.60",
                        "month", "4968.00"),
              NULL, err, cap);
    if (rc == 0)
        rc = call(d, "PUT", "/v1/prices/H100-80G",
                  json_pack("{s:s,s:s}", "on_demand_hourly", "25.00", "spot_floor_hourly", "10.00"),
                  NULL, err, cap);
    return rc;
}

/* Every host registered, following next_cursor: a new reference, or NULL with err set. */
static json_t *list_hosts(struct demo *d, char *err, size_t cap)
{
    json_t *all = json_array(), *reply = NULL;
    char path[256] = "/v1/hosts";

    for (int page = 0; page < 1000; page++) {
        const char *cursor;

        if (call(d, "GET", path, NULL, &reply, err, cap) != 0) {
            json_decref(all);
            return NULL;
        }
        json_array_extend(all, json_object_get(reply, "data"));
        cursor = json_string_value(json_object_get(reply, "next_cursor"));
        if (cursor == NULL || strlen(cursor) > 200) {
            json_decref(reply);
            break;
        }
        snprintf(path, sizeof(path), "/v1/hosts?cursor=%s", cursor);
        json_decref(reply);
    }
    return all;
}

static const json_t *host_named(const json_t *hosts, const char *hostname)
{
    const json_t *h;
    size_t i;

    json_array_foreach(hosts, i, h)
    {
        const char *name = json_string_value(json_object_get(h, "hostname"));

        if (name != NULL && strcmp(name, hostname) == 0)
            return h;
    }
    return NULL;
}

/*
 * A data directory kept from an earlier demo has its simulated hosts: resume each with a
 * new agent key (their agents' keys went with that process), as a real agent resumes with
 * the key it keeps. Where the server cannot make one, start a new host under the next free
 * name ("sim-a100-1-2"); the old one goes down, as a host whose agent vanished does.
 */
static int plan_fleet(struct demo *d, char *err, size_t cap)
{
    json_t *hosts = list_hosts(d, err, cap);

    if (hosts == NULL)
        return ERR_IO;
    for (size_t i = 0; i < ARRAY_SIZE(fleet); i++) {
        struct demo_slot *slot = &d->slots[i];
        const json_t *old = host_named(hosts, fleet[i].hostname);
        const char *id = json_string_value(json_object_get(old, "id"));
        int round = 1;

        if (id != NULL) {
            json_t *body = json_pack("{s:s}", "host_id", id), *reply = NULL;
            int status, rc = client_request(d->admin, "POST", "/v1/keys", body, &status, &reply);

            json_decref(body);
            if (rc == 0 && json_is_string(json_object_get(reply, "api_key"))) {
                snprintf(slot->hostname, sizeof(slot->hostname), "%s", fleet[i].hostname);
                snprintf(slot->host_id, sizeof(slot->host_id), "%s", id);
                snprintf(slot->agent_key, sizeof(slot->agent_key), "%s",
                         json_string_value(json_object_get(reply, "api_key")));
                slot->resume = true;
                json_decref(reply);
                continue;
            }
            json_decref(reply);
        }
        do {
            if (round == 1)
                snprintf(slot->hostname, sizeof(slot->hostname), "%s", fleet[i].hostname);
            else
                snprintf(slot->hostname, sizeof(slot->hostname), "%s-%d", fleet[i].hostname, round);
        } while (host_named(hosts, slot->hostname) != NULL && ++round <= DEMO_HOSTNAME_ROUNDS);
        if (round > DEMO_HOSTNAME_ROUNDS) {
            json_decref(hosts);
            return fail(err, cap, "too many earlier demo fleets in this data directory");
        }
    }
    json_decref(hosts);
    return 0;
}

/*
 * Each host of the fleet is the real agent loop (src/agent/agent.c) on a thread of this
 * process, with SIMULATED GPUs (sim:8xMODEL) and the SIMULATED runtime (nothing executes),
 * heartbeating every second over HTTP like any agent.
 */
static int start_fleet(struct demo *d, const char *url, char *err, size_t cap)
{
    char now[TIME_STR_MAX], path[96], host_id[64], why[256];
    int rc;

    for (size_t i = 0; i < ARRAY_SIZE(fleet); i++) {
        struct demo_slot *slot = &d->slots[i];
        char spec[80], prefix[128];
        struct agent_config cfg = {
            .server = url,
            .gpus_spec = spec,
            .runtime_kind = "sim",
            .hostname = slot->hostname,
            .log_prefix = prefix,
            .heartbeat_s = DEMO_HEARTBEAT_S,
        };
        json_t *reply = NULL;

        snprintf(spec, sizeof(spec), "sim:%ux%s", fleet[i].gpus, fleet[i].model);
        snprintf(prefix, sizeof(prefix), "gpurent: demo: agent %s (SIMULATED): ", slot->hostname);
        if (slot->resume) {
            cfg.host_id = slot->host_id;
            cfg.agent_key = slot->agent_key;
        } else {
            rc = call(d, "POST", "/v1/join-tokens", json_object(), &reply, err, cap);
            if (rc != 0)
                return rc;
            cfg.join_token = json_string_value(json_object_get(reply, "token"));
            if (cfg.join_token == NULL) {
                json_decref(reply);
                return fail(err, cap, "POST /v1/join-tokens: the reply has no token");
            }
        }
        rc = agent_start(&d->agents[i], &cfg, why, sizeof(why));
        json_decref(reply);
        explicit_bzero(slot->agent_key, sizeof(slot->agent_key));
        if (rc != 0)
            return fail(err, cap, "cannot start the simulated agent of %s: %s", slot->hostname,
                        why);
    }
    time_format(now, (int64_t)time(NULL) * 1000000);
    for (size_t i = 0; i < ARRAY_SIZE(fleet); i++) {
        rc = agent_wait_registered(d->agents[i], DEMO_REGISTER_WAIT, host_id, sizeof(host_id), why,
                                   sizeof(why));
        if (rc != 0)
            return fail(err, cap, "simulated host %s did not register: %s", d->slots[i].hostname,
                        why);
        if (d->slots[i].resume)
            continue; /* its cost basis is kept */
        snprintf(path, sizeof(path), "/v1/hosts/%s/cost", host_id);
        rc = call(d, "PUT", path,
                  json_pack("{s:s,s:s,s:i,s:i,s:f,s:s,s:s}", "purchase_price",
                            fleet[i].purchase_price, "purchased_at", now, "depreciation_years", 5,
                            "power_watts", (int)fleet[i].power_watts, "pue", 1.3,
                            "electricity_kwh_price", "0.60", "hosting_monthly", "8700.00"),
                  NULL, err, cap);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The "demo" tenant's id, or "" when there is none yet. */
static int find_tenant(struct demo *d, char *err, size_t cap)
{
    json_t *reply = NULL, *t;
    size_t i;
    int rc;

    d->tenant_id[0] = '\0';
    rc = call(d, "GET", "/v1/tenants", NULL, &reply, err, cap);
    if (rc != 0)
        return rc;
    json_array_foreach(json_object_get(reply, "data"), i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *id = json_string_value(json_object_get(t, "id"));

        if (name != NULL && id != NULL && strcmp(name, DEMO_TENANT) == 0)
            snprintf(d->tenant_id, sizeof(d->tenant_id), "%s", id);
    }
    json_decref(reply);
    return 0;
}

static int make_tenant(struct demo *d, char *err, size_t cap)
{
    json_t *reply = NULL;
    const char *id, *key;
    char path[96];
    bool fresh;
    int rc;

    rc = find_tenant(d, err, cap);
    if (rc != 0)
        return rc;
    fresh = d->tenant_id[0] == '\0';
    d->tenant_reused = !fresh;
    if (fresh)
        rc = call(d, "POST", "/v1/tenants", json_pack("{s:s}", "name", DEMO_TENANT), &reply, err,
                  cap);
    else /* kept from an earlier demo: its key was shown then, so make another */
        rc = call(d, "POST", "/v1/keys", json_pack("{s:s}", "tenant_id", d->tenant_id), &reply, err,
                  cap);
    if (rc != 0)
        return rc;
    id = fresh ? json_string_value(json_object_get(reply, "id")) : d->tenant_id;
    key = json_string_value(json_object_get(reply, "api_key"));
    if (key == NULL || (fresh && id == NULL)) {
        json_decref(reply);
        return fail(err, cap, "the reply has no tenant id or api_key");
    }
    if (fresh)
        snprintf(d->tenant_id, sizeof(d->tenant_id), "%s", id);
    snprintf(d->tenant_key, sizeof(d->tenant_key), "%s", key);
    json_decref(reply);
    if (!fresh)
        return 0;
    snprintf(path, sizeof(path), "/v1/tenants/%s/credits", d->tenant_id);
    return call(d, "POST", path,
                json_pack("{s:s,s:s}", "amount", DEMO_CREDIT, "reference", "demo credit"), NULL,
                err, cap);
}

int demo_start(const char *url, const char *admin_key, void **state, char *err, size_t cap)
{
    struct demo *d = calloc(1, sizeof(*d));
    int rc;

    if (d == NULL) {
        snprintf(err, cap, "out of memory");
        return ERR_NOMEM;
    }
    rc = client_new(&d->admin, url, admin_key);
    if (rc != 0) {
        snprintf(err, cap, "%s", client_errmsg());
        goto fail;
    }
    rc = wait_healthy(d, err, cap);
    if (rc == 0)
        rc = set_prices(d, err, cap);
    if (rc == 0)
        rc = plan_fleet(d, err, cap);
    if (rc == 0)
        rc = start_fleet(d, url, err, cap);
    if (rc == 0)
        rc = make_tenant(d, err, cap);
    if (rc != 0)
        goto fail;
    printf("gpurent: demo: a SIMULATED fleet is running: %s, %s (8 x A100-80G each), %s (8 x "
           "H100-80G)%s\n",
           d->slots[0].hostname, d->slots[1].hostname, d->slots[2].hostname,
           d->slots[0].resume ? ", resumed from the data directory" : "");
    if (d->tenant_reused)
        printf("gpurent: demo: tenant %s (%s), kept from an earlier demo; a new key: %s\n",
               DEMO_TENANT, d->tenant_id, d->tenant_key);
    else
        printf("gpurent: demo: tenant %s (%s) with %s of credit; its key: %s\n", DEMO_TENANT,
               d->tenant_id, DEMO_CREDIT, d->tenant_key);
    printf("gpurent: demo: try\n"
           "  export GPURENT_URL=%s GPURENT_API_KEY=%s\n"
           "  gpurent offers\n"
           "  gpurent rentals create --model A100-80G --count 2 --wait\n"
           "  gpurent balance\n",
           url, d->tenant_key);
    fflush(stdout);
    *state = d;
    return 0;
fail:
    demo_stop(d);
    return rc;
}

void demo_stop(void *state)
{
    struct demo *d = state;

    if (d == NULL)
        return;
    for (size_t i = 0; i < ARRAY_SIZE(fleet); i++)
        agent_stop(d->agents[i]);
    client_free(d->admin);
    explicit_bzero(d->tenant_key, sizeof(d->tenant_key));
    free(d);
}

const char *demo_tenant_id(const void *state)
{
    return ((const struct demo *)state)->tenant_id;
}

const char *demo_tenant_key(const void *state)
{
    return ((const struct demo *)state)->tenant_key;
}
