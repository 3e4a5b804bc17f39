/*
 * demo.h - what `gpurent serve --demo` adds to a running server: a price list, a SIMULATED
 * fleet and a demo tenant with credit, all made through the public REST API.
 *
 * It sits above the server, the agent and the client (beside main.c), so that none of them
 * depends on another: the server calls these through its serve_hooks. Everything it makes
 * is ordinary platform state (prices, hosts, a tenant, a top-up): the only simulated part is
 * the hosts, whose agents are the real agent loop (src/agent/agent.h, agent_start) on threads
 * of the server's process, with SIMULATED GPUs named "GPU-SIM-<hostname>-<i>" on hosts named
 * "sim-..." and the SIMULATED runtime, which executes nothing (`sleep N`, `true` and `false`
 * end as they would; any other command runs until stopped).
 */
#ifndef GPURENT_DEMO_H
#define GPURENT_DEMO_H

#include "common/compat.h"

/*
 * As admin (admin_key) on the server at url ("http://127.0.0.1:8080"):
 *   - PUT the demo prices: A100-80G 15.10 /GPU-h on demand, spot floor 6.00, packages day
 *     182.40, week 1209.60, month 4968.00; H100-80G 25.00, spot floor 10.00;
 *   - start three simulated hosts with a join token each: two of 8 A100-80G, one of 8
 *     H100-80G, heartbeating every second, and give each a cost basis (so that
 *     `gpurent economics` has depreciation, power and hosting to show);
 *   - create the tenant "demo" with a 1000.00 credit (on a data directory that already has
 *     it, reuse it and mint it a new key).
 * Prints the demo tenant's key and what to try on stdout. Returns 0 and *state (owned:
 * demo_stop), or an ERR_* code with a message in err. Matches serve_hooks.demo_start.
 */
int demo_start(const char *url, const char *admin_key, void **state, char *err, size_t cap);

/* Stop the simulated agents (joining their threads: up to a heartbeat, 1 s) and free the
 * state. Accepts NULL. Call it before the HTTP server stops, or the agents log failed
 * heartbeats. */
void demo_stop(void *state);

/* The demo tenant's id and API key (borrowed from state, valid until demo_stop). */
const char *demo_tenant_id(const void *state);
const char *demo_tenant_key(const void *state);

#endif
