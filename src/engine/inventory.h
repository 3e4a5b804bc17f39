/*
 * inventory.h - hosts, their GPUs, and the placement index.
 *
 * Every host holds GPUs of one model, named by host-local indices 0..31, so a set of GPUs on
 * a host is a 32-bit mask. For each model, the placeable hosts (ready, not down or draining)
 * sit in buckets by their number of free GPUs, with a bitmask of non-empty buckets: a
 * best-fit placement (the host with the fewest free GPUs that still fits, which keeps whole
 * hosts free for 8-GPU requests) is a count-trailing-zeros and a list pop, whatever the
 * fleet size. Within the host, the GPUs come from one NVLink island when one fits (the
 * island with the fewest free GPUs that fits), else from the lowest free indices.
 */
#ifndef GPURENT_INVENTORY_H
#define GPURENT_INVENTORY_H

#include "../common/compat.h"
#include "../common/hmap.h"

#include "types.h"

#define HOSTNAME_MAX 64
#define UUID_MAX     96

struct gpu {
    char *uuid;      /* owned */
    uint64_t rental; /* 0 when free */
    uint32_t memory_mib;
    uint8_t index; /* host-local */
    uint8_t island;
};

struct host {
    char hostname[HOSTNAME_MAX];
    uint32_t model;
    enum host_state state;
    bool drained;   /* the operator asked to drain: stays draining after coming back */
    bool placeable; /* in its model's buckets */
    uint8_t gpu_count;
    uint32_t gpu_first;                /* its GPUs are gpus[gpu_first .. gpu_first + gpu_count) */
    uint32_t all_mask;                 /* host-local indices present */
    uint32_t free_mask;                /* host-local indices free */
    uint32_t bucket_prev, bucket_next; /* host numbers, 0 = none */
    int64_t registered_at;
    int64_t last_heartbeat;
    int64_t lost_at; /* while down: when its rentals are lost */
    bool has_cost;
    struct cost_basis cost;
};

struct pool {
    uint32_t head[MAX_GPUS_PER_HOST + 1]; /* hosts by free GPU count; 0 = empty */
    uint64_t nonempty;                    /* bit k set when head[k] != 0 */
    uint32_t free_gpus;                   /* free GPUs on placeable hosts */
    uint32_t gpus;                        /* all GPUs of the model */
    uint32_t hosts;
    uint32_t largest_host;
};

struct inventory {
    struct host *hosts; /* owned; hosts[0] unused so host numbers start at 1 */
    uint32_t host_count, host_cap;
    struct gpu *gpus; /* owned */
    uint32_t gpu_count, gpu_cap;
    struct hmap uuid_index; /* uuid -> gpu number */
    struct pool *pools;     /* owned; one per model */
    uint32_t pool_count;
};

int inventory_init(struct inventory *inv);
void inventory_release(struct inventory *inv);

/* Make sure a pool exists for model numbers < n; 0 or ERR_NOMEM. */
int inventory_ensure_pools(struct inventory *inv, uint32_t n);

/* Is this UUID registered? */
bool inventory_has_uuid(const struct inventory *inv, const char *uuid);

/*
 * Add a host (validated by the caller: 1..32 GPUs, unique indices < 32, unique UUIDs, one
 * model) in state ready and placeable. 0 and *out (the host number), or ERR_NOMEM.
 */
struct gpu_spec;
int inventory_add_host(struct inventory *inv, const char *hostname, uint32_t model,
                       const struct gpu_spec *gpus, uint32_t count, int64_t now, uint32_t *out);

static inline struct host *inventory_host(const struct inventory *inv, uint32_t id)
{
    return id >= 1 && id < inv->host_count ? &inv->hosts[id] : NULL;
}

/* The GPU with host-local index idx, or NULL. */
struct gpu *inventory_gpu(const struct inventory *inv, const struct host *h, uint32_t idx);

/* Choose n GPUs of model on one placeable host (best fit): 0 with *host and *mask set, or
 * ERR_NOCAPACITY. Chooses only; inventory_take commits. */
int inventory_choose(const struct inventory *inv, uint32_t model, uint32_t n, uint32_t *host,
                     uint32_t *mask);

/* Choose n GPUs on a given host, which must have them free. */
uint32_t inventory_choose_on(const struct inventory *inv, uint32_t host, uint32_t n);

/* Allocate mask on host to rental (all free), or free them again. */
void inventory_take(struct inventory *inv, uint32_t host, uint32_t mask, uint64_t rental);
void inventory_give_back(struct inventory *inv, uint32_t host, uint32_t mask);

/* Put a host in or out of its model's placement buckets (ready vs draining/down). */
void inventory_set_placeable(struct inventory *inv, uint32_t host, bool placeable);

/* Largest request placeable now for the model (0 when none). */
uint32_t inventory_max_free_on_host(const struct inventory *inv, uint32_t model);

#endif
