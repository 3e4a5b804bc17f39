/*
 * agent.c - `gpurent agent`: register, then heartbeat and reconcile (see agent.h).
 *
 * One thread. Each round: poll the workloads, fence when the control plane has been
 * unreachable too long, sample the GPUs, heartbeat, apply the reply. A SIGTERM or SIGINT
 * ends the loop between rounds and leaves the workloads running for the next agent.
 */
#include "../common/compat.h"

#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../client/client.h"
#include "../common/err.h"
#include "gpu.h"
#include "runtime.h"

#define EXIT_USAGE           2
#define HELD_MAX             RUNTIME_ADOPT_MAX
#define REQUEST_TIMEOUT_MS   10000
#define REGISTER_BACKOFF_MAX 5000
#define ENV_MAX              256 /* workload env entries */
#define ARGV_MAX             256 /* workload command words */
#define KEY_MAX              256

static const char agent_usage[] =
    "usage: gpurent agent --server URL --join-token T [--data-dir D] [--gpus nvml|sim:NxMODEL]\n"
    "                     [--heartbeat-interval S] [--fence-after S] [--stop-grace S]\n"
    "                     [--runtime exec|docker|sim] [--hostname H] [--list-gpus]\n"
    "\n"
    "Run the host agent of a GPU server: register with the control plane (once: the\n"
    "credentials are kept in DATA/agent.json), heartbeat with telemetry and the rentals it\n"
    "runs, run what the control plane asks for and stop the rest.\n"
    "\n"
    "  --server URL              the control plane (http://host:port)\n"
    "  --join-token T            a one-use token (gpurent hosts join-token); not needed\n"
    "                            once registered\n"
    "  --data-dir D              credentials, workload state and logs (./gpurent-agent)\n"
    "  --gpus nvml|sim:NxMODEL   NVIDIA's NVML (default), or a SIMULATED host such as\n"
    "                            sim:8xA100-80G\n"
    "  --heartbeat-interval S    seconds between heartbeats (5)\n"
    "  --fence-after S           stop every workload after S seconds without the control\n"
    "                            plane (240)\n"
    "  --stop-grace S            SIGTERM, then SIGKILL after S seconds (10)\n"
    "  --runtime exec|docker|sim how workloads run (exec); sim[:SECONDS] executes nothing\n"
    "                            (SIMULATED: a workload lives until stopped, or SECONDS)\n"
    "  --hostname H              the name to register (the system's host name)\n"
    "  --list-gpus               print the GPUs --gpus finds, one CSV line each, and exit\n"
    "                            (no --server needed)\n";

enum held_state { H_RUNNING, H_EXITED, H_FAILED, H_STOPPING };

/* A rental the agent holds. */
struct held {
    bool used;
    char id[RUNTIME_ID_MAX];
    int64_t epoch;
    unsigned gpus[GPU_MAX];
    unsigned gpu_count;
    enum held_state state;
    int exit_code; /* H_EXITED */
    bool fenced;   /* stopped by fencing: reported exited (-1) once gone, never restarted */
    bool notified; /* told of a spot preemption notice (SIGTERM sent) */
    /* a rental without a workload (no command, no image): its GPUs are held for the tenant
       until it is stopped, and nothing is run (a reservation, DESIGN.md "Workloads") */
    bool reserved;
    char detail[RUNTIME_DETAIL_MAX];
    bool in_run; /* listed in the latest reply's run */
    /* the control plane was told it runs: a workload that ends before that is reported
       running once first, so its start (started_at) is never lost */
    bool told_running;
    bool telling_running; /* in the heartbeat in flight */
};

enum agent_phase { PHASE_STARTING, PHASE_REGISTERED, PHASE_FAILED };

struct agent {
    /* options */
    const char *server;
    const char *join_token;
    const char *data_dir; /* NULL: no credentials file (an in-process agent) */
    const char *gpus_spec;
    const char *runtime_kind;
    char hostname[64];
    unsigned heartbeat_s, fence_s, grace_s;
    char log_prefix[128]; /* "gpurent: agent: " */
    char *copies[8];      /* strings an in-process agent owns */

    atomic_int stop; /* end the loop between rounds */
    /* a self-pipe: a byte in wake[1] (a workload exited: SIGCHLD; or stop) gives up the
       long-poll in flight, so that an exit is reported at once; -1 when none */
    int wake[2];
    /* an in-process agent (agent_start): its thread and what agent_wait_registered reads */
    pthread_t thread;
    bool threaded;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum agent_phase phase;
    char failure[256];
    char key[KEY_MAX]; /* given credentials (agent_config.agent_key) */

    struct client *client; /* owned */
    struct gpu_backend gpu;
    struct gpu_info gpus[GPU_MAX];
    unsigned gpu_count;
    struct runtime *rt; /* owned */
    struct held held[HELD_MAX];
    char host_id[64];
    int64_t last_ok_ms; /* the last heartbeat answered 2xx */
    int64_t last_sample_ms;
    bool failing;      /* heartbeats are failing: logged once per episode */
    bool more_to_tell; /* the heartbeat being sent leaves news for the next: do not wait */
    bool fenced;
};

static atomic_int *_Atomic signal_stop; /* the `gpurent agent` process's own agent */
static atomic_int signal_wake = -1;     /* and its wake[1] */

static void wake_up(int fd)
{
    int saved = errno;

    if (fd >= 0 && write(fd, "w", 1) < 0) {
        /* full: a wake-up is pending anyway */
    }
    errno = saved;
}

static void on_signal(int sig)
{
    atomic_int *stop = atomic_load(&signal_stop);

    if (sig != SIGCHLD && stop != NULL)
        atomic_store(stop, 1);
    wake_up(atomic_load(&signal_wake));
}

static void drain_wake(struct agent *a)
{
    char junk[64];

    while (a->wake[0] >= 0 && read(a->wake[0], junk, sizeof(junk)) > 0) {
    }
}

__attribute__((format(printf, 2, 3))) static void alog(const struct agent *a, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s\n", a->log_prefix, line); /* one write: threads do not interleave */
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep until deadline, waking for a signal: true when asked to stop. */
static bool sleep_until(struct agent *a, int64_t deadline)
{
    while (!atomic_load(&a->stop) && now_ms() < deadline) {
        int64_t left = deadline - now_ms();
        struct timespec ts = {0, (left > 100 ? 100 : left) * 1000000L};

        nanosleep(&ts, NULL);
    }
    return atomic_load(&a->stop) != 0;
}

/* ---- credentials: DATA/agent.json ----------------------------------------------------- */

static void creds_path(char *buf, size_t len, const struct agent *a)
{
    snprintf(buf, len, "%s/agent.json", a->data_dir);
}

/* 0 and the key in a->key (and a->host_id), 1 when there is no file, -1 when it is unusable. */
static int creds_load(struct agent *a)
{
    char *key = a->key;
    size_t keylen = sizeof(a->key);
    char path[4096];
    json_error_t jerr;
    const char *host, *k, *server;
    json_t *j;

    if (a->key[0] != '\0') /* given (an in-process agent) */
        return 0;
    if (a->data_dir == NULL)
        return 1;
    creds_path(path, sizeof(path), a);
    if (access(path, F_OK) != 0)
        return 1;
    j = json_load_file(path, 0, &jerr);
    host = json_string_value(json_object_get(j, "host_id"));
    k = json_string_value(json_object_get(j, "agent_key"));
    server = json_string_value(json_object_get(j, "server"));
    if (host == NULL || k == NULL || strlen(host) >= sizeof(a->host_id) || strlen(k) >= keylen) {
        alog(a, "%s: not valid credentials (line %d: %s)", path, jerr.line,
             j == NULL ? jerr.text : "host_id or agent_key missing");
        json_decref(j);
        return -1;
    }
    if (server != NULL && strcmp(server, a->server) != 0)
        alog(a, "%s was registered with %s, not %s: using it anyway", path, server, a->server);
    snprintf(a->host_id, sizeof(a->host_id), "%s", host);
    snprintf(key, keylen, "%s", k);
    json_decref(j);
    return 0;
}

static int creds_save(const struct agent *a, const char *key)
{
    char path[4096], tmp[4200], *text;
    json_t *j;
    int fd, rc = -1;
    size_t n;

    if (a->data_dir == NULL)
        return 0; /* an in-process agent keeps them in memory */
    creds_path(path, sizeof(path), a);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    j = json_pack("{s:s,s:s,s:s}", "host_id", a->host_id, "agent_key", key, "server", a->server);
    text = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (text == NULL)
        return -1;
    n = strlen(text);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, text, n) == (ssize_t)n &&
        write(fd, "\n", 1) == 1 && fsync(fd) == 0)
        rc = 0;
    if (fd >= 0 && close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    explicit_bzero(text, n);
    free(text);
    return rc;
}

/* ---- registration ------------------------------------------------------------------------ */

/* A random number for backoff jitter (not a secret: any value will do if getrandom fails). */
static uint32_t random_u32(void)
{
    uint32_t r = 0;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
        r = (uint32_t)now_ms();
    return r;
}

/* 0 registered (credentials saved), -1 refused or stopping. */
static int agent_register(struct agent *a)
{
    json_t *body, *gpus, *reply = NULL;
    int64_t backoff = 500;
    const char *host, *key;
    int status = 0, rc = -1;

    body =
        json_pack("{s:s,s:s,s:[]}", "join_token", a->join_token, "hostname", a->hostname, "gpus");
    if (body == NULL)
        return -1;
    gpus = json_object_get(body, "gpus");
    for (unsigned i = 0; i < a->gpu_count; i++) {
        const struct gpu_info *g = &a->gpus[i];

        json_array_append_new(gpus, json_pack("{s:I,s:s,s:s,s:I,s:I}", "index",
                                              (json_int_t)g->index, "uuid", g->uuid, "model",
                                              g->model, "memory_mib", (json_int_t)g->memory_mib,
                                              "nvlink_island", (json_int_t)g->nvlink_island));
    }
    for (;;) {
        if (client_request(a->client, "POST", "/v1/agent/register", body, &status, &reply) == 0)
            break;
        json_decref(reply);
        reply = NULL;
        /* 429: the control plane's rate limit (many hosts joining at once from one
         * address); nothing was done, so the same request is retried after a backoff */
        if (status >= 400 && status < 500 && status != 429) {
            alog(a, "cannot register: %s", client_errmsg());
            pthread_mutex_lock(&a->mu);
            snprintf(a->failure, sizeof(a->failure), "cannot register: %s", client_errmsg());
            pthread_mutex_unlock(&a->mu);
            goto out;
        }
        alog(a, "cannot register yet: %s (retrying)", client_errmsg());
        /* half to all of the backoff, so hosts refused together do not retry together */
        if (sleep_until(a, now_ms() + backoff / 2 +
                               (int64_t)(random_u32() % (uint32_t)(backoff / 2 + 1))))
            goto out;
        backoff = backoff * 2 > REGISTER_BACKOFF_MAX ? REGISTER_BACKOFF_MAX : backoff * 2;
    }
    host = json_string_value(json_object_get(reply, "host_id"));
    key = json_string_value(json_object_get(reply, "agent_key"));
    if (host == NULL || key == NULL || strlen(host) >= sizeof(a->host_id)) {
        alog(a, "the register reply has no host_id or agent_key");
        goto out;
    }
    snprintf(a->host_id, sizeof(a->host_id), "%s", host);
    if (creds_save(a, key) != 0)
        alog(a, "cannot save %s/agent.json: a restart will need a new join token", a->data_dir);
    if (client_set_key(a->client, key) != 0)
        goto out;
    alog(a, "registered as host %s (%u GPUs, %s)", a->host_id, a->gpu_count, a->gpu.ops->name);
    rc = 0;
out:
    json_decref(body);
    json_decref(reply);
    return rc;
}

/* ---- the rentals held --------------------------------------------------------------------- */

static struct held *find_held(struct agent *a, const char *id)
{
    for (size_t i = 0; i < HELD_MAX; i++) {
        if (a->held[i].used && strcmp(a->held[i].id, id) == 0)
            return &a->held[i];
    }
    return NULL;
}

static struct held *new_held(struct agent *a, const char *id, int64_t epoch)
{
    for (size_t i = 0; i < HELD_MAX; i++) {
        struct held *h = &a->held[i];

        if (!h->used) {
            memset(h, 0, sizeof(*h));
            h->used = true;
            snprintf(h->id, sizeof(h->id), "%.*s", (int)sizeof(h->id) - 1, id);
            h->epoch = epoch;
            return h;
        }
    }
    return NULL;
}

static void forget_held(struct agent *a, struct held *h)
{
    if (!h->reserved)
        a->rt->ops->forget(a->rt, h->id);
    memset(h, 0, sizeof(*h));
}

static void begin_stop(struct agent *a, struct held *h, const char *why)
{
    if (h->state == H_RUNNING) {
        alog(a, "stopping %s (%s)", h->id, why);
        if (!h->reserved)
            a->rt->ops->stop(a->rt, h->id);
        h->state = H_STOPPING;
    } else if (h->state != H_STOPPING) {
        forget_held(a, h); /* nothing runs */
    }
}

/* Advance every held rental: running -> exited, stopping -> gone. */
static void poll_all(struct agent *a)
{
    for (size_t i = 0; i < HELD_MAX; i++) {
        struct held *h = &a->held[i];
        enum runtime_state st;
        int code = -1;

        if (!h->used || (h->state != H_RUNNING && h->state != H_STOPPING))
            continue;
        if (h->reserved) /* nothing runs: held until stopped, gone once stopping */
            st = h->state == H_RUNNING ? RUNTIME_ALIVE : RUNTIME_EXITED;
        else
            st = a->rt->ops->poll(a->rt, h->id, &code);
        if (st == RUNTIME_ALIVE)
            continue;
        if (h->state == H_STOPPING && h->fenced) {
            /* the control plane must learn that it no longer runs: report it exited (-1)
               rather than start it afresh under the same assignment when contact returns */
            h->state = H_EXITED;
            h->exit_code = -1;
            h->fenced = false;
            h->told_running = true; /* its start was told, or is moot: the exit is what counts */
        } else if (h->state == H_STOPPING) {
            forget_held(a, h);
        } else {
            h->state = H_EXITED;
            h->exit_code = st == RUNTIME_EXITED ? code : -1;
            alog(a, "%s exited with %d", h->id, h->exit_code);
        }
    }
}

/* Start the run entry e for h (new): h becomes running or failed. */
static void start_held(struct agent *a, struct held *h, const json_t *e)
{
    const json_t *w = json_object_get(e, "workload"), *cmd = json_object_get(w, "command");
    const json_t *env = json_object_get(w, "env"), *v;
    const char *argv[ARGV_MAX + 1] = {NULL}, *envp[ENV_MAX + 1] = {NULL};
    char *env_store[ENV_MAX] = {NULL};
    struct workload_spec spec = {0};
    size_t i = 0, n = 0;
    const char *k;
    int rc;

    /* a rental without a workload holds its GPUs until it is stopped: a reservation, the
       same in every runtime (nothing is started; it is reported running, so it bills) */
    if (json_array_size(cmd) == 0 && json_string_length(json_object_get(w, "image")) == 0) {
        h->state = H_RUNNING;
        h->reserved = true;
        alog(a, "holding GPUs for %s (no workload: a reservation)", h->id);
        goto out;
    }
    if (json_array_size(cmd) > ARGV_MAX) {
        h->state = H_FAILED;
        snprintf(h->detail, sizeof(h->detail), "workload.command: more than %d arguments",
                 ARGV_MAX);
        goto out;
    }
    json_array_foreach(cmd, i, v)
    {
        argv[i] = json_string_value(v);
        if (argv[i] == NULL) {
            h->state = H_FAILED;
            snprintf(h->detail, sizeof(h->detail), "workload.command[%zu]: not a string", i);
            goto out;
        }
    }
    json_object_foreach((json_t *)env, k, v)
    {
        if (n >= ENV_MAX || !json_is_string(v) || strchr(k, '=') != NULL || *k == '\0')
            continue;
        if (asprintf(&env_store[n], "%s=%s", k, json_string_value(v)) < 0) {
            env_store[n] = NULL;
            continue;
        }
        envp[n] = env_store[n];
        n++;
    }
    spec.rental_id = h->id;
    spec.epoch = h->epoch;
    spec.gpu_indices = h->gpus;
    spec.gpu_count = h->gpu_count;
    spec.argv = argv;
    spec.env = envp;
    spec.image = json_string_value(json_object_get(w, "image"));
    spec.gpus_simulated = a->gpu.ops == &gpu_sim_ops; /* docker: no --gpus for invented GPUs */
    rc = a->rt->ops->start(a->rt, &spec, h->detail, sizeof(h->detail));
    if (rc != 0) {
        h->state = H_FAILED;
        alog(a, "%s failed to start: %s", h->id, h->detail);
    } else {
        char list[GPU_MAX * 4] = "";
        size_t used = 0;

        h->state = H_RUNNING;
        for (unsigned g = 0; g < h->gpu_count && used < sizeof(list); g++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u", g ? "," : "",
                                     h->gpus[g]);
        alog(a, "started %s on GPUs %s", h->id, list);
    }
out:
    for (size_t j = 0; j < n; j++)
        free(env_store[j]);
}

static bool gpu_listed(const unsigned *gpus, unsigned count, unsigned g)
{
    for (unsigned i = 0; i < count; i++) {
        if (gpus[i] == g)
            return true;
    }
    return false;
}

/* Apply the reply: the desired state. */
/* Apply the desired state; true when it started or stopped something. */
static bool reconcile(struct agent *a, const json_t *reply)
{
    bool acted = false;
    const json_t *run = json_object_get(reply, "run"), *stop = json_object_get(reply, "stop");
    const json_t *e;
    size_t i;

    for (size_t j = 0; j < HELD_MAX; j++)
        a->held[j].in_run = false;
    json_array_foreach(run, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "rental_id"));
        const json_t *epoch = json_object_get(e, "epoch"), *idx = json_object_get(e, "gpu_indices");
        unsigned gpus[GPU_MAX], count = 0;
        struct held *h;
        size_t k;
        json_t *v;

        /* the server always sends an epoch >= 0 (an assignment's number): an entry without
           one is not an assignment to act on */
        if (!runtime_id_ok(id) || !json_is_integer(epoch) || json_integer_value(epoch) < 0)
            continue;
        json_array_foreach(idx, k, v)
        {
            json_int_t g = json_integer_value(v);

            if (json_is_integer(v) && g >= 0 && g < (json_int_t)a->gpu_count && count < GPU_MAX &&
                !gpu_listed(gpus, count, (unsigned)g)) /* a GPU given twice is one GPU */
                gpus[count++] = (unsigned)g;
        }
        h = find_held(a, id);
        if (h != NULL) {
            h->in_run = true;
            if (json_is_integer(epoch) && json_integer_value(epoch) != h->epoch) {
                begin_stop(a, h, "re-assigned"); /* started afresh once gone */
                acted = true;
            } else if (h->state == H_RUNNING) {
                memcpy(h->gpus, gpus, sizeof(gpus[0]) * count); /* adopted ones learn theirs */
                h->gpu_count = count;
                if (!h->notified && json_is_string(json_object_get(e, "preempt_at"))) {
                    /* spot preemption notice: the workload gets SIGTERM now, its GPUs are
                       taken at preempt_at */
                    alog(a, "%s will be preempted at %s: SIGTERM", h->id,
                         json_string_value(json_object_get(e, "preempt_at")));
                    if (!h->reserved) /* a reservation runs nothing to signal */
                        a->rt->ops->notify(a->rt, h->id);
                    h->notified = true;
                }
            }
            continue;
        }
        if (a->fenced)
            continue;
        h = new_held(a, id, json_integer_value(epoch));
        if (h == NULL)
            continue; /* full: asked again next time */
        h->in_run = true;
        memcpy(h->gpus, gpus, sizeof(gpus[0]) * count);
        h->gpu_count = count;
        start_held(a, h, e);
        acted = true;
    }
    json_array_foreach(stop, i, e)
    {
        struct held *h = find_held(a, json_string_value(e) ? json_string_value(e) : "");

        if (h != NULL)
            h->in_run = false;
    }
    for (size_t j = 0; j < HELD_MAX; j++) {
        struct held *h = &a->held[j];

        if (h->used && !h->in_run && h->state != H_STOPPING) {
            begin_stop(a, h, "no longer wanted");
            acted = true;
        }
    }
    return acted;
}

/* ---- the loop ---------------------------------------------------------------------------- */

static json_t *heartbeat_body(struct agent *a)
{
    static const char *const names[] = {"running", "exited", "failed", "stopping"};
    struct gpu_sample samples[GPU_MAX];
    bool busy[GPU_MAX] = {false};
    int64_t t = now_ms();
    json_t *body, *tel, *rent;

    for (size_t i = 0; i < HELD_MAX; i++) {
        const struct held *h = &a->held[i];

        for (unsigned g = 0; h->used && h->state == H_RUNNING && g < h->gpu_count; g++)
            busy[h->gpus[g]] = true;
    }
    memset(samples, 0, sizeof(samples));
    a->gpu.ops->telemetry(&a->gpu, busy, samples, a->gpu_count,
                          (double)(t - a->last_sample_ms) / 1000.0);
    a->last_sample_ms = t;
    a->more_to_tell = false;
    body = json_pack("{s:[],s:[]}", "telemetry", "rentals");
    if (body == NULL)
        return NULL;
    tel = json_object_get(body, "telemetry");
    rent = json_object_get(body, "rentals");
    for (unsigned i = 0; i < a->gpu_count; i++)
        json_array_append_new(tel, json_pack("{s:s,s:I,s:I,s:I,s:I}", "uuid", a->gpus[i].uuid,
                                             "util_pct", (json_int_t)(samples[i].util_pct + 0.5),
                                             "mem_used_mib", (json_int_t)samples[i].mem_used_mib,
                                             "power_w", (json_int_t)(samples[i].power_w + 0.5),
                                             "temp_c", (json_int_t)(samples[i].temp_c + 0.5)));
    for (size_t i = 0; i < HELD_MAX; i++) {
        struct held *h = &a->held[i];
        bool first_running = h->used && h->state == H_EXITED && !h->told_running;
        json_t *o;

        if (!h->used || h->state == H_STOPPING)
            continue;
        h->telling_running = h->state == H_RUNNING || first_running;
        o = json_pack("{s:s,s:I,s:s}", "id", h->id, "epoch", (json_int_t)h->epoch, "state",
                      names[first_running ? H_RUNNING : h->state]);
        if (o == NULL)
            continue;
        if (first_running)
            a->more_to_tell = true; /* its exit, at once in the next heartbeat */
        else if (h->state == H_EXITED)
            json_object_set_new(o, "exit_code", json_integer(h->exit_code));
        if (h->state == H_FAILED)
            json_object_set_new(o, "detail", json_string(h->detail));
        json_array_append_new(rent, o);
    }
    return body;
}

static void fence(struct agent *a)
{
    bool any = false;

    for (size_t i = 0; i < HELD_MAX; i++) {
        struct held *h = &a->held[i];

        /* a reservation runs nothing, so nothing of it can run unpaid: it is kept, and
           resumes with the others when contact returns within lost_after */
        if (h->used && h->state == H_RUNNING && !h->reserved) {
            if (!any)
                alog(a, "no heartbeat answered for %u s: stopping every workload (fenced)",
                     a->fence_s);
            any = true;
            h->fenced = true;
            begin_stop(a, h, "fenced");
        }
    }
    a->fenced = true;
}

/*
 * One heartbeat. It is a long-poll (?wait=interval): the control plane holds the reply until
 * it has something for this host, so a placement reaches the agent at once, not at the next
 * heartbeat. Returns true when the reply made the agent start or stop something: its new
 * states are then reported at once.
 */
static bool round_once(struct agent *a)
{
    json_t *body, *reply = NULL;
    int status = 0, rc;
    bool acted = false;
    char path[64];
    struct client_opts opts = {.wake_fd = a->wake[0]};

    drain_wake(a); /* before the poll: an exit after it wakes the heartbeat below */
    poll_all(a);
    if (now_ms() - a->last_ok_ms > (int64_t)a->fence_s * 1000)
        fence(a);
    body = heartbeat_body(a);
    if (body == NULL)
        return false;
    snprintf(path, sizeof(path), "/v1/agent/heartbeat?wait=%u",
             a->more_to_tell ? 0 : a->heartbeat_s);
    rc = client_request_opts(a->client, "POST", path, body, &opts, &status, &reply);
    json_decref(body);
    for (size_t i = 0; i < HELD_MAX; i++) {
        a->held[i].told_running |= rc == 0 && a->held[i].telling_running;
        a->held[i].telling_running = false;
    }
    if (rc == CLIENT_WOKEN)
        return true; /* a workload exited (or a stop): the next round reports it at once */
    if (rc == 0) {
        a->last_ok_ms = now_ms();
        if (a->failing || a->fenced)
            alog(a, "heartbeats answered again");
        a->failing = false;
        a->fenced = false;
        acted = reconcile(a, reply) || a->more_to_tell;
    } else if (!a->failing) {
        alog(a, "heartbeat failed: %s", client_errmsg());
        a->failing = true;
    }
    json_decref(reply);
    return acted;
}

/* Take over what a previous agent on this data directory left running. */
static void adopt(struct agent *a)
{
    struct runtime_adopted found[RUNTIME_ADOPT_MAX];
    unsigned n = 0;

    if (a->rt->ops->adopt(a->rt, found, RUNTIME_ADOPT_MAX, &n) != 0)
        return;
    for (unsigned i = 0; i < n; i++) {
        struct held *h = new_held(a, found[i].rental_id, found[i].epoch);

        if (h == NULL)
            break;
        h->state = found[i].alive ? H_RUNNING : H_EXITED;
        h->exit_code = found[i].exit_code;
        h->told_running = true; /* a previous agent reported it */
        alog(a, "%s %s", h->id,
             found[i].alive ? "adopted (still running)" : "ended while the agent was away");
    }
}

static int parse_seconds(const char *opt, const char *v, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long n;

    errno = 0;
    n = v != NULL && *v >= '0' && *v <= '9' ? strtoul(v, &end, 10) : 0;
    if (v == NULL || errno != 0 || *v < '0' || *v > '9' || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "gpurent: agent: %s: must be %u..%u seconds\n", opt, lo, hi);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

static int parse_args(struct agent *a, int argc, char **argv, bool *list_gpus)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            fputs(agent_usage, stdout);
            return 1;
        }
        if (strcmp(o, "--list-gpus") == 0) {
            *list_gpus = true;
            continue;
        }
        if (strncmp(o, "--", 2) != 0) {
            fprintf(stderr, "gpurent: agent: unexpected argument '%s'\n", o);
            return -1;
        }
        if (v == NULL) {
            fprintf(stderr, "gpurent: agent: %s needs a value\n", o);
            return -1;
        }
        i++;
        if (strcmp(o, "--server") == 0) {
            a->server = v;
        } else if (strcmp(o, "--join-token") == 0) {
            a->join_token = v;
        } else if (strcmp(o, "--data-dir") == 0) {
            a->data_dir = v;
        } else if (strcmp(o, "--gpus") == 0) {
            a->gpus_spec = v;
        } else if (strcmp(o, "--runtime") == 0) {
            a->runtime_kind = v;
        } else if (strcmp(o, "--hostname") == 0) {
            if (*v == '\0' || strlen(v) >= sizeof(a->hostname)) {
                fprintf(stderr, "gpurent: agent: --hostname: 1..63 characters\n");
                return -1;
            }
            snprintf(a->hostname, sizeof(a->hostname), "%s", v);
        } else if (strcmp(o, "--heartbeat-interval") == 0) {
            if (parse_seconds(o, v, 1, 600, &a->heartbeat_s) != 0)
                return -1;
        } else if (strcmp(o, "--fence-after") == 0) {
            if (parse_seconds(o, v, 1, 86400, &a->fence_s) != 0)
                return -1;
        } else if (strcmp(o, "--stop-grace") == 0) {
            if (parse_seconds(o, v, 0, 3600, &a->grace_s) != 0)
                return -1;
        } else {
            fprintf(stderr, "gpurent: agent: unknown option '%s'\n", o);
            return -1;
        }
    }
    if (a->server == NULL && !*list_gpus) {
        fprintf(stderr, "gpurent: agent: --server URL is required\n");
        return -1;
    }
    return 0;
}

/* Open the runtime and the GPUs and discover these: 0, or -1 with err. */
static int agent_open(struct agent *a, char *err, size_t errlen)
{
    if (runtime_new(&a->rt, a->runtime_kind, a->data_dir, a->grace_s * 1000, err, errlen) != 0 ||
        gpu_open(&a->gpu, a->gpus_spec, a->hostname, err, errlen) != 0 ||
        a->gpu.ops->discover(&a->gpu, a->gpus, &a->gpu_count, err, errlen) != 0)
        return -1;
    return 0;
}

static void set_phase(struct agent *a, enum agent_phase phase)
{
    pthread_mutex_lock(&a->mu);
    a->phase = phase;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Adopt, register (or resume with the credentials held), then heartbeat until a->stop. */
static int agent_loop(struct agent *a, bool registered)
{
    adopt(a);
    if (registered)
        alog(a, "host %s (%s), %u GPUs (%s)", a->host_id,
             a->data_dir != NULL ? "from DATA/agent.json" : "credentials given", a->gpu_count,
             a->gpu.ops->name);
    else if (agent_register(a) != 0)
        return -1;
    set_phase(a, PHASE_REGISTERED);
    a->last_ok_ms = a->last_sample_ms = now_ms();
    for (unsigned quick = 0; !atomic_load(&a->stop);) {
        int64_t start = now_ms();
        bool acted = round_once(a);
        bool held = now_ms() - start >= (int64_t)a->heartbeat_s * 1000 - 500;

        /* acted: report the new states at once. A reply held to its deadline (long-poll)
           paced itself. A quick reply with nothing to do (the host changed as our own report
           landed) is followed by one more heartbeat at once, which the control plane then
           holds; a second one in a row means it does not hold them (or fails): wait out the
           interval */
        if (a->failing || (!acted && !held && ++quick > 1)) {
            quick = 0;
            sleep_until(a, start + (int64_t)a->heartbeat_s * 1000);
        } else if (acted || held) {
            quick = 0;
        }
    }
    return 0;
}

static struct agent *agent_alloc(void)
{
    struct agent *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pipe2(a->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        a->wake[0] = a->wake[1] = -1;
    } else if (a->wake[0] == 0) { /* stdin was closed: fd 0 is no wake_fd */
        close(a->wake[0]);
        close(a->wake[1]);
        a->wake[0] = a->wake[1] = -1;
    }
    a->data_dir = "./gpurent-agent";
    a->gpus_spec = "nvml";
    a->runtime_kind = "exec";
    a->heartbeat_s = 5;
    a->fence_s = 240;
    a->grace_s = 10;
    snprintf(a->log_prefix, sizeof(a->log_prefix), "gpurent: agent: ");
    return a;
}

static void agent_free(struct agent *a)
{
    if (a == NULL)
        return;
    explicit_bzero(a->key, sizeof(a->key));
    client_free(a->client);
    gpu_close(&a->gpu);
    runtime_free(a->rt);
    for (size_t i = 0; i < ARRAY_SIZE(a->copies); i++)
        free(a->copies[i]);
    if (a->wake[0] >= 0) {
        close(a->wake[0]);
        close(a->wake[1]);
    }
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a);
}

/* --list-gpus: what discovery and one telemetry sample give, as CSV on stdout. */
static int list_gpus(struct agent *a)
{
    struct gpu_sample samples[GPU_MAX];
    bool busy[GPU_MAX] = {false};
    int rc;

    memset(samples, 0, sizeof(samples));
    rc = a->gpu.ops->telemetry(&a->gpu, busy, samples, a->gpu_count, 0);
    printf("index,uuid,model,memory_mib,pci_bus_id,nvlink_island,util_pct,mem_used_mib,power_w,"
           "temp_c\n");
    for (unsigned i = 0; i < a->gpu_count; i++) {
        const struct gpu_info *g = &a->gpus[i];
        const struct gpu_sample *t = &samples[i];

        printf("%u,%s,%s,%u,%s,%u,%.0f,%.0f,%.2f,%.0f\n", g->index, g->uuid, g->model,
               g->memory_mib, g->pci_bus_id, g->nvlink_island, t->util_pct, t->mem_used_mib,
               t->power_w, t->temp_c);
    }
    if (rc != 0)
        fprintf(stderr, "gpurent: agent: %s: some telemetry could not be read\n", a->gpu.ops->name);
    return rc != 0 ? 1 : 0;
}

int agent_main(int argc, char **argv)
{
    char err[512];
    struct agent *a = agent_alloc();
    struct sigaction sa;
    bool list = false;
    int rc = 1, creds;

    if (a == NULL)
        return 1;
    if (gethostname(a->hostname, sizeof(a->hostname) - 1) != 0 || a->hostname[0] == '\0')
        snprintf(a->hostname, sizeof(a->hostname), "gpurent-host");
    switch (parse_args(a, argc, argv, &list)) {
    case 0:
        break;
    case 1:
        rc = 0;
        goto out;
    default:
        fputs(agent_usage, stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    if (list) {
        if (gpu_open(&a->gpu, a->gpus_spec, a->hostname, err, sizeof(err)) != 0 ||
            a->gpu.ops->discover(&a->gpu, a->gpus, &a->gpu_count, err, sizeof(err)) != 0) {
            fprintf(stderr, "gpurent: agent: %s\n", err);
            goto out;
        }
        rc = list_gpus(a);
        goto out;
    }
    if (agent_open(a, err, sizeof(err)) != 0) {
        fprintf(stderr, "gpurent: agent: %s\n", err);
        goto out;
    }
    creds = creds_load(a);
    if (creds < 0)
        goto out;
    if (creds > 0 && (a->join_token == NULL || *a->join_token == '\0')) {
        fprintf(stderr, "gpurent: agent: not registered yet: --join-token T is required\n");
        rc = EXIT_USAGE;
        goto out;
    }
    if (client_new(&a->client, a->server, creds == 0 ? a->key : NULL) != 0) {
        fprintf(stderr, "gpurent: agent: --server %s: %s\n", a->server, client_errmsg());
        rc = EXIT_USAGE;
        goto out;
    }
    /* a heartbeat may be held up to the interval (long-poll) */
    client_set_timeout_ms(a->client, REQUEST_TIMEOUT_MS + (long)a->heartbeat_s * 1000);
    client_set_reply_max(a->client, 4 * 1024 * 1024);
    atomic_store(&signal_stop, &a->stop);
    atomic_store(&signal_wake, a->wake[1]);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL); /* a workload exited: report it now, not after the poll */
    signal(SIGPIPE, SIG_IGN);
    if (agent_loop(a, creds == 0) != 0)
        goto out;
    alog(a, "stopping; workloads keep running for the next agent");
    rc = 0;
out:
    atomic_store(&signal_wake, -1);
    atomic_store(&signal_stop, NULL);
    agent_free(a);
    return rc;
}

/* ---- in-process agents (agent_start) ------------------------------------------------------ */

static void *agent_thread(void *arg)
{
    struct agent *a = arg;

    if (agent_loop(a, a->key[0] != '\0') != 0) {
        pthread_mutex_lock(&a->mu);
        if (a->failure[0] == '\0')
            snprintf(a->failure, sizeof(a->failure), "stopped before registering");
        pthread_mutex_unlock(&a->mu);
        set_phase(a, PHASE_FAILED);
    }
    return NULL;
}

/* A copy that a->copies owns; NULL stays NULL. -1 when out of memory. */
static int own(struct agent *a, const char **field, const char *v)
{
    size_t i = 0;

    if (v == NULL)
        return 0;
    while (i < ARRAY_SIZE(a->copies) && a->copies[i] != NULL)
        i++;
    if (i == ARRAY_SIZE(a->copies) || (a->copies[i] = strdup(v)) == NULL)
        return -1;
    *field = a->copies[i];
    return 0;
}

int agent_start(struct agent **out, const struct agent_config *cfg, char *err, size_t errlen)
{
    struct agent *a = agent_alloc();
    bool given = cfg->host_id != NULL && cfg->agent_key != NULL;

    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    a->data_dir = NULL;
    if (own(a, &a->server, cfg->server) != 0 || own(a, &a->join_token, cfg->join_token) != 0 ||
        own(a, &a->data_dir, cfg->data_dir) != 0 || own(a, &a->gpus_spec, cfg->gpus_spec) != 0 ||
        own(a, &a->runtime_kind, cfg->runtime_kind) != 0) {
        agent_free(a);
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    if (cfg->server == NULL || cfg->hostname == NULL || cfg->hostname[0] == '\0' ||
        strlen(cfg->hostname) >= sizeof(a->hostname) ||
        (!given && (cfg->join_token == NULL || cfg->join_token[0] == '\0')) ||
        (given && (strlen(cfg->host_id) >= sizeof(a->host_id) ||
                   strlen(cfg->agent_key) >= sizeof(a->key)))) {
        agent_free(a);
        snprintf(err, errlen, "a server, a hostname and a join token or credentials are needed");
        return ERR_INVALID;
    }
    snprintf(a->hostname, sizeof(a->hostname), "%s", cfg->hostname);
    if (cfg->log_prefix != NULL)
        snprintf(a->log_prefix, sizeof(a->log_prefix), "%s", cfg->log_prefix);
    if (given) {
        snprintf(a->host_id, sizeof(a->host_id), "%s", cfg->host_id);
        snprintf(a->key, sizeof(a->key), "%s", cfg->agent_key);
    }
    if (cfg->heartbeat_s > 0)
        a->heartbeat_s = cfg->heartbeat_s;
    if (cfg->fence_s > 0)
        a->fence_s = cfg->fence_s;
    a->grace_s = cfg->grace_s;
    if (agent_open(a, err, errlen) != 0) {
        agent_free(a);
        return ERR_INVALID;
    }
    if (client_new(&a->client, a->server, given ? a->key : NULL) != 0) {
        snprintf(err, errlen, "--server %s: %s", a->server, client_errmsg());
        agent_free(a);
        return ERR_INVALID;
    }
    client_set_timeout_ms(a->client, REQUEST_TIMEOUT_MS + (long)a->heartbeat_s * 1000);
    client_set_reply_max(a->client, 4 * 1024 * 1024);
    if (pthread_create(&a->thread, NULL, agent_thread, a) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        agent_free(a);
        return ERR_NOMEM;
    }
    a->threaded = true;
    *out = a;
    return 0;
}

int agent_wait_registered(struct agent *a, unsigned timeout_ms, char *host_id, size_t len,
                          char *err, size_t errlen)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    while (a->phase == PHASE_STARTING && rc == 0)
        rc = pthread_cond_timedwait(&a->cv, &a->mu, &until);
    if (a->phase == PHASE_REGISTERED) {
        snprintf(host_id, len, "%s", a->host_id);
        rc = 0;
    } else if (a->phase == PHASE_FAILED) {
        snprintf(err, errlen, "%s", a->failure);
        rc = ERR_INVALID;
    } else {
        snprintf(err, errlen, "not registered after %u ms", timeout_ms);
        rc = ERR_IO;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void agent_stop(struct agent *a)
{
    if (a == NULL)
        return;
    atomic_store(&a->stop, 1);
    wake_up(a->wake[1]); /* give up the long-poll in flight */
    if (a->threaded)
        pthread_join(a->thread, NULL);
    agent_free(a);
}

/* ---- without a server: the reply decoder (agent.h) ------------------------------------------ */

int agent_new_detached(struct agent **out, struct runtime *rt, const char *gpus_spec, char *err,
                       size_t cap)
{
    struct agent *a = agent_alloc();
    int rc;

    if (a == NULL)
        return ERR_NOMEM;
    snprintf(a->hostname, sizeof(a->hostname), "detached");
    a->data_dir = ".";
    rc = gpu_open(&a->gpu, gpus_spec, a->hostname, err, cap);
    if (rc == 0)
        rc = a->gpu.ops->discover(&a->gpu, a->gpus, &a->gpu_count, err, cap);
    if (rc != 0) {
        agent_free(a);
        return rc;
    }
    a->rt = rt; /* borrowed: agent_free_detached gives it back */
    a->last_ok_ms = a->last_sample_ms = now_ms();
    *out = a;
    return 0;
}

int agent_apply_reply(struct agent *a, const char *text, size_t len)
{
    json_t *reply = json_loadb(text, len, 0, NULL), *next;

    if (reply == NULL)
        return -1;
    reconcile(a, reply);
    json_decref(reply);
    poll_all(a);
    next = heartbeat_body(a);
    json_decref(next);
    return 0;
}

void agent_free_detached(struct agent *a)
{
    if (a == NULL)
        return;
    a->rt = NULL;
    agent_free(a);
}
