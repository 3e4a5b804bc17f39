/*
 * core.h - the engine thread: the one owner of the engine and the store.
 *
 * HTTP threads never touch the engine's state directly. A write is a `struct core_job`
 * handed to core_submit(), which blocks until the job is durable. The engine thread takes
 * every queued job, applies their commands in arrival order (engine_apply at one `now`),
 * runs each job's `after` hook (which builds the reply while the state is exactly as the
 * command left it, and may add rows to the transaction), writes the batch (command log,
 * events, the hooks' rows) in ONE store transaction, and only then wakes the waiters: one
 * fsync serves the whole batch (group commit), and no reply is sent for a change that is not
 * durable.
 *
 * Reads take the read side of a lock the engine thread holds (write side) from the moment it
 * starts applying a batch until that batch is committed, so a reader never sees state that
 * is not durable. Lock order: the core's queue mutex, then the engine lock; never the other
 * way round.
 *
 * Time-driven work (engine_tick) runs on the engine thread at least every second and at
 * each deadline; its events are written like a batch's. It is not logged: replaying the
 * command log recomputes it.
 */
#ifndef GPURENT_CORE_H
#define GPURENT_CORE_H

#include "../common/compat.h"

#include <pthread.h>
#include "../engine/engine.h"

struct core;
struct store;

struct core_config {
    const char *db_path;         /* the SQLite file */
    struct engine_config engine; /* engine settings (timeouts...) */
    /* Called on the engine thread in each batch that writes, inside its transaction, for
     * the server's own periodic writes (keys' last use); may be NULL. Non-zero fails the
     * batch. */
    int (*batch_hook)(void *arg, struct store *st, int64_t now, char *err, size_t cap);
    void *batch_arg;
    /* Called on the engine thread after a batch failed to commit and the engine was rebuilt
     * from the store: reload the server's own in-memory records (keys, idempotency replies)
     * from st, so nothing of the failed batch survives in memory. May be NULL. Non-zero
     * is fatal (the process exits; a restart recovers). */
    int (*reload)(void *arg, struct store *st, char *err, size_t cap);
    void *reload_arg;
};

/* Open the store and replay its command log into a fresh engine. The engine thread is not
 * running yet: until core_start, the caller may use core_store() alone (load its records,
 * write its settings in its own transactions). 0 and *out (owned; core_close), or an ERR_*
 * code with err set. */
int core_open(struct core **out, const struct core_config *cfg, char *err, size_t cap);
/* Start the engine thread; from now on the store belongs to it. */
int core_start(struct core *c, char *err, size_t cap);
/* Stop the engine thread (after the batch in flight commits) and free everything. */
void core_close(struct core *c);

struct core_job;
/*
 * Runs on the engine thread right after the job's command was applied (or, for a job
 * without a command, in its turn), with the engine write-locked. job->result holds the
 * command's result. The hook sets job->status and job->reply (malloc'd JSON text, or NULL)
 * and may write the server's own rows with the store functions on `store` (inside the
 * batch's transaction). A non-zero return fails the whole batch (nothing is committed).
 */
typedef int (*core_after_fn)(struct core_job *job, struct engine *e, struct store *store,
                             int64_t now);

/*
 * Runs on the engine thread before the job's command, with the engine write-locked: a
 * return of 1 skips the command (the hook has set status and reply, e.g. an idempotent
 * replay), 0 goes on.
 */
typedef int (*core_before_fn)(struct core_job *job, const struct engine *e);

struct core_job {
    /* set by the caller */
    const struct command *cmd; /* NULL: a job that only runs `after` (e.g. store a key) */
    core_before_fn before;     /* may be NULL */
    core_after_fn after;       /* may be NULL */
    void *ctx;                 /* the caller's, for `after` */
    /* set by the core */
    struct result result; /* of the command */
    int status;           /* HTTP status chosen by `after` (0: the core maps result.code) */
    char *reply;          /* malloc'd by `after`; the caller frees */
    int64_t now;          /* when it was applied */
    /* private */
    struct core_job *next;
    bool done;
    bool failed;         /* its batch could not be made durable */
    pthread_cond_t wake; /* signalled (under the core's queue lock) when done */
};

/* Queue job and wait until it is durable (0) or the batch failed (ERR_IO: nothing of it
 * was made durable, and the in-memory state was rebuilt from the store without it; the
 * store is probed before the next batch, which is refused while it still fails). */
int core_submit(struct core *c, struct core_job *job);

/* Read access to the engine: between core_read_begin and core_read_end, the engine is not
 * changed and everything in it is durable. */
const struct engine *core_read_begin(struct core *c);
void core_read_end(struct core *c);

/*
 * Long-poll support: each host has a generation, bumped after every commit that changed its
 * assignments (a rental placed on it, started, ended, or given notice). An agent's parked
 * heartbeat compares it with the one it saw. fn is called (on the engine thread, no lock
 * held) after each commit that bumped some; set it before core_start.
 */
uint64_t core_host_generation(struct core *c, uint32_t host);
void core_on_host_change(struct core *c, void (*fn)(void *arg), void *arg);

/* The store, for the server's start-up before core_start (never after). */
struct store *core_store(struct core *c);

/* The current time (µs since the epoch, real clock): the one place the server reads it. */
int64_t core_clock_now(void);

#endif
