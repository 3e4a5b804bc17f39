/*
 * fuzz_agent_reply.c - the server's heartbeat replies as the agent decodes them
 * (agent_apply_reply: src/agent/agent.c's reconcile, then its next report).
 *
 * The input is up to 8 replies separated by lines "%%", applied in order to one agent
 * with 4 simulated GPUs (gpu_sim.c). Its workloads go to the recording runtime below, which
 * runs nothing (the replies name arbitrary commands) and checks what the agent asks of it:
 * every start names a well-formed rental id that is not already running, a command whose
 * words are all strings (or, without one, an image: a rental with neither is a reservation
 * and starts nothing), "K=V" environment entries and GPU indices of this host, and gives
 * docker arguments that build (runtime_docker_argv); a stop or notice names a workload that
 * runs. A stopped workload ends at the next poll, as a real one does after its signal.
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/gpu.h"
#include "agent/runtime.h"

#define REPLIES_MAX 8
#define GPUS        4
#define SLOTS       RUNTIME_ADOPT_MAX

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the recording runtime: runs nothing, checks every call ---------------------------- */

struct slot {
    bool used, stopping;
    char id[RUNTIME_ID_MAX];
};

static struct slot slots[SLOTS];

static void fail(const char *what, const char *id)
{
    fprintf(stderr, "fuzz_agent_reply: the agent asked its runtime wrongly: %s (%s)\n", what,
            id ? id : "NULL");
    abort();
}

static struct slot *find(const char *id)
{
    for (size_t i = 0; i < SLOTS; i++) {
        if (slots[i].used && strcmp(slots[i].id, id) == 0)
            return &slots[i];
    }
    return NULL;
}

static int rec_start(struct runtime *rt, const struct workload_spec *w, char *detail, size_t len)
{
    struct slot *s = NULL;
    char **argv = NULL;
    size_t n = 0;
    (void)rt;

    if (!runtime_id_ok(w->rental_id))
        fail("start: a bad rental id", w->rental_id);
    if (find(w->rental_id) != NULL)
        fail("start: already running", w->rental_id);
    /* without a command, only an image has something to run (its own); a rental with
       neither is a reservation the agent holds itself */
    if ((w->argv == NULL || w->argv[0] == NULL) && (w->image == NULL || *w->image == '\0'))
        fail("start: no command and no image", w->rental_id);
    while (w->argv != NULL && w->argv[n] != NULL)
        n++;
    for (size_t i = 0; w->env != NULL && w->env[i] != NULL; i++) {
        const char *eq = strchr(w->env[i], '=');
        if (eq == NULL || eq == w->env[i])
            fail("start: an environment entry that is not K=V", w->env[i]);
    }
    if (w->gpu_count > GPUS)
        fail("start: more GPUs than the host has", w->rental_id);
    for (unsigned i = 0; i < w->gpu_count; i++) {
        if (w->gpu_indices[i] >= GPUS)
            fail("start: a GPU index beyond the host", w->rental_id);
    }
    if (w->image != NULL && *w->image != '\0') {
        if (runtime_docker_argv(&argv, w) != 0)
            fail("start: docker arguments do not build", w->rental_id);
        runtime_argv_free(argv);
    }
    if (n > 0 &&
        strcmp(w->argv[0], "fail") == 0) { /* a start that fails, as a missing binary does */
        snprintf(detail, len, "exec: fail: not found");
        return -1;
    }
    for (size_t i = 0; i < SLOTS && s == NULL; i++) {
        if (!slots[i].used)
            s = &slots[i];
    }
    if (s == NULL) {
        snprintf(detail, len, "too many workloads");
        return -1;
    }
    memset(s, 0, sizeof(*s));
    s->used = true;
    snprintf(s->id, sizeof(s->id), "%s", w->rental_id);
    return 0;
}

static enum runtime_state rec_poll(struct runtime *rt, const char *id, int *exit_code)
{
    struct slot *s = find(id);
    (void)rt;

    if (s == NULL)
        return RUNTIME_UNKNOWN;
    if (!s->stopping)
        return RUNTIME_ALIVE;
    *exit_code = 143;
    return RUNTIME_EXITED;
}

static int rec_stop(struct runtime *rt, const char *id)
{
    struct slot *s = find(id);
    (void)rt;

    if (s == NULL)
        fail("stop: not running", id);
    s->stopping = true;
    return 0;
}

static int rec_notify(struct runtime *rt, const char *id)
{
    (void)rt;
    if (find(id) == NULL)
        fail("notify: not running", id);
    return 0;
}

static void rec_forget(struct runtime *rt, const char *id)
{
    struct slot *s = find(id);
    (void)rt;

    if (s != NULL)
        memset(s, 0, sizeof(*s));
}

static int rec_adopt(struct runtime *rt, struct runtime_adopted *out, unsigned max, unsigned *n)
{
    (void)rt;
    (void)out;
    (void)max;
    *n = 0;
    return 0;
}

static void rec_free(struct runtime *rt)
{
    (void)rt;
}

static const struct runtime_ops recording_ops = {
    "recording", rec_start, rec_poll, rec_stop, rec_notify, rec_forget, rec_adopt, rec_free,
};

/* ---- the target ------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct runtime rt = {.ops = &recording_ops, .data_dir = NULL, .grace_ms = 0};
    struct agent *a = NULL;
    const char *p = (const char *)data, *end = p + size;
    char err[256];

    memset(slots, 0, sizeof(slots));
    if (agent_new_detached(&a, &rt, "sim:4xA100-80G", err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_agent_reply: %s\n", err);
        abort();
    }
    for (int i = 0; i < REPLIES_MAX && p < end; i++) {
        const char *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4);
        const char *stop = sep != NULL ? sep : end;

        agent_apply_reply(a, p, (size_t)(stop - p));
        p = sep != NULL ? sep + 4 : end;
    }
    agent_free_detached(a);
    return 0;
}
