/*
 * runtime.h - the host agent's workload runtimes: start, poll, stop and adopt workloads.
 *
 * Three back-ends behind one table (STYLE.md rule 7):
 *   - exec (runtime_exec.c): the workload's command runs as a child of the agent, in a
 *     session and process group of its own, its output in DATA/logs/<rental>.log, its state
 *     in DATA/rentals/<rental>.json so that a restarted agent adopts it;
 *   - docker (runtime_docker.c): `docker run -d --name gpurent-<rental> --label ... IMAGE CMD`
 *     through the docker CLI (DOCKER_HOST honoured); the containers' labels let a restarted
 *     agent adopt them; the output goes to DATA/logs/<rental>.log when it is forgotten.
 *   - sim (runtime_sim.c): SIMULATED, executes nothing: a workload lives until stopped, or
 *     for a lifetime its command (`sleep N`, `true`, `false`) or "sim:SECONDS" sets, and is
 *     reported like an exec one. The hosts of `gpurent serve --demo` run it.
 */
#ifndef GPURENT_AGENT_RUNTIME_H
#define GPURENT_AGENT_RUNTIME_H

#include "../common/compat.h"

#include <stddef.h>

#define RUNTIME_ID_MAX     48  /* a rental id, "rnt_..." */
#define RUNTIME_DETAIL_MAX 256 /* a failure's detail */
#define RUNTIME_GPUS_MAX   32
#define RUNTIME_ADOPT_MAX  64

/* One workload to start (every pointer borrowed). */
struct workload_spec {
    const char *rental_id; /* [A-Za-z0-9_-], < RUNTIME_ID_MAX */
    int64_t epoch;
    const unsigned *gpu_indices;
    unsigned gpu_count;
    const char *const *argv; /* the command, NULL-terminated; argv[0] non-NULL */
    const char *const *env;  /* "K=V" strings, NULL-terminated; NULL = none */
    const char *image;       /* docker only; NULL for exec */
    /* docker only: the host's GPUs are SIMULATED (gpu_sim.c): no --gpus (there is no GPU
       for the NVIDIA container toolkit to map); the GPU list goes in the env instead */
    bool gpus_simulated;
    /* docker only: the gpurent.agent label's value (runtime_docker_agent_id); NULL = none */
    const char *agent_label;
};

enum runtime_state {
    RUNTIME_ALIVE,   /* running */
    RUNTIME_EXITED,  /* ended: exit_code set (-1 unknown; 128+N killed by signal N) */
    RUNTIME_UNKNOWN, /* the runtime does not know the rental */
};

/* A workload found at start-up (runtime_ops.adopt). */
struct runtime_adopted {
    char rental_id[RUNTIME_ID_MAX];
    int64_t epoch;
    bool alive;    /* adopted; else it ended while the agent was away */
    int exit_code; /* when !alive: its code (docker keeps it), -1 when unknown (exec) */
};

struct runtime;

struct runtime_ops {
    const char *name;
    /* Start w. 0, or an ERR_* code with detail (what the rental's `failed` report says). */
    int (*start)(struct runtime *rt, const struct workload_spec *w, char *detail, size_t len);
    /* Where the rental's workload stands; *exit_code when RUNTIME_EXITED. Once a stop's
     * grace has passed, poll SIGKILLs what is left. */
    enum runtime_state (*poll)(struct runtime *rt, const char *rental_id, int *exit_code);
    /* Begin stopping: SIGTERM now, SIGKILL after the grace (at a later poll). A stopped
     * workload polls RUNTIME_EXITED once its process group is gone; then forget it. */
    int (*stop)(struct runtime *rt, const char *rental_id);
    /* Warn the workload that its end is near (a spot preemption notice): SIGTERM, with no
     * SIGKILL to follow; it may save its work and exit, or run on until preempted. */
    int (*notify)(struct runtime *rt, const char *rental_id);
    /* Drop what the runtime keeps about an ended rental (its state file). */
    void (*forget)(struct runtime *rt, const char *rental_id);
    /* At start-up: the workloads a previous agent left, alive or not, into out[0..*n). The
     * dead ones' state is dropped (exec; docker keeps an ended container, and its logs,
     * until forget); workloads that no rental id names are killed. */
    int (*adopt)(struct runtime *rt, struct runtime_adopted *out, unsigned max, unsigned *n);
    void (*free)(struct runtime *rt);
};

/* A runtime: its table, its data directory and the stop grace. */
struct runtime {
    const struct runtime_ops *ops;
    char *data_dir;    /* owned */
    unsigned grace_ms; /* SIGTERM to SIGKILL */
    void *priv;        /* owned by the back-end */
};

extern const struct runtime_ops runtime_exec_ops;
extern const struct runtime_ops runtime_docker_ops;
extern const struct runtime_ops runtime_sim_ops;

/*
 * A new runtime of kind "exec" or "docker" over data_dir (created with logs/ and rentals/
 * inside), or "sim" / "sim:SECONDS" (data_dir and grace unused; may be NULL). 0 and *out
 * (owned: runtime_free), or ERR_INVALID / ERR_IO / ERR_NOMEM with err.
 */
int runtime_new(struct runtime **out, const char *kind, const char *data_dir, unsigned grace_ms,
                char *err, size_t errlen);
/* The sim runtime alone: kind "sim" (workloads live until stopped) or "sim:SECONDS". */
int runtime_sim_new(struct runtime **out, const char *kind, char *err, size_t errlen);
void runtime_free(struct runtime *rt);

/* A rental id safe to use in a file name: [A-Za-z0-9_-]{1,47}. */
bool runtime_id_ok(const char *id);

/*
 * The argv of `docker run` for w: "docker" "run" "-d" "--name" "gpurent-<rental>" "--label"
 * "gpurent.rental=<rental>" "--label" "gpurent.epoch=<epoch>" ["--label"
 * "gpurent.agent=<w->agent_label>"]; then, with NVML GPUs, "--gpus" "\"device=0,1\""
 * (the NVIDIA container toolkit maps them and sets NVIDIA_VISIBLE_DEVICES inside; "--gpus"
 * "all" never; none when the rental has no GPU); then "-e" "K=V" for the workload's env; with
 * SIMULATED GPUs no --gpus but, last (so that the env cannot move the rental off its GPUs),
 * "-e" "NVIDIA_VISIBLE_DEVICES=0,1" "-e" "CUDA_VISIBLE_DEVICES=0,1" as exec sets them; then
 * IMAGE CMD... NULL.
 * 0 and *out (malloc'd array of malloc'd strings: runtime_argv_free), or ERR_INVALID (no
 * image, bad id, too many GPUs) / ERR_NOMEM.
 */
int runtime_docker_argv(char ***out, const struct workload_spec *w);
/* runtime_new's part for docker: rt->priv, with the agent id from DATA/docker-agent-id
 * (made at the first start). 0, or ERR_IO / ERR_NOMEM with err. */
int runtime_docker_init(struct runtime *rt, char *err, size_t errlen);
void runtime_argv_free(char **argv);

#endif
