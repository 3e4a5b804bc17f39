#include "../common/compat.h"

#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "engine.h"
#include "inventory.h"

int inventory_init(struct inventory *inv)
{
    memset(inv, 0, sizeof(*inv));
    hmap_init(&inv->uuid_index);
    inv->hosts = calloc(16, sizeof(*inv->hosts));
    if (inv->hosts == NULL)
        return ERR_NOMEM;
    inv->host_cap = 16;
    inv->host_count = 1; /* host 0 is "none" */
    return 0;
}

void inventory_release(struct inventory *inv)
{
    for (uint32_t i = 0; i < inv->gpu_count; i++)
        free(inv->gpus[i].uuid);
    free(inv->gpus);
    free(inv->hosts);
    free(inv->pools);
    hmap_release(&inv->uuid_index);
    memset(inv, 0, sizeof(*inv));
}

int inventory_ensure_pools(struct inventory *inv, uint32_t n)
{
    struct pool *p;

    if (n <= inv->pool_count)
        return 0;
    p = realloc(inv->pools, n * sizeof(*p));
    if (p == NULL)
        return ERR_NOMEM;
    memset(p + inv->pool_count, 0, (n - inv->pool_count) * sizeof(*p));
    inv->pools = p;
    inv->pool_count = n;
    return 0;
}

bool inventory_has_uuid(const struct inventory *inv, const char *uuid)
{
    uint32_t i;

    return hmap_get(&inv->uuid_index, uuid, &i) == 0;
}

static void bucket_unlink(struct inventory *inv, uint32_t id)
{
    struct host *h = &inv->hosts[id];
    struct pool *p = &inv->pools[h->model];
    uint32_t k = (uint32_t)__builtin_popcount(h->free_mask);

    if (h->bucket_prev)
        inv->hosts[h->bucket_prev].bucket_next = h->bucket_next;
    else
        p->head[k] = h->bucket_next;
    if (h->bucket_next)
        inv->hosts[h->bucket_next].bucket_prev = h->bucket_prev;
    if (p->head[k] == 0)
        p->nonempty &= ~(UINT64_C(1) << k);
    h->bucket_prev = h->bucket_next = 0;
}

static void bucket_link(struct inventory *inv, uint32_t id)
{
    struct host *h = &inv->hosts[id];
    struct pool *p = &inv->pools[h->model];
    uint32_t k = (uint32_t)__builtin_popcount(h->free_mask);

    h->bucket_prev = 0;
    h->bucket_next = p->head[k];
    if (p->head[k])
        inv->hosts[p->head[k]].bucket_prev = id;
    p->head[k] = id;
    p->nonempty |= UINT64_C(1) << k;
}

int inventory_add_host(struct inventory *inv, const char *hostname, uint32_t model,
                       const struct gpu_spec *gpus, uint32_t count, int64_t now, uint32_t *out)
{
    struct host *h;
    uint32_t id;
    size_t len;

    if (inv->host_count == inv->host_cap) {
        uint32_t cap = inv->host_cap * 2;
        struct host *hh = realloc(inv->hosts, cap * sizeof(*hh));
        if (hh == NULL)
            return ERR_NOMEM;
        inv->hosts = hh;
        inv->host_cap = cap;
    }
    if (inv->gpu_count + count > inv->gpu_cap) {
        uint32_t cap = inv->gpu_cap ? inv->gpu_cap : 64;
        struct gpu *gg;
        while (cap < inv->gpu_count + count)
            cap *= 2;
        gg = realloc(inv->gpus, cap * sizeof(*gg));
        if (gg == NULL)
            return ERR_NOMEM;
        inv->gpus = gg;
        inv->gpu_cap = cap;
    }
    id = inv->host_count;
    h = &inv->hosts[id];
    memset(h, 0, sizeof(*h));
    len = strlen(hostname);
    if (len >= HOSTNAME_MAX)
        len = HOSTNAME_MAX - 1;
    memcpy(h->hostname, hostname, len);
    h->model = model;
    h->state = HOST_READY;
    h->gpu_first = inv->gpu_count;
    h->gpu_count = (uint8_t)count;
    h->registered_at = now;
    h->last_heartbeat = now;
    /* GPUs are stored in index order so a mask walks them in order */
    for (uint32_t placed = 0; placed < count; placed++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t j = 0; j < count; j++) {
            if (!(h->all_mask & (1u << gpus[j].index)) &&
                (best == UINT32_MAX || gpus[j].index < gpus[best].index))
                best = j;
        }
        struct gpu *g = &inv->gpus[inv->gpu_count];
        g->uuid = strdup(gpus[best].uuid);
        if (g->uuid == NULL || hmap_put(&inv->uuid_index, g->uuid, inv->gpu_count) < 0) {
            free(g->uuid);
            return ERR_NOMEM; /* partially added GPUs are unreachable: an OOM leak only */
        }
        g->rental = 0;
        g->memory_mib = gpus[best].memory_mib;
        g->index = (uint8_t)gpus[best].index;
        g->island = (uint8_t)gpus[best].nvlink_island;
        h->all_mask |= 1u << g->index;
        inv->gpu_count++;
    }
    h->free_mask = h->all_mask;
    inv->host_count++;
    inv->pools[model].gpus += count;
    inv->pools[model].hosts++;
    if (count > inv->pools[model].largest_host)
        inv->pools[model].largest_host = count;
    inventory_set_placeable(inv, id, true);
    *out = id;
    return 0;
}

struct gpu *inventory_gpu(const struct inventory *inv, const struct host *h, uint32_t idx)
{
    for (uint32_t i = 0; i < h->gpu_count; i++) {
        if (inv->gpus[h->gpu_first + i].index == idx)
            return &inv->gpus[h->gpu_first + i];
    }
    return NULL;
}

uint32_t inventory_choose_on(const struct inventory *inv, uint32_t id, uint32_t n)
{
    const struct host *h = &inv->hosts[id];
    uint32_t island_free[MAX_GPUS_PER_HOST] = {0};
    uint32_t best_island = UINT32_MAX;
    uint32_t mask = 0;

    for (uint32_t i = 0; i < h->gpu_count; i++) {
        const struct gpu *g = &inv->gpus[h->gpu_first + i];
        if (h->free_mask & (1u << g->index))
            island_free[g->island % MAX_GPUS_PER_HOST]++;
    }
    for (uint32_t k = 0; k < MAX_GPUS_PER_HOST; k++) {
        if (island_free[k] >= n &&
            (best_island == UINT32_MAX || island_free[k] < island_free[best_island]))
            best_island = k;
    }
    for (uint32_t i = 0; i < h->gpu_count && (uint32_t)__builtin_popcount(mask) < n; i++) {
        const struct gpu *g = &inv->gpus[h->gpu_first + i];
        if ((h->free_mask & (1u << g->index)) &&
            (best_island == UINT32_MAX || g->island % MAX_GPUS_PER_HOST == best_island))
            mask |= 1u << g->index;
    }
    return mask;
}

int inventory_choose(const struct inventory *inv, uint32_t model, uint32_t n, uint32_t *host,
                     uint32_t *mask)
{
    const struct pool *p;
    uint64_t fits;
    uint32_t k;

    if (model >= inv->pool_count || n == 0 || n > MAX_GPUS_PER_HOST)
        return ERR_NOCAPACITY;
    p = &inv->pools[model];
    fits = p->nonempty >> n;
    if (fits == 0)
        return ERR_NOCAPACITY;
    k = n + (uint32_t)__builtin_ctzll(fits);
    *host = p->head[k];
    *mask = inventory_choose_on(inv, *host, n);
    return 0;
}

static void set_gpus(struct inventory *inv, struct host *h, uint32_t mask, uint64_t rental)
{
    for (uint32_t i = 0; i < h->gpu_count; i++) {
        struct gpu *g = &inv->gpus[h->gpu_first + i];
        if (mask & (1u << g->index))
            g->rental = rental;
    }
}

void inventory_take(struct inventory *inv, uint32_t id, uint32_t mask, uint64_t rental)
{
    struct host *h = &inv->hosts[id];

    if (h->placeable) {
        bucket_unlink(inv, id);
        inv->pools[h->model].free_gpus -= (uint32_t)__builtin_popcount(mask);
    }
    h->free_mask &= ~mask;
    set_gpus(inv, h, mask, rental);
    if (h->placeable)
        bucket_link(inv, id);
}

void inventory_give_back(struct inventory *inv, uint32_t id, uint32_t mask)
{
    struct host *h = &inv->hosts[id];

    if (h->placeable) {
        bucket_unlink(inv, id);
        inv->pools[h->model].free_gpus += (uint32_t)__builtin_popcount(mask);
    }
    h->free_mask |= mask;
    set_gpus(inv, h, mask, 0);
    if (h->placeable)
        bucket_link(inv, id);
}

void inventory_set_placeable(struct inventory *inv, uint32_t id, bool placeable)
{
    struct host *h = &inv->hosts[id];

    if (h->placeable == placeable)
        return;
    if (placeable) {
        bucket_link(inv, id);
        inv->pools[h->model].free_gpus += (uint32_t)__builtin_popcount(h->free_mask);
    } else {
        bucket_unlink(inv, id);
        inv->pools[h->model].free_gpus -= (uint32_t)__builtin_popcount(h->free_mask);
    }
    h->placeable = placeable;
}

uint32_t inventory_max_free_on_host(const struct inventory *inv, uint32_t model)
{
    uint64_t ne;

    if (model >= inv->pool_count)
        return 0;
    ne = inv->pools[model].nonempty & ~UINT64_C(1); /* bucket 0 holds full hosts */
    return ne ? 63u - (uint32_t)__builtin_clzll(ne) : 0;
}
