/*
 * simagent.h - a SIMULATED host agent: the fleet of `gpurent serve --demo`.
 *
 * A simagent is a thread that behaves toward the control plane exactly like a real host
 * agent, over the real HTTP path (src/client/): it registers with a join token, then
 * heartbeats every heartbeat_ms with its GPUs' telemetry and the rentals it runs, and
 * treats each reply as the desired state (level-triggered, like a kubelet). Nothing about
 * it is real: its GPUs are invented (uuids "GPU-SIM-<hostname>-<i>"), its telemetry is
 * synthetic (utilization 0 when idle, 85-99 % while a rental runs, power and temperature
 * following), and it executes nothing:
 *   - a rental in the reply's `run` that it does not run yet becomes `starting`, and
 *     `running` from the next heartbeat on;
 *   - a rental in `stop` is dropped (so is an ended one no longer in `run`);
 *   - a workload command is never executed. Three commands are understood, to demo a
 *     workload's end: `sleep N` exits 0 after N seconds, `true` exits 0 and `false` exits 1
 *     right after starting. Any other command runs until the rental is stopped.
 *   - after SIMAGENT_FENCE_MS without reaching the control plane it drops everything it
 *     runs, as the real agent fences itself so that nothing runs unpaid.
 *
 * The real agent (NVML GPUs, exec/docker workloads) keeps this loop and swaps the two
 * simulated back-ends in simagent.c (GPU discovery and telemetry; the workload runtime)
 * for real ones behind the same tables.
 */
#ifndef GPURENT_SIMAGENT_H
#define GPURENT_SIMAGENT_H

#include "../common/compat.h"

#define SIMAGENT_MAX_GPUS     32           /* as MAX_GPUS_PER_HOST */
#define SIMAGENT_FENCE_MS     (240 * 1000) /* no contact this long: drop every rental */
#define SIMAGENT_ERR_MAX      256
#define SIMAGENT_HOSTNAME_MAX 64

struct simagent;

/*
 * Start a simulated agent for a host of gpu_count (1..SIMAGENT_MAX_GPUS) GPUs of one model
 * with memory_mib each, all on one NVLink island (an HGX board), talking to server_url. The
 * thread registers with join_token (retrying while the server cannot be reached) and then
 * heartbeats every heartbeat_ms (100..600000). Strings are copied.
 * Returns 0 and *out (owned: simagent_stop), ERR_INVALID for a bad argument or ERR_NOMEM.
 */
int simagent_start(struct simagent **out, const char *server_url, const char *join_token,
                   const char *hostname, unsigned gpu_count, const char *model, unsigned memory_mib,
                   unsigned heartbeat_ms);

/* Everything a simulated agent is started with. */
struct simagent_config {
    const char *server_url;
    const char *join_token; /* register with this one-use token ... */
    const char *host_id;    /* ... or, for a host registered before, its id ("hst_...") */
    const char *agent_key;  /* and its agent key: no registration, heartbeats at once */
    const char *hostname;   /* the uuids are "GPU-SIM-<hostname>-<index>" */
    const char *model;
    unsigned gpu_count;
    unsigned memory_mib;
    unsigned heartbeat_ms;
};

/* simagent_start with a config (strings copied): a new host (join_token) or one that
 * registered before (host_id and agent_key, as a real agent keeps them across restarts). */
int simagent_start_with(struct simagent **out, const struct simagent_config *cfg);

/* Stop the thread (it sends nothing more), join it and free the agent. Accepts NULL. */
void simagent_stop(struct simagent *a);

enum simagent_phase {
    SIMAGENT_REGISTERING, /* has not registered yet (retrying) */
    SIMAGENT_RUNNING,     /* registered, heartbeating */
    SIMAGENT_FAILED,      /* registration refused: the thread has ended (see error) */
};

/* A snapshot of what the agent is doing. */
struct simagent_status {
    enum simagent_phase phase;
    char host_id[32];             /* once registered */
    uint64_t heartbeats_ok;       /* heartbeats the server answered 2xx */
    uint64_t heartbeats_failed;   /* heartbeats that failed */
    unsigned rentals;             /* rentals it holds (starting, running or exited) */
    char error[SIMAGENT_ERR_MAX]; /* the last failure, "" when none */
};

void simagent_status(struct simagent *a, struct simagent_status *out);

/*
 * Wait up to timeout_ms for the agent to register: 0 once it has, ERR_INVALID when the
 * server refused it (status.error says why), ERR_IO on timeout.
 */
int simagent_wait_registered(struct simagent *a, unsigned timeout_ms);

#endif
