/*
 * core.c - the engine thread and group commit.
 *
 * The loop, top-down: wait for jobs or the next deadline; take every queued job; lock the
 * engine for writing; tick; apply each job's command and run its hooks; write the command
 * log, the events and the hooks' rows in one transaction; commit; unlock; wake the waiters.
 */
#include "../common/compat.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/err.h"
#include "../store/store.h"
#include "cmdjson.h"
#include "core.h"

#define EVENT_CHUNK     1024
#define IDLE_TICK_US    INT64_C(1000000) /* tick at least every second */
#define COMMIT_DELAY_US INT64_C(200)     /* at most this long to let a batch fill up */

struct core {
    struct engine *e;
    struct store *store;
    pthread_rwlock_t engine_lock; /* write side: the engine thread, for a whole batch */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond; /* a job arrived, or stop */
    struct core_job *head, *tail;
    bool stopping;
    bool thread_started;
    unsigned queued;     /* jobs waiting in the queue */
    unsigned last_batch; /* jobs in the last batch taken */
    pthread_t thread;
    int64_t last_now;
    int (*batch_hook)(void *arg, struct store *st, int64_t now, char *err, size_t cap);
    void *batch_arg;
    /* crash safety (docs/crash-safety.md): after a failed commit the state is rebuilt from
       the store, and writes are refused until a probe write commits again */
    struct engine_config engine_cfg; /* to build a fresh engine for the rebuild */
    int (*reload)(void *arg, struct store *st, char *err, size_t cap);
    void *reload_arg;
    bool degraded;                   /* the last commit failed: probe before applying anything */
    void (*host_changed)(void *arg); /* after a commit that changed some host's assignments */
    void *host_changed_arg;
    uint64_t *host_gen; /* per host number: bumped when its assignments change; queue_lock */
    uint32_t host_gen_cap;
    uint32_t *touched; /* hosts touched by the batch in flight (engine thread) */
    uint32_t touched_count, touched_cap;
    struct event events[EVENT_CHUNK];
};

int64_t core_clock_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct replay_ctx {
    struct core *c;
    struct engine *e; /* the engine replayed into */
    char *err;
    size_t cap;
    uint64_t count;
};

static int replay_one(void *arg, int64_t seq, int64_t at, const char *json)
{
    struct replay_ctx *rc = arg;
    struct cmdjson_decoded d;
    struct result res;
    char why[256];

    if (cmdjson_decode(&d, json, why, sizeof(why)) < 0) {
        snprintf(rc->err, rc->cap, "command log entry %lld: %s", (long long)seq, why);
        return ERR_IO;
    }
    engine_apply(rc->e, &d.cmd, at, &res);
    cmdjson_release(&d);
    /* a logged command succeeded when it was applied; the same state must accept it again */
    if (res.code != 0) {
        snprintf(rc->err, rc->cap, "command log entry %lld no longer applies: %s", (long long)seq,
                 res.detail);
        return ERR_IO;
    }
    /* the tables already hold these events (same transaction as the log): drop them */
    while (engine_drain_events(rc->e, rc->c->events, EVENT_CHUNK) > 0)
        ;
    if (at > rc->c->last_now)
        rc->c->last_now = at;
    rc->count++;
    return 0;
}

/* Remember the hosts whose assignments the events change (a rental placed, started, ended,
 * given notice): their agents' parked heartbeats are woken after the commit. */
static void note_touched_hosts(struct core *c, const struct event *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t h;
        if (ev[i].type != EV_RENTAL_STATE && ev[i].type != EV_PREEMPT_NOTICE)
            continue;
        h = ev[i].u.rental.host;
        if (h == 0)
            continue;
        if (c->touched_count == c->touched_cap) {
            uint32_t cap = c->touched_cap ? c->touched_cap * 2 : 64;
            uint32_t *t = realloc(c->touched, cap * sizeof(*t));
            if (t == NULL)
                return; /* a parked heartbeat then waits for its deadline: late, not wrong */
            c->touched = t;
            c->touched_cap = cap;
        }
        c->touched[c->touched_count++] = h;
    }
}

/* After a commit: bump the touched hosts' generations (under the queue lock) and tell the
 * HTTP side. */
static void publish_touched_hosts(struct core *c)
{
    if (c->touched_count == 0)
        return;
    pthread_mutex_lock(&c->queue_lock);
    for (uint32_t i = 0; i < c->touched_count; i++) {
        uint32_t h = c->touched[i];
        if (h >= c->host_gen_cap) {
            uint32_t cap = c->host_gen_cap ? c->host_gen_cap : 64;
            uint64_t *g;
            while (cap <= h)
                cap *= 2;
            g = realloc(c->host_gen, cap * sizeof(*g));
            if (g == NULL)
                continue;
            memset(g + c->host_gen_cap, 0, (cap - c->host_gen_cap) * sizeof(*g));
            c->host_gen = g;
            c->host_gen_cap = cap;
        }
        c->host_gen[h]++;
    }
    pthread_mutex_unlock(&c->queue_lock);
    c->touched_count = 0;
    if (c->host_changed != NULL)
        c->host_changed(c->host_changed_arg);
}

uint64_t core_host_generation(struct core *c, uint32_t host)
{
    uint64_t g;

    pthread_mutex_lock(&c->queue_lock);
    g = host < c->host_gen_cap ? c->host_gen[host] : 0;
    pthread_mutex_unlock(&c->queue_lock);
    return g;
}

void core_on_host_change(struct core *c, void (*fn)(void *arg), void *arg)
{
    c->host_changed = fn;
    c->host_changed_arg = arg;
}

/* Write every pending event into the open transaction (opening it when needed). */
static int flush_events(struct core *c, bool *in_txn, char *err, size_t cap)
{
    size_t n;
    int rc;

    while ((n = engine_drain_events(c->e, c->events, EVENT_CHUNK)) > 0) {
        if (!*in_txn) {
            rc = store_begin(c->store, err, cap);
            if (rc < 0)
                return rc;
            *in_txn = true;
        }
        rc = store_put_events(c->store, c->e, c->events, n, err, cap);
        if (rc < 0)
            return rc;
        note_touched_hosts(c, c->events, n);
    }
    return 0;
}

static int64_t next_now(struct core *c)
{
    int64_t now = core_clock_now();

    if (now <= c->last_now)
        now = c->last_now + 1; /* the engine's time never goes backwards */
    c->last_now = now;
    return now;
}

/* After a replay: every invariant of the engine holds (ledger sums to zero, no GPU held
 * twice, charges follow the billing rule...), or the state is refused. */
static int check_replayed(const struct engine *e, char *err, size_t cap)
{
    char detail[256];

    if (engine_check(e, detail, sizeof(detail)) == 0)
        return 0;
    snprintf(err, cap, "the state replayed from the command log breaks an invariant: %s", detail);
    return ERR_CONFLICT;
}

/* ---- Crash safety: a failed commit ---------------------------------------------------- */

/*
 * A batch whose transaction did not commit (a full disk, an I/O error, a failed fsync) was
 * applied to the engine and to the server's records in memory, but is not durable. Nothing
 * of it is acknowledged (each job fails: 503), and the memory is made equal to the store
 * again by the recovery path itself: a fresh engine replays the command log, and the
 * server's records (keys, idempotency replies) are reloaded. A failed fsync is final for its
 * commit: SQLite does not count the transaction as committed, and nothing here retries the
 * fsync as if the data had reached the disk (the "fsyncgate" lesson).
 * Returns 0, or an error when the store cannot even be read back: then the process exits.
 */
static int rebuild_from_store(struct core *c, struct core_job *jobs, char *err, size_t cap)
{
    struct replay_ctx rc = {.c = c, .err = err, .cap = cap};
    struct engine *fresh = NULL;
    int r;

    for (struct core_job *j = jobs; j != NULL; j = j->next) {
        j->failed = true;
        free(j->reply);
        j->reply = NULL;
    }
    c->touched_count = 0; /* nothing changed durably: no agent to wake */
    if (engine_new(&fresh, &c->engine_cfg) < 0) {
        snprintf(err, cap, "out of memory rebuilding the engine");
        return ERR_NOMEM;
    }
    rc.e = fresh;
    r = store_replay(c->store, replay_one, &rc, err, cap);
    if (r == 0)
        r = check_replayed(fresh, err, cap);
    if (r < 0) {
        engine_free(fresh);
        return r;
    }
    engine_free(c->e);
    c->e = fresh;
    if (c->reload != NULL && (r = c->reload(c->reload_arg, c->store, err, cap)) < 0)
        return r;
    c->degraded = true;
    return 0;
}

/*
 * After a failed commit, before applying anything: does the store take a write again? One
 * small durable write (a meta row) answers; until it does, batches are refused without
 * touching the engine, so a full disk costs one failed fsync per batch, not a replay.
 */
static int probe_store(struct core *c, int64_t now, char *err, size_t cap)
{
    char value[32];
    int rc;

    snprintf(value, sizeof(value), "%lld", (long long)now);
    rc = store_begin(c->store, err, cap);
    if (rc == 0)
        rc = store_meta_put(c->store, "write_probe", value, err, cap);
    if (rc == 0)
        rc = store_commit(c->store, err, cap);
    else
        store_rollback(c->store);
    return rc;
}

/* While the store refuses writes: a job its `before` hook answers alone (an idempotent
 * replay of a reply already durable) is answered; every other one fails (503). */
static void refuse_batch(struct core *c, struct core_job *jobs, int64_t now)
{
    for (struct core_job *j = jobs; j != NULL; j = j->next) {
        j->now = now;
        if (j->before != NULL && j->before(j, c->e) == 1)
            continue;
        j->failed = true;
        free(j->reply);
        j->reply = NULL;
    }
}

/* Apply one batch (jobs may be NULL: a tick). Returns 0 (each job is answered, or failed
 * when the batch could not be made durable), or an error when the state could not be
 * rebuilt from the store after a failed batch: the in-memory state may be ahead of it. */
static int run_batch(struct core *c, struct core_job *jobs, char *err, size_t cap)
{
    int64_t now = next_now(c);
    bool in_txn = false;
    int rc = 0;

    pthread_rwlock_wrlock(&c->engine_lock);
    if (c->degraded) {
        if (probe_store(c, now, err, cap) < 0) {
            refuse_batch(c, jobs, now);
            pthread_rwlock_unlock(&c->engine_lock);
            return 0;
        }
        c->degraded = false;
        fprintf(stderr, "gpurent: the store takes writes again\n");
    }
    engine_tick(c->e, now);
    if (jobs != NULL) {
        rc = store_begin(c->store, err, cap);
        if (rc < 0)
            goto out;
        in_txn = true;
    }
    for (struct core_job *j = jobs; j != NULL; j = j->next) {
        j->now = now;
        if (j->before != NULL && j->before(j, c->e) == 1)
            continue;
        if (j->cmd != NULL) {
            engine_apply(c->e, j->cmd, now, &j->result);
            if (j->result.code == 0) {
                char *json = cmdjson_encode(j->cmd);
                if (json == NULL) {
                    snprintf(err, cap, "out of memory encoding a command");
                    rc = ERR_NOMEM;
                    goto out;
                }
                rc = store_log_command(c->store, now, json, err, cap);
                free(json);
                if (rc < 0)
                    goto out;
            }
        }
        if (j->after != NULL) {
            rc = j->after(j, c->e, c->store, now);
            if (rc < 0) {
                snprintf(err, cap, "a request's hook failed (%d)", rc);
                goto out;
            }
        }
    }
    if (in_txn && c->batch_hook != NULL) {
        rc = c->batch_hook(c->batch_arg, c->store, now, err, cap);
        if (rc < 0)
            goto out;
    }
    rc = flush_events(c, &in_txn, err, cap);
    if (rc < 0)
        goto out;
    if (in_txn) {
        rc = store_commit(c->store, err, cap); /* rolls back when it fails */
        in_txn = false;
    }
out:
    if (in_txn)
        store_rollback(c->store);
    if (rc < 0) {
        fprintf(stderr,
                "gpurent: a batch could not be stored (%s): nothing of it is acknowledged; "
                "rebuilding the state from the store\n",
                err);
        rc = rebuild_from_store(c, jobs, err, cap);
    }
    pthread_rwlock_unlock(&c->engine_lock);
    return rc;
}

static void *engine_thread(void *arg)
{
    struct core *c = arg;
    char err[512];

    for (;;) {
        struct core_job *jobs;
        int rc;

        pthread_mutex_lock(&c->queue_lock);
        if (c->head == NULL && !c->stopping) {
            int64_t deadline, now = core_clock_now();
            struct timespec ts;
            pthread_rwlock_rdlock(&c->engine_lock);
            deadline = engine_next_deadline(c->e);
            pthread_rwlock_unlock(&c->engine_lock);
            if (deadline > now + IDLE_TICK_US || c->degraded)
                deadline = now + IDLE_TICK_US; /* degraded: probe the store once a second */
            if (deadline > now) {
                ts.tv_sec = deadline / 1000000;
                ts.tv_nsec = (long)(deadline % 1000000) * 1000;
                pthread_cond_timedwait(&c->queue_cond, &c->queue_lock, &ts);
            }
        }
        /* group commit's delay: under concurrent load (the last batch held several jobs),
           wait a moment for as many as last time before paying for an fsync; an idle server
           or a lone client never waits */
        if (c->head != NULL && c->last_batch >= 2 && c->queued < c->last_batch) {
            int64_t until = core_clock_now() + COMMIT_DELAY_US;
            while (c->queued < c->last_batch && !c->stopping) {
                struct timespec ts = {.tv_sec = until / 1000000,
                                      .tv_nsec = (long)(until % 1000000) * 1000};
                if (pthread_cond_timedwait(&c->queue_cond, &c->queue_lock, &ts) != 0)
                    break;
            }
        }
        jobs = c->head;
        c->head = c->tail = NULL;
        c->last_batch = c->queued;
        c->queued = 0;
        if (jobs == NULL && c->stopping) {
            pthread_mutex_unlock(&c->queue_lock);
            break;
        }
        pthread_mutex_unlock(&c->queue_lock);

        rc = run_batch(c, jobs, err, sizeof(err));
        if (rc < 0) {
            /* a batch failed and the store could not even be read back: the engine's memory
               may be ahead of the store, and the only honest state is the durable one.
               Stop; a restart replays the log. */
            fprintf(stderr, "gpurent: fatal: %s; exiting so a restart recovers from the store\n",
                    err);
            fflush(stderr);
            _exit(70);
        }
        publish_touched_hosts(c);
        /* wake each waiter on its own condition: a broadcast would wake every waiting HTTP
           thread for every batch */
        pthread_mutex_lock(&c->queue_lock);
        for (struct core_job *j = jobs, *next; j != NULL; j = next) {
            next = j->next; /* j may be gone as soon as it is signalled and the lock dropped */
            j->done = true;
            pthread_cond_signal(&j->wake);
        }
        pthread_mutex_unlock(&c->queue_lock);
    }
    return NULL;
}

/*
 * Replay recomputes the time-driven work under the engine settings in force, so history is
 * only reproduced under the settings it was made with: they are recorded at the first start
 * and a different set is refused, naming what differs.
 */
static int check_settings(struct store *st, const struct engine_config *ec, char *err, size_t cap)
{
    char want[256], have[256];
    int rc;

    snprintf(want, sizeof(want),
             "settle_interval=%lld min_balance=%lld grace=%lld heartbeat_timeout=%lld "
             "lost_after=%lld start_timeout=%lld preempt_notice=%lld starvation=%u "
             "mass_silence=%u/%u stop_fee_bp=%u",
             (long long)ec->settle_interval, (long long)ec->min_balance_us,
             (long long)ec->insufficient_grace, (long long)ec->heartbeat_timeout,
             (long long)ec->lost_after, (long long)ec->start_timeout, (long long)ec->preempt_notice,
             ec->starvation_passes, ec->mass_silence_pct, ec->mass_silence_min_hosts,
             ec->package_stop_fee_bp);
    rc = store_meta_get(st, "engine_settings", have, sizeof(have), err, cap);
    if (rc == 0) {
        if (strcmp(have, want) == 0)
            return 0;
        snprintf(err, cap,
                 "this data directory was made with other engine settings (%s); start with "
                 "the same options, or use a new data directory",
                 have);
        return ERR_INVALID;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    return store_meta_put(st, "engine_settings", want, err, cap); /* commits on its own */
}

int core_open(struct core **out, const struct core_config *cfg, char *err, size_t cap)
{
    struct core *c = calloc(1, sizeof(*c));
    struct replay_ctx rc = {.err = err, .cap = cap};
    int r;

    if (c == NULL)
        return ERR_NOMEM;
    pthread_rwlock_init(&c->engine_lock, NULL);
    pthread_mutex_init(&c->queue_lock, NULL);
    pthread_cond_init(&c->queue_cond, NULL);
    c->batch_hook = cfg->batch_hook;
    c->batch_arg = cfg->batch_arg;
    c->engine_cfg = cfg->engine;
    c->reload = cfg->reload;
    c->reload_arg = cfg->reload_arg;
    r = engine_new(&c->e, &cfg->engine);
    if (r < 0) {
        snprintf(err, cap, "bad engine settings");
        goto fail;
    }
    r = store_open_sqlite(&c->store, cfg->db_path, err, cap);
    if (r < 0)
        goto fail;
    rc.c = c;
    rc.e = c->e;
    r = check_settings(c->store, &cfg->engine, err, cap);
    if (r < 0)
        goto fail;
    r = store_replay(c->store, replay_one, &rc, err, cap);
    if (r < 0)
        goto fail;
    r = check_replayed(c->e, err, cap);
    if (r < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    core_close(c);
    return r < 0 ? r : ERR_IO;
}

int core_start(struct core *c, char *err, size_t cap)
{
    int r = pthread_create(&c->thread, NULL, engine_thread, c);

    if (r != 0) {
        snprintf(err, cap, "cannot start the engine thread: %s", strerror(r));
        return ERR_IO;
    }
    c->thread_started = true;
    return 0;
}

void core_close(struct core *c)
{
    if (c == NULL)
        return;
    if (c->thread_started) {
        pthread_mutex_lock(&c->queue_lock);
        c->stopping = true;
        pthread_cond_signal(&c->queue_cond);
        pthread_mutex_unlock(&c->queue_lock);
        pthread_join(c->thread, NULL);
    }
    store_close(c->store);
    engine_free(c->e);
    free(c->host_gen);
    free(c->touched);
    pthread_rwlock_destroy(&c->engine_lock);
    pthread_mutex_destroy(&c->queue_lock);
    pthread_cond_destroy(&c->queue_cond);
    free(c);
}

int core_submit(struct core *c, struct core_job *job)
{
    job->next = NULL;
    job->done = false;
    job->failed = false;
    pthread_cond_init(&job->wake, NULL);
    job->status = 0;
    job->reply = NULL;
    memset(&job->result, 0, sizeof(job->result));
    pthread_mutex_lock(&c->queue_lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->queue_lock);
        pthread_cond_destroy(&job->wake);
        return ERR_IO;
    }
    if (c->tail)
        c->tail->next = job;
    else
        c->head = job;
    c->tail = job;
    c->queued++;
    pthread_cond_signal(&c->queue_cond);
    while (!job->done)
        pthread_cond_wait(&job->wake, &c->queue_lock);
    pthread_mutex_unlock(&c->queue_lock);
    pthread_cond_destroy(&job->wake);
    return job->failed ? ERR_IO : 0;
}

const struct engine *core_read_begin(struct core *c)
{
    pthread_rwlock_rdlock(&c->engine_lock);
    return c->e;
}

void core_read_end(struct core *c)
{
    pthread_rwlock_unlock(&c->engine_lock);
}

struct store *core_store(struct core *c)
{
    return c->store;
}
