/*
 * agent.h - `gpurent agent`: the host agent that runs on every GPU server.
 *
 * It registers with a join token (once: the host id and agent key are kept in
 * DATA/agent.json, mode 0600, so a restart heartbeats at once), then heartbeats every
 * --heartbeat-interval seconds with its GPUs' telemetry and the rentals it runs, and treats
 * each reply as the desired state (level-triggered, like simagent.c, whose loop it keeps):
 *   - a rental in `run` that it does not run is started (a start failure is reported
 *     `failed` with its detail); it is reported `running` only while its process lives;
 *   - a rental in `stop`, or no longer in `run`, is stopped (SIGTERM, SIGKILL after
 *     --stop-grace); an ended one is forgotten once the server no longer lists it in `run`;
 *   - after --fence-after seconds without a successful heartbeat it stops every workload
 *     (fenced), so that nothing runs unpaid on a host the control plane has given up on.
 * SIGTERM or SIGINT ends the agent and leaves the workloads running: the next agent on the
 * same data directory adopts them.
 * GPUs come from gpu.h's back-ends (nvml, or a SIMULATED sim:NxMODEL), workloads from
 * runtime.h's (exec, docker).
 */
#ifndef GPURENT_AGENT_H
#define GPURENT_AGENT_H

/* `gpurent agent [options]` (argv[0] is "agent"): the exit status (0, 1 failure, 2 usage). */
int agent_main(int argc, char **argv);

/*
 * The reply decoder without a server, for tests/fuzz/fuzz_agent_reply.c: an agent that
 * holds no connection, with the GPUs of gpus_spec ("sim:4xA100-80G") and the runtime rt
 * (borrowed). agent_apply_reply takes text as a heartbeat reply, as the loop does: parsed as
 * the client parses it, applied (start, stop, notify workloads through rt), then the
 * workloads polled and the next heartbeat's body built. 0, or -1 when text is not JSON (the
 * client would have failed the request).
 */
struct agent;
struct runtime;
int agent_new_detached(struct agent **out, struct runtime *rt, const char *gpus_spec, char *err,
                       size_t cap);
int agent_apply_reply(struct agent *a, const char *text, size_t len);
void agent_free_detached(struct agent *a);

#endif
