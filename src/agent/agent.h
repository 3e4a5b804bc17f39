/*
 * agent.h - `gpurent agent`: the host agent that runs on every GPU server.
 *
 * It registers with a join token (once: the host id and agent key are kept in
 * DATA/agent.json, mode 0600, so a restart heartbeats at once), then heartbeats every
 * --heartbeat-interval seconds with its GPUs' telemetry and the rentals it runs, and treats
 * each reply as the desired state (level-triggered):
 *   - a rental in `run` that it does not run is started (a start failure is reported
 *     `failed` with its detail); it is reported `running` only while its process lives;
 *   - a rental in `stop`, or no longer in `run`, is stopped (SIGTERM, SIGKILL after
 *     --stop-grace); an ended one is forgotten once the server no longer lists it in `run`;
 *   - after --fence-after seconds without a successful heartbeat it stops every workload
 *     (fenced), so that nothing runs unpaid on a host the control plane has given up on.
 * SIGTERM or SIGINT ends the agent and leaves the workloads running: the next agent on the
 * same data directory adopts them.
 * GPUs come from gpu.h's back-ends (nvml, or a SIMULATED sim:NxMODEL), workloads from
 * runtime.h's (exec, docker, or the SIMULATED sim).
 *
 * The same loop also runs in-process, on a thread of its own (agent_start): that is how
 * `gpurent serve --demo` runs its SIMULATED fleet (sim GPUs, sim runtime), over HTTP to the
 * server like any agent.
 */
#ifndef GPURENT_AGENT_H
#define GPURENT_AGENT_H

#include "../common/compat.h"

#include <stddef.h>

/* `gpurent agent [options]` (argv[0] is "agent"): the exit status (0, 1 failure, 2 usage). */
int agent_main(int argc, char **argv);

/* An in-process agent: what `gpurent agent`'s options say (strings are copied). */
struct agent_config {
    const char *server;       /* "http://127.0.0.1:8080" */
    const char *join_token;   /* register with this one-use token, or resume with: */
    const char *host_id;      /* a host registered before ("hst_...") */
    const char *agent_key;    /* and a key of its own (from the file, or minted by an admin) */
    const char *data_dir;     /* NULL: no credentials file (the sim runtime keeps none) */
    const char *gpus_spec;    /* "sim:8xA100-80G" or "nvml" */
    const char *runtime_kind; /* "sim", "exec" or "docker" */
    const char *hostname;     /* 1..63 characters */
    const char *log_prefix;   /* every log line's start; NULL: "gpurent: agent: " */
    unsigned heartbeat_s;     /* 0: 5 */
    unsigned fence_s;         /* 0: 240 */
    unsigned grace_s;
};

struct agent;

/* Start an agent on a thread of its own: 0 and *out (owned: agent_stop), or ERR_INVALID
 * (a bad config, GPUs or runtime: err says which) / ERR_NOMEM. */
int agent_start(struct agent **out, const struct agent_config *cfg, char *err, size_t errlen);

/* Wait up to timeout_ms for it to register (or resume): 0 with its host id, ERR_INVALID when
 * the server refused it, ERR_IO on timeout; err says why. */
int agent_wait_registered(struct agent *a, unsigned timeout_ms, char *host_id, size_t len,
                          char *err, size_t errlen);

/* Stop the loop (at its next round: within a heartbeat interval), join the thread, free the
 * agent. Its simulated workloads end with it. Accepts NULL. */
void agent_stop(struct agent *a);

/*
 * The reply decoder without a server, for tests/fuzz/fuzz_agent_reply.c: an agent that
 * holds no connection, with the GPUs of gpus_spec ("sim:4xA100-80G") and the runtime rt
 * (borrowed). agent_apply_reply takes text as a heartbeat reply, as the loop does: parsed as
 * the client parses it, applied (start, stop, notify workloads through rt), then the
 * workloads polled and the next heartbeat's body built. 0, or -1 when text is not JSON (the
 * client would have failed the request).
 */
struct runtime;
int agent_new_detached(struct agent **out, struct runtime *rt, const char *gpus_spec, char *err,
                       size_t cap);
int agent_apply_reply(struct agent *a, const char *text, size_t len);
void agent_free_detached(struct agent *a);

#endif
