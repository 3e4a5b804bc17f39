/*
 * runtime_sim.c - the SIMULATED workload runtime: "sim" or "sim:SECONDS".
 *
 * Nothing is executed. A started workload is a record that polls alive until it is stopped,
 * or until its simulated lifetime has passed, then exited with a code, as exec reports a
 * process. The lifetime comes from the command, so that a demo can show a workload's end:
 *   - `sleep N` (N seconds, 0..86400) lives N seconds and exits 0;
 *   - `true` exits 0 and `false` exits 1 at once;
 *   - any other command lives SECONDS (the kind's suffix), or until stopped when none;
 *   - no command (an image alone) lives until stopped. (A rental without any workload is a
 *     reservation that agent.c holds itself: it never reaches a runtime.)
 * A stopped workload exits 143 (128 + SIGTERM) at the next poll. Nothing survives the agent:
 * adopt finds nothing, as every simulated workload ended with the process that held it.
 */
#include "../common/compat.h"

#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/err.h"

#define SIM_MAX         RUNTIME_ADOPT_MAX
#define SIM_FOREVER     (-1)
#define SIM_SIGTERM     143
#define SIM_SECONDS_MAX 86400

struct sim_proc {
    bool used;
    char id[RUNTIME_ID_MAX];
    int64_t started_ms;
    int64_t life_ms; /* SIM_FOREVER: until stopped */
    int exit_code;   /* at the end of its life */
    bool stopped;
};

struct sim_state {
    int64_t default_life_ms; /* SIM_FOREVER unless "sim:SECONDS" */
    struct sim_proc procs[SIM_MAX];
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sim_proc *sim_find(struct runtime *rt, const char *id)
{
    struct sim_state *s = rt->priv;

    for (size_t i = 0; i < SIM_MAX; i++) {
        if (s->procs[i].used && strcmp(s->procs[i].id, id) == 0)
            return &s->procs[i];
    }
    return NULL;
}

/* "0".."86400" seconds into *out; -1 when it is not one. */
static int parse_secs(const char *v, int64_t *out)
{
    char *end;
    unsigned long n;

    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    n = strtoul(v, &end, 10);
    if (*end != '\0' || n > SIM_SECONDS_MAX)
        return -1;
    *out = (int64_t)n * 1000;
    return 0;
}

static int sim_start(struct runtime *rt, const struct workload_spec *w, char *detail, size_t len)
{
    struct sim_state *s = rt->priv;
    static const char *const none[] = {NULL};
    struct sim_proc *p = NULL;
    const char *const *argv = w->argv;

    if (argv == NULL)
        argv = none; /* a rental without a workload: it runs until stopped */
    if (!runtime_id_ok(w->rental_id)) {
        snprintf(detail, len, "invalid workload");
        return ERR_INVALID;
    }
    if (sim_find(rt, w->rental_id) != NULL) {
        snprintf(detail, len, "already running");
        return ERR_CONFLICT;
    }
    for (size_t i = 0; i < SIM_MAX && p == NULL; i++) {
        if (!s->procs[i].used)
            p = &s->procs[i];
    }
    if (p == NULL) {
        snprintf(detail, len, "too many simulated workloads on this host");
        return ERR_NOCAPACITY;
    }
    memset(p, 0, sizeof(*p));
    p->used = true;
    snprintf(p->id, sizeof(p->id), "%s", w->rental_id);
    p->started_ms = mono_ms();
    p->life_ms = s->default_life_ms;
    if (argv[0] == NULL) {
        p->life_ms = SIM_FOREVER;
    } else if (strcmp(argv[0], "true") == 0 && argv[1] == NULL) {
        p->life_ms = 0;
    } else if (strcmp(argv[0], "false") == 0 && argv[1] == NULL) {
        p->life_ms = 0;
        p->exit_code = 1;
    } else if (strcmp(argv[0], "sleep") == 0 && argv[1] != NULL && argv[2] == NULL &&
               parse_secs(argv[1], &p->life_ms) != 0) {
        p->life_ms = s->default_life_ms;
    }
    return 0;
}

static enum runtime_state sim_poll(struct runtime *rt, const char *id, int *exit_code)
{
    struct sim_proc *p = sim_find(rt, id);

    if (p == NULL)
        return RUNTIME_UNKNOWN;
    if (p->stopped) {
        *exit_code = SIM_SIGTERM;
        return RUNTIME_EXITED;
    }
    if (p->life_ms != SIM_FOREVER && mono_ms() - p->started_ms >= p->life_ms) {
        *exit_code = p->exit_code;
        return RUNTIME_EXITED;
    }
    return RUNTIME_ALIVE;
}

static int sim_stop(struct runtime *rt, const char *id)
{
    struct sim_proc *p = sim_find(rt, id);

    if (p == NULL)
        return ERR_NOTFOUND;
    p->stopped = true;
    return 0;
}

/* A preemption notice: a simulated workload does not save anything; it runs on. */
static int sim_notify(struct runtime *rt, const char *id)
{
    return sim_find(rt, id) != NULL ? 0 : ERR_NOTFOUND;
}

static void sim_forget(struct runtime *rt, const char *id)
{
    struct sim_proc *p = sim_find(rt, id);

    if (p != NULL)
        memset(p, 0, sizeof(*p));
}

static int sim_adopt(struct runtime *rt, struct runtime_adopted *out, unsigned max, unsigned *n)
{
    (void)rt;
    (void)out;
    (void)max;
    *n = 0;
    return 0;
}

static void sim_free(struct runtime *rt)
{
    free(rt->priv);
    rt->priv = NULL;
}

const struct runtime_ops runtime_sim_ops = {"simulated", sim_start,  sim_poll,  sim_stop,
                                            sim_notify,  sim_forget, sim_adopt, sim_free};

int runtime_sim_new(struct runtime **out, const char *kind, char *err, size_t errlen)
{
    struct runtime *rt;
    struct sim_state *s;
    int64_t life = SIM_FOREVER;

    if (strcmp(kind, "sim") != 0 &&
        (strncmp(kind, "sim:", 4) != 0 || parse_secs(kind + 4, &life) != 0)) {
        snprintf(err, errlen, "--runtime %s: sim:SECONDS must be 0..%d seconds", kind,
                 SIM_SECONDS_MAX);
        return ERR_INVALID;
    }
    rt = calloc(1, sizeof(*rt));
    s = calloc(1, sizeof(*s));
    if (rt == NULL || s == NULL) {
        free(rt);
        free(s);
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    s->default_life_ms = life;
    rt->ops = &runtime_sim_ops;
    rt->priv = s;
    *out = rt;
    return 0;
}
