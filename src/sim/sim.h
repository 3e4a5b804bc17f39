/*
 * sim.h - the real engine on a virtual clock: fleet + prices + demand -> a business report.
 *
 * sim_run sets the engine up from a scenario at its start time (prices, coupons, tenants
 * funded with CMD_CREDIT, hosts with their cost basis), then advances a virtual clock from
 * event to event: the next request arrival, the next report due from a simulated agent, or
 * engine_next_deadline(), whichever comes first. At each step it calls engine_tick(now),
 * then applies the agent reports and the arrivals due, draining the engine's events after
 * every call into a fixed buffer.
 *
 * The simulator plays the host agents. When a rental is placed, the agent reports it
 * `running` start_delay later (with the rental's current epoch); when its workload has run
 * for the request's duration it reports `exited` (code 0) and the engine ends the rental.
 * Packages run until they expire. Hosts never heartbeat: the heartbeat timeout is disabled.
 *
 * Deterministic: the same scenario and seed give the same report, byte for byte.
 */
#ifndef GPURENT_SIM_SIM_H
#define GPURENT_SIM_SIM_H

#include "../common/compat.h"

#include "report.h"
#include "scenario.h"

struct sim_options {
    uint32_t days; /* 0 = the scenario's */
    bool has_seed; /* use seed instead of the scenario's */
    uint64_t seed;
};

/*
 * Run sc and fill *out (initialised here; release with report_release). Returns 0, or a
 * negative code with a message in err[cap] (the engine refused the setup, an invariant
 * failed, out of memory). sc is borrowed.
 */
int sim_run(const struct scenario *sc, const struct sim_options *opt, struct report *out, char *err,
            size_t cap);

#endif
