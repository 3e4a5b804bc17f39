/*
 * records.h - the API layer's in-memory records beside the engine: the latest telemetry of
 * each GPU, as its agent last reported it, and its recent history (the last
 * TELEMETRY_HISTORY reports, an hour at the agent's 5-second heartbeat) for the console.
 *
 * Telemetry is not platform state (nothing is decided from it), so it is neither logged nor
 * stored: a restart forgets it until the next heartbeat. Written by the engine thread (in a
 * heartbeat's hook, for the reporting host's own GPUs only, so the table is bounded by the
 * fleet) and read by HTTP threads; one mutex, taken after the engine lock.
 */
#ifndef GPURENT_API_RECORDS_H
#define GPURENT_API_RECORDS_H

#include "../../common/compat.h"
#include "../../common/hmap.h"

#include <pthread.h>

/* One GPU's last report. Fields the agent left out are absent (has_* false). */
struct gpu_telemetry {
    int64_t at; /* when it was reported (µs) */
    bool has_util, has_mem, has_power, has_temp;
    double util_pct;
    int64_t mem_used_mib;
    double power_w;
    double temp_c;
};

/* A rental's idle_stop rule and how long it has been idle. Used by the engine thread only
 * (in heartbeat hooks), so it needs no lock. */
struct idle_rule {
    bool loaded; /* read from the rental's stored workload record */
    bool has_rule;
    double below_pct; /* idle: every GPU of the rental under this utilization */
    int64_t minutes;
    int64_t idle_since; /* µs, 0 = not idle */
};

/* Reports kept per GPU: a ring, the oldest overwritten (720 x 48 B = 34 KiB a GPU, allocated
 * at its first report). */
#define TELEMETRY_HISTORY 720

struct telemetry_ring {
    struct gpu_telemetry *s; /* owned; TELEMETRY_HISTORY entries, allocated at the first */
    uint32_t next, count;
};

struct api_records {
    pthread_mutex_t lock;
    struct hmap by_uuid;             /* GPU uuid -> index into telemetry and history */
    struct gpu_telemetry *telemetry; /* owned */
    struct telemetry_ring *history;  /* owned; parallel to telemetry */
    uint32_t count, cap;
    struct hmap by_rental;  /* rental id -> index into idle (engine thread only) */
    struct idle_rule *idle; /* owned */
    uint32_t idle_count, idle_cap;
};

/* 0 and *out (owned: api_records_free), or ERR_NOMEM. */
int api_records_new(struct api_records **out);
void api_records_free(struct api_records *r);

/* Remember t as the latest telemetry of uuid: 0 or ERR_NOMEM. */
int api_telemetry_put(struct api_records *r, const char *uuid, const struct gpu_telemetry *t);
/* The latest telemetry of uuid: true and *out, or false when none was reported. */
bool api_telemetry_get(struct api_records *r, const char *uuid, struct gpu_telemetry *out);
/* The reports of uuid made in [from, to] (µs), oldest first, at most cap of them into out:
 * the number copied (the newest when more match). */
uint32_t api_telemetry_history(struct api_records *r, const char *uuid, int64_t from, int64_t to,
                               struct gpu_telemetry *out, uint32_t cap);

/* The idle rule record of rental (created not loaded when new): 0 and *out, or ERR_NOMEM.
 * The pointer is valid until the next call. Engine thread only. */
int api_idle_rule(struct api_records *r, uint64_t rental, struct idle_rule **out);

#endif
