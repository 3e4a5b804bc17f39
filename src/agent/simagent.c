/*
 * simagent.c - the SIMULATED host agent: register, then heartbeat and reconcile.
 *
 * Three parts, so that the real agent can keep the loop and replace the rest:
 *   1. the GPU back-end (discover the GPUs, sample their telemetry): simulated here;
 *   2. the workload runtime (start, poll, stop a rental's workload): simulated here;
 *   3. the agent loop: register, heartbeat with telemetry and the rentals held, apply the
 *      reply (the desired state), fence after losing the control plane.
 * Only the agent's thread touches the GPUs and rentals; the mutex guards the status that
 * other threads read.
 */
#include "../common/compat.h"

#include "simagent.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../client/client.h"
#include "../common/err.h"

#define MAX_RENTALS          64 /* held at once: starting, running and exited ones */
#define RENTAL_ID_MAX        48
#define REQUEST_TIMEOUT_MS   10000
#define REGISTER_BACKOFF_MS  200 /* first retry; doubles up to the max */
#define REGISTER_BACKOFF_MAX 2000

/* A GPU as the agent knows it: its identity and its latest telemetry. */
struct agent_gpu {
    unsigned index;
    char uuid[96];
    unsigned memory_mib;
    unsigned nvlink_island;
    int rental;      /* the slot of the rental using it, or -1 */
    double util_pct; /* telemetry: 0..100 */
    double mem_used_mib;
    double power_w;
    double temp_c;
};

enum rental_state { R_STARTING, R_RUNNING, R_EXITED };

/* A rental the host holds. */
struct agent_rental {
    bool used;
    char id[RENTAL_ID_MAX];
    bool has_epoch;
    int64_t epoch;
    uint32_t gpu_mask; /* bit i: GPU index i */
    enum rental_state state;
    int exit_code;         /* R_EXITED */
    uint64_t received_hb;  /* the heartbeat whose reply asked for it */
    int64_t started_ms;    /* when it became running */
    int64_t exit_after_ms; /* simulated workloads: run this long, then exit; -1 = never */
    int sim_exit_code;
    bool seen; /* in the current reply's run list */
};

struct simagent;

/* Discovering GPUs and sampling their telemetry: NVML in the real agent. */
struct gpu_backend_ops {
    const char *name;
    /* Fill a->gpus and a->gpu_count: 0 or an ERR_* code. */
    int (*discover)(struct simagent *a);
    /* Refresh every GPU's telemetry; dt_s seconds since the last sample. */
    void (*sample)(struct simagent *a, double dt_s);
};

/* Running workloads: exec or docker in the real agent. */
struct runtime_ops {
    const char *name;
    /* Begin r's workload (r->state is R_STARTING); workload may be NULL. */
    void (*start)(struct simagent *a, struct agent_rental *r, const void *workload);
    /* Advance r: starting -> running, running -> exited. */
    void (*poll)(struct simagent *a, struct agent_rental *r, int64_t now_ms);
    /* Kill r's workload. */
    void (*stop)(struct simagent *a, struct agent_rental *r);
};

struct simagent {
    /* configuration (immutable after start) */
    char hostname[SIMAGENT_HOSTNAME_MAX];
    char model[64];
    unsigned want_gpus;
    unsigned memory_mib;
    unsigned heartbeat_ms;
    char *join_token; /* owned; wiped after registering; NULL when resuming */
    const struct gpu_backend_ops *gpu_ops;
    const struct runtime_ops *runtime;

    /* the agent thread's own state */
    struct client *client; /* owned */
    struct agent_gpu gpus[SIMAGENT_MAX_GPUS];
    unsigned gpu_count;
    struct agent_rental rentals[MAX_RENTALS];
    uint64_t heartbeat_seq;
    int64_t last_contact_ms; /* the last heartbeat answered 2xx */
    int64_t last_sample_ms;
    uint64_t rng;
    bool failing; /* heartbeats are failing (logged once per episode) */

    /* shared: guarded by lock */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    struct simagent_status status;
};

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: a small deterministic generator per agent (seeded from the hostname). */
static double rnd(struct simagent *a)
{
    a->rng ^= a->rng >> 12;
    a->rng ^= a->rng << 25;
    a->rng ^= a->rng >> 27;
    return (double)((a->rng * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

/* status.error = "what: detail" */
static void set_error(struct simagent *a, const char *what, const char *detail)
{
    pthread_mutex_lock(&a->lock);
    snprintf(a->status.error, sizeof(a->status.error), "%s: %s", what, detail);
    pthread_mutex_unlock(&a->lock);
}

/* ---- 1. the simulated GPU back-end --------------------------------------------------- */

/* Rated board power of a model, for the synthetic power draw. */
static double rated_watts(const char *model)
{
    if (strstr(model, "H100") != NULL || strstr(model, "H200") != NULL)
        return 700;
    if (strstr(model, "A100") != NULL)
        return 400;
    return 300;
}

static int sim_discover(struct simagent *a)
{
    for (unsigned i = 0; i < a->want_gpus; i++) {
        struct agent_gpu *g = &a->gpus[i];

        memset(g, 0, sizeof(*g));
        g->index = i;
        snprintf(g->uuid, sizeof(g->uuid), "GPU-SIM-%s-%u", a->hostname, i);
        g->memory_mib = a->memory_mib;
        g->nvlink_island = i / 8; /* an HGX board: 8 GPUs on one NVSwitch */
        g->rental = -1;
        g->temp_c = 30;
        g->power_w = rated_watts(a->model) * 0.15;
    }
    a->gpu_count = a->want_gpus;
    return 0;
}

/* Telemetry moves toward a target: busy GPUs at 85-99 %, idle ones at rest. */
static void sim_sample(struct simagent *a, double dt_s)
{
    double rated = rated_watts(a->model), k = dt_s >= 3 ? 1 : dt_s / 3;

    for (unsigned i = 0; i < a->gpu_count; i++) {
        struct agent_gpu *g = &a->gpus[i];
        bool busy = g->rental >= 0 && a->rentals[g->rental].state == R_RUNNING;
        double util = busy ? 85 + 14 * rnd(a) : 0;
        double mem = busy ? g->memory_mib * (0.70 + 0.2 * rnd(a)) : 0;
        double power = rated * (0.15 + 0.80 * util / 100) + 5 * rnd(a);
        double temp = 30 + 0.45 * util + 2 * rnd(a);

        g->util_pct = util; /* utilization jumps; the physical quantities lag */
        g->mem_used_mib = mem;
        g->power_w += (power - g->power_w) * k;
        g->temp_c += (temp - g->temp_c) * k;
    }
}

static const struct gpu_backend_ops sim_gpu_ops = {"simulated", sim_discover, sim_sample};

/* ---- 2. the simulated workload runtime ----------------------------------------------- */

/* `sleep N`, `true`, `false`: how long the simulated workload runs and how it exits. */
static void sim_start(struct simagent *a, struct agent_rental *r, const void *workload)
{
    const json_t *cmd = json_object_get((const json_t *)workload, "command");
    const char *argv0 = json_string_value(json_array_get(cmd, 0));
    const char *arg1 = json_string_value(json_array_get(cmd, 1));
    char *end;

    (void)a;
    r->exit_after_ms = -1;
    r->sim_exit_code = 0;
    if (argv0 == NULL)
        return;
    if (strcmp(argv0, "sleep") == 0 && arg1 != NULL) {
        double s = strtod(arg1, &end);

        if (end != arg1 && *end == '\0' && s >= 0 && s < 1e9)
            r->exit_after_ms = (int64_t)(s * 1000);
    } else if (strcmp(argv0, "true") == 0) {
        r->exit_after_ms = 1;
    } else if (strcmp(argv0, "false") == 0) {
        r->exit_after_ms = 1;
        r->sim_exit_code = 1;
    }
}

static void sim_poll(struct simagent *a, struct agent_rental *r, int64_t t)
{
    if (r->state == R_STARTING && a->heartbeat_seq > r->received_hb) {
        r->state = R_RUNNING; /* "started": one heartbeat after it was asked for */
        r->started_ms = t;
    } else if (r->state == R_RUNNING && r->exit_after_ms >= 0 &&
               t - r->started_ms >= r->exit_after_ms) {
        r->state = R_EXITED;
        r->exit_code = r->sim_exit_code;
    }
}

static void sim_stop(struct simagent *a, struct agent_rental *r)
{
    (void)a;
    (void)r; /* nothing runs: nothing to kill */
}

static const struct runtime_ops sim_runtime = {"simulated", sim_start, sim_poll, sim_stop};

/* ---- 3. the agent loop --------------------------------------------------------------- */

static struct agent_rental *find_rental(struct simagent *a, const char *id)
{
    for (size_t i = 0; i < MAX_RENTALS; i++) {
        if (a->rentals[i].used && strcmp(a->rentals[i].id, id) == 0)
            return &a->rentals[i];
    }
    return NULL;
}

static void release_gpus(struct simagent *a, int slot)
{
    for (unsigned i = 0; i < a->gpu_count; i++) {
        if (a->gpus[i].rental == slot)
            a->gpus[i].rental = -1;
    }
}

static void drop_rental(struct simagent *a, struct agent_rental *r)
{
    a->runtime->stop(a, r);
    release_gpus(a, (int)(r - a->rentals));
    memset(r, 0, sizeof(*r));
}

static unsigned held_rentals(const struct simagent *a)
{
    unsigned n = 0;

    for (size_t i = 0; i < MAX_RENTALS; i++)
        n += a->rentals[i].used;
    return n;
}

/* The desired state's `run` entry: start what is new (or re-assigned with a new epoch). */
static void apply_run(struct simagent *a, const json_t *e)
{
    const char *id = json_string_value(json_object_get(e, "rental_id"));
    const json_t *epoch = json_object_get(e, "epoch"), *idx = json_object_get(e, "gpu_indices");
    struct agent_rental *r;
    uint32_t mask = 0;
    size_t i;
    json_t *v;

    if (id == NULL || strlen(id) >= RENTAL_ID_MAX)
        return;
    json_array_foreach(idx, i, v)
    {
        json_int_t n = json_integer_value(v);

        if (json_is_integer(v) && n >= 0 && (unsigned)n < a->gpu_count)
            mask |= UINT32_C(1) << n;
    }
    r = find_rental(a, id);
    if (r != NULL) {
        r->seen = true;
        if (!json_is_integer(epoch) || (r->has_epoch && json_integer_value(epoch) == r->epoch))
            return;        /* already ours: level-triggered, nothing to do */
        drop_rental(a, r); /* a new assignment of the same rental: start afresh */
    }
    for (r = NULL, i = 0; i < MAX_RENTALS && r == NULL; i++) {
        if (!a->rentals[i].used)
            r = &a->rentals[i];
    }
    if (r == NULL)
        return; /* full: it is asked for again on the next reply */
    r->used = true;
    r->seen = true;
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->has_epoch = json_is_integer(epoch);
    r->epoch = r->has_epoch ? json_integer_value(epoch) : 0;
    r->gpu_mask = mask;
    r->state = R_STARTING;
    r->received_hb = a->heartbeat_seq;
    for (unsigned g = 0; g < a->gpu_count; g++) {
        if (mask & (UINT32_C(1) << a->gpus[g].index))
            a->gpus[g].rental = (int)(r - a->rentals);
    }
    a->runtime->start(a, r, json_object_get(e, "workload"));
}

/* Apply a heartbeat reply {run:[...], stop:[...]}. */
static void reconcile(struct simagent *a, const json_t *reply)
{
    const json_t *run = json_object_get(reply, "run"), *stop = json_object_get(reply, "stop");
    size_t i;
    json_t *e;

    for (i = 0; i < MAX_RENTALS; i++)
        a->rentals[i].seen = false;
    json_array_foreach(run, i, e)
    {
        apply_run(a, e);
    }
    json_array_foreach(stop, i, e)
    {
        const char *id = json_is_string(e) ? json_string_value(e)
                                           : json_string_value(json_object_get(e, "rental_id"));
        struct agent_rental *r = id ? find_rental(a, id) : NULL;

        if (r != NULL)
            drop_rental(a, r);
    }
    /* an exited workload the server no longer wants is forgotten */
    for (i = 0; i < MAX_RENTALS; i++) {
        if (a->rentals[i].used && a->rentals[i].state == R_EXITED && !a->rentals[i].seen)
            drop_rental(a, &a->rentals[i]);
    }
}

static json_t *heartbeat_body(struct simagent *a)
{
    static const char *const names[] = {"starting", "running", "exited"};
    json_t *body = json_object(), *tel = json_array(), *rent = json_array();

    if (body == NULL || tel == NULL || rent == NULL) {
        json_decref(body);
        json_decref(tel);
        json_decref(rent);
        return NULL;
    }
    json_object_set_new(body, "telemetry", tel);
    json_object_set_new(body, "rentals", rent);
    for (unsigned i = 0; i < a->gpu_count; i++) {
        const struct agent_gpu *g = &a->gpus[i];

        json_array_append_new(tel, json_pack("{s:s,s:I,s:I,s:I,s:I}", "uuid", g->uuid, "util_pct",
                                             (json_int_t)(g->util_pct + 0.5), "mem_used_mib",
                                             (json_int_t)g->mem_used_mib, "power_w",
                                             (json_int_t)(g->power_w + 0.5), "temp_c",
                                             (json_int_t)(g->temp_c + 0.5)));
    }
    for (size_t i = 0; i < MAX_RENTALS; i++) {
        const struct agent_rental *r = &a->rentals[i];
        json_t *o;

        if (!r->used)
            continue;
        o = json_pack("{s:s,s:s}", "id", r->id, "state", names[r->state]);
        if (o == NULL)
            continue;
        if (r->has_epoch)
            json_object_set_new(o, "epoch", json_integer(r->epoch));
        if (r->state == R_EXITED)
            json_object_set_new(o, "exit_code", json_integer(r->exit_code));
        json_array_append_new(rent, o);
    }
    return body;
}

/* Sleep until deadline (monotonic ms) or until stopped: true when stopping. */
static bool wait_until(struct simagent *a, int64_t deadline)
{
    struct timespec ts;
    bool stopping;

    ts.tv_sec = deadline / 1000;
    ts.tv_nsec = (deadline % 1000) * 1000000L;
    pthread_mutex_lock(&a->lock);
    while (!a->stopping && now_ms() < deadline) {
        if (pthread_cond_timedwait(&a->wake, &a->lock, &ts) == ETIMEDOUT)
            break;
    }
    stopping = a->stopping;
    pthread_mutex_unlock(&a->lock);
    return stopping;
}

/* Register (retrying while the server cannot be reached): 0, or -1 (refused or stopping). */
static int register_host(struct simagent *a)
{
    json_t *body = NULL, *gpus, *reply = NULL;
    int64_t backoff = REGISTER_BACKOFF_MS;
    const char *host, *key;
    int status, rc = -1;

    body =
        json_pack("{s:s,s:s,s:[]}", "join_token", a->join_token, "hostname", a->hostname, "gpus");
    if (body == NULL)
        goto fail_nomem;
    gpus = json_object_get(body, "gpus");
    for (unsigned i = 0; i < a->gpu_count; i++) {
        const struct agent_gpu *g = &a->gpus[i];

        if (json_array_append_new(
                gpus, json_pack("{s:I,s:s,s:s,s:I,s:I}", "index", (json_int_t)g->index, "uuid",
                                g->uuid, "model", a->model, "memory_mib", (json_int_t)g->memory_mib,
                                "nvlink_island", (json_int_t)g->nvlink_island)) != 0)
            goto fail_nomem;
    }
    for (;;) {
        int err = client_request(a->client, "POST", "/v1/agent/register", body, &status, &reply);

        if (err == 0)
            break;
        set_error(a, "register", client_errmsg());
        json_decref(reply);
        reply = NULL;
        if (status >= 400 && status < 500) {
            fprintf(stderr, "gpurent: simagent %s: cannot register: %s\n", a->hostname,
                    client_errmsg());
            goto out;
        }
        if (wait_until(a, now_ms() + backoff))
            goto out;
        backoff = backoff * 2 > REGISTER_BACKOFF_MAX ? REGISTER_BACKOFF_MAX : backoff * 2;
    }
    host = json_string_value(json_object_get(reply, "host_id"));
    key = json_string_value(json_object_get(reply, "agent_key"));
    if (host == NULL || key == NULL) {
        set_error(a, "register", "the reply has no host_id or agent_key");
        goto out;
    }
    if (client_set_key(a->client, key) != 0) {
        set_error(a, "register", client_errmsg());
        goto out;
    }
    pthread_mutex_lock(&a->lock);
    snprintf(a->status.host_id, sizeof(a->status.host_id), "%s", host);
    a->status.phase = SIMAGENT_RUNNING;
    a->status.error[0] = '\0';
    pthread_mutex_unlock(&a->lock);
    rc = 0;
    goto out;
fail_nomem:
    set_error(a, "register", "out of memory");
out:
    /* the token is spent (or refused): keep no copy of it */
    explicit_bzero(a->join_token, strlen(a->join_token));
    json_decref(body);
    json_decref(reply);
    return rc;
}

static void heartbeat(struct simagent *a)
{
    int64_t t = now_ms();
    json_t *body, *reply = NULL;
    int status, rc;

    a->heartbeat_seq++;
    for (size_t i = 0; i < MAX_RENTALS; i++) {
        if (a->rentals[i].used)
            a->runtime->poll(a, &a->rentals[i], t);
    }
    if (t - a->last_contact_ms > SIMAGENT_FENCE_MS && held_rentals(a) > 0) {
        fprintf(stderr,
                "gpurent: simagent %s: no contact with the control plane for %d s: stopping "
                "every workload (fenced)\n",
                a->hostname, SIMAGENT_FENCE_MS / 1000);
        for (size_t i = 0; i < MAX_RENTALS; i++) {
            if (a->rentals[i].used)
                drop_rental(a, &a->rentals[i]);
        }
    }
    a->gpu_ops->sample(a, (double)(t - a->last_sample_ms) / 1000.0);
    a->last_sample_ms = t;
    body = heartbeat_body(a);
    if (body == NULL) {
        set_error(a, "heartbeat", "out of memory");
        return;
    }
    rc = client_request(a->client, "POST", "/v1/agent/heartbeat", body, &status, &reply);
    json_decref(body);
    if (rc == 0) {
        a->last_contact_ms = t;
        reconcile(a, reply);
        if (a->failing)
            fprintf(stderr, "gpurent: simagent %s: heartbeats answered again\n", a->hostname);
        a->failing = false;
    } else {
        if (!a->failing)
            fprintf(stderr, "gpurent: simagent %s: heartbeat failed: %s\n", a->hostname,
                    client_errmsg());
        a->failing = true;
        set_error(a, "heartbeat", client_errmsg());
    }
    pthread_mutex_lock(&a->lock);
    if (rc == 0)
        a->status.heartbeats_ok++;
    else
        a->status.heartbeats_failed++;
    a->status.rentals = held_rentals(a);
    pthread_mutex_unlock(&a->lock);
    json_decref(reply);
}

static void *agent_main(void *arg)
{
    struct simagent *a = arg;
    int64_t next;

    if (a->join_token != NULL && register_host(a) != 0) {
        pthread_mutex_lock(&a->lock);
        a->status.phase = SIMAGENT_FAILED;
        pthread_mutex_unlock(&a->lock);
        return NULL;
    }
    a->last_contact_ms = a->last_sample_ms = now_ms();
    next = now_ms();
    for (;;) {
        int64_t t;

        heartbeat(a);
        t = now_ms();
        next += a->heartbeat_ms;
        if (next < t) /* fell behind (a slow server): keep the period from now */
            next = t + a->heartbeat_ms;
        if (wait_until(a, next))
            break;
    }
    return NULL;
}

static void agent_free(struct simagent *a)
{
    if (a == NULL)
        return;
    client_free(a->client);
    if (a->join_token != NULL) {
        explicit_bzero(a->join_token, strlen(a->join_token));
        free(a->join_token);
    }
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int simagent_start(struct simagent **out, const char *server_url, const char *join_token,
                   const char *hostname, unsigned gpu_count, const char *model, unsigned memory_mib,
                   unsigned heartbeat_ms)
{
    struct simagent_config cfg = {
        .server_url = server_url,
        .join_token = join_token,
        .hostname = hostname,
        .model = model,
        .gpu_count = gpu_count,
        .memory_mib = memory_mib,
        .heartbeat_ms = heartbeat_ms,
    };

    if (join_token == NULL || *join_token == '\0')
        return ERR_INVALID;
    return simagent_start_with(out, &cfg);
}

static bool nonempty(const char *s, size_t max)
{
    return s != NULL && *s != '\0' && strlen(s) < max;
}

int simagent_start_with(struct simagent **out, const struct simagent_config *cfg)
{
    bool resume = cfg->agent_key != NULL;
    struct simagent *a = NULL;
    pthread_condattr_t ca;
    int rc;

    if (cfg->server_url == NULL || !nonempty(cfg->hostname, SIMAGENT_HOSTNAME_MAX) ||
        !nonempty(cfg->model, sizeof(a->model)) || cfg->gpu_count == 0 ||
        cfg->gpu_count > SIMAGENT_MAX_GPUS || cfg->memory_mib == 0 || cfg->heartbeat_ms < 100 ||
        cfg->heartbeat_ms > 600000)
        return ERR_INVALID;
    if (resume ? !nonempty(cfg->agent_key, 256) || !nonempty(cfg->host_id, 32)
               : !nonempty(cfg->join_token, 256))
        return ERR_INVALID;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return ERR_NOMEM;
    pthread_mutex_init(&a->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->wake, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(a->hostname, sizeof(a->hostname), "%s", cfg->hostname);
    snprintf(a->model, sizeof(a->model), "%s", cfg->model);
    a->want_gpus = cfg->gpu_count;
    a->memory_mib = cfg->memory_mib;
    a->heartbeat_ms = cfg->heartbeat_ms;
    a->gpu_ops = &sim_gpu_ops;
    a->runtime = &sim_runtime;
    a->rng = UINT64_C(0x9E3779B97F4A7C15);
    for (const char *p = cfg->hostname; *p; p++)
        a->rng = (a->rng ^ (unsigned char)*p) * UINT64_C(0x100000001B3);
    rc = client_new(&a->client, cfg->server_url, resume ? cfg->agent_key : NULL);
    if (rc != 0)
        goto fail;
    rc = ERR_NOMEM;
    if (resume) {
        snprintf(a->status.host_id, sizeof(a->status.host_id), "%s", cfg->host_id);
        a->status.phase = SIMAGENT_RUNNING;
    } else if ((a->join_token = strdup(cfg->join_token)) == NULL) {
        goto fail;
    }
    client_set_timeout_ms(a->client, REQUEST_TIMEOUT_MS);
    client_set_reply_max(a->client, 4 * 1024 * 1024);
    rc = a->gpu_ops->discover(a);
    if (rc != 0)
        goto fail;
    if (pthread_create(&a->thread, NULL, agent_main, a) != 0) {
        rc = ERR_NOMEM;
        goto fail;
    }
    *out = a;
    return 0;
fail:
    agent_free(a);
    return rc;
}

void simagent_stop(struct simagent *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    agent_free(a);
}

void simagent_status(struct simagent *a, struct simagent_status *out)
{
    pthread_mutex_lock(&a->lock);
    *out = a->status;
    pthread_mutex_unlock(&a->lock);
}

int simagent_wait_registered(struct simagent *a, unsigned timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    struct simagent_status st;

    for (;;) {
        simagent_status(a, &st);
        if (st.phase == SIMAGENT_RUNNING)
            return 0;
        if (st.phase == SIMAGENT_FAILED)
            return ERR_INVALID;
        if (now_ms() >= deadline)
            return ERR_IO;
        {
            struct timespec ts = {0, 20 * 1000000L};

            nanosleep(&ts, NULL);
        }
    }
}
