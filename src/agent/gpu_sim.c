/*
 * gpu_sim.c - the SIMULATED GPU back-end: "sim:NxMODEL".
 *
 * Nothing here touches a GPU. The GPUs are invented (uuids "GPU-SIM-<hostname>-<i>", all on
 * NVLink islands of 8 as on an HGX board) and the telemetry is synthetic: a busy GPU runs at
 * 85-99 % with 70-90 % of its memory used, an idle one at rest; power and temperature lag.
 */
#include "../common/compat.h"

#include "gpu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"

#define SIM_DEFAULT_MEMORY_MIB 81920

struct gpu_sim {
    char hostname[64];
    char model[GPU_MODEL_MAX];
    unsigned count;
    unsigned memory_mib;
    uint64_t rng;
    struct gpu_sample last[GPU_MAX];
};

/* xorshift64*, seeded from the hostname: each simulated host has its own noise. */
static double rnd(struct gpu_sim *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

static double rated_watts(const char *model)
{
    if (strstr(model, "H100") != NULL || strstr(model, "H200") != NULL)
        return 700;
    if (strstr(model, "A100") != NULL)
        return 400;
    return 300;
}

/* "A100-80G" -> 81920; no "-<N>G" suffix -> the default. */
static unsigned model_memory_mib(const char *model)
{
    const char *dash = strrchr(model, '-');
    char *end;
    unsigned long g;

    if (dash == NULL || dash[1] < '0' || dash[1] > '9')
        return SIM_DEFAULT_MEMORY_MIB;
    g = strtoul(dash + 1, &end, 10);
    if (strcmp(end, "G") != 0 || g == 0 || g > 4096)
        return SIM_DEFAULT_MEMORY_MIB;
    return (unsigned)g * 1024;
}

static int sim_discover(struct gpu_backend *b, struct gpu_info *gpus, unsigned *count, char *err,
                        size_t errlen)
{
    struct gpu_sim *s = b->priv;

    (void)err;
    (void)errlen;
    for (unsigned i = 0; i < s->count; i++) {
        memset(&gpus[i], 0, sizeof(gpus[i]));
        gpus[i].index = i;
        snprintf(gpus[i].uuid, sizeof(gpus[i].uuid), "GPU-SIM-%s-%u", s->hostname, i);
        snprintf(gpus[i].model, sizeof(gpus[i].model), "%s", s->model);
        gpus[i].memory_mib = s->memory_mib;
        gpus[i].nvlink_island = i / 8;
        snprintf(gpus[i].pci_bus_id, sizeof(gpus[i].pci_bus_id), "00000000:%02X:00.0", 0x10 + i);
    }
    *count = s->count;
    return 0;
}

static int sim_telemetry(struct gpu_backend *b, const bool *busy, struct gpu_sample *out,
                         unsigned count, double dt_s)
{
    struct gpu_sim *s = b->priv;
    double rated = rated_watts(s->model), k = dt_s >= 3 || dt_s <= 0 ? 1 : dt_s / 3;

    for (unsigned i = 0; i < count && i < s->count; i++) {
        struct gpu_sample *g = &s->last[i];
        double util = busy[i] ? 85 + 14 * rnd(s) : 0;
        double power = rated * (0.15 + 0.80 * util / 100) + 5 * rnd(s);
        double temp = 30 + 0.45 * util + 2 * rnd(s);

        g->util_pct = util; /* utilization jumps; the physical quantities lag */
        g->mem_used_mib = busy[i] ? s->memory_mib * (0.70 + 0.2 * rnd(s)) : 0;
        g->power_w += (power - g->power_w) * k;
        g->temp_c += (temp - g->temp_c) * k;
        out[i] = *g;
    }
    return 0;
}

static void sim_close(struct gpu_backend *b)
{
    free(b->priv);
    b->priv = NULL;
}

const struct gpu_ops gpu_sim_ops = {"simulated", sim_discover, sim_telemetry, sim_close};

int gpu_sim_open(struct gpu_backend *b, const char *spec, const char *hostname, char *err,
                 size_t errlen)
{
    const char *p = spec + 4, *model;
    struct gpu_sim *s;
    unsigned long n;
    char *end;

    if (strncmp(spec, "sim:", 4) != 0) {
        snprintf(err, errlen, "--gpus %s: must be nvml or sim:NxMODEL (e.g. sim:8xA100-80G)", spec);
        return ERR_INVALID;
    }
    errno = 0;
    n = *p >= '0' && *p <= '9' ? strtoul(p, &end, 10) : 0;
    if (n == 0 || errno != 0 || n > GPU_MAX || *end != 'x') {
        snprintf(err, errlen, "--gpus %s: N in sim:NxMODEL must be 1..%d", spec, GPU_MAX);
        return ERR_INVALID;
    }
    model = end + 1;
    if (*model == '\0' || strlen(model) >= GPU_MODEL_MAX || strpbrk(model, " \t\n/\"\\") != NULL) {
        snprintf(err, errlen,
                 "--gpus %s: MODEL in sim:NxMODEL must be a model name (e.g. A100-80G)", spec);
        return ERR_INVALID;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    snprintf(s->hostname, sizeof(s->hostname), "%s", hostname);
    snprintf(s->model, sizeof(s->model), "%s", model);
    s->count = (unsigned)n;
    s->memory_mib = model_memory_mib(model);
    s->rng = UINT64_C(0x9E3779B97F4A7C15);
    for (const char *c = hostname; *c; c++)
        s->rng = (s->rng ^ (unsigned char)*c) * UINT64_C(0x100000001B3);
    for (unsigned i = 0; i < s->count; i++) {
        s->last[i].power_w = rated_watts(model) * 0.15;
        s->last[i].temp_c = 30;
    }
    b->ops = &gpu_sim_ops;
    b->priv = s;
    return 0;
}

int gpu_open(struct gpu_backend *b, const char *spec, const char *hostname, char *err,
             size_t errlen)
{
    memset(b, 0, sizeof(*b));
    if (strcmp(spec, "nvml") == 0)
        return gpu_nvml_open(b, getenv("GPURENT_NVML_LIBRARY"), err, errlen);
    return gpu_sim_open(b, spec, hostname, err, errlen);
}

void gpu_close(struct gpu_backend *b)
{
    if (b != NULL && b->ops != NULL)
        b->ops->close(b);
    if (b != NULL)
        memset(b, 0, sizeof(*b));
}
