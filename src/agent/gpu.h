/*
 * gpu.h - the host agent's GPU back-ends: discover the GPUs, sample their telemetry.
 *
 * Two back-ends behind one table (STYLE.md rule 7):
 *   - nvml (gpu_nvml.c): the real one. NVML is loaded at run time with
 *     dlopen("libnvidia-ml.so.1"), so the binary has no build-time dependency on the driver;
 *   - sim (gpu_sim.c): a SIMULATED host, "sim:NxMODEL" (e.g. sim:8xA100-80G). Its GPUs are
 *     invented (uuids "GPU-SIM-<hostname>-<i>") and its telemetry is synthetic: it follows
 *     whether a workload runs on the GPU, nothing more.
 */
#ifndef GPURENT_AGENT_GPU_H
#define GPURENT_AGENT_GPU_H

#include "../common/compat.h"

#include <stddef.h>

#define GPU_MAX       32 /* as MAX_GPUS_PER_HOST */
#define GPU_UUID_MAX  96
#define GPU_MODEL_MAX 64
#define GPU_BUSID_MAX 32

/* A GPU as the agent registers it. */
struct gpu_info {
    unsigned index;                 /* 0..count-1, NVML's order */
    char uuid[GPU_UUID_MAX];        /* "GPU-..." */
    char model[GPU_MODEL_MAX];      /* the catalogue's model name */
    unsigned memory_mib;            /* total memory */
    unsigned nvlink_island;         /* GPUs with the same number talk over NVLink */
    char pci_bus_id[GPU_BUSID_MAX]; /* "00000000:07:00.0" (nvidia-smi's pci.bus_id) */
};

/* One GPU's telemetry, as sent in a heartbeat. */
struct gpu_sample {
    double util_pct;     /* 0..100 */
    double mem_used_mib; /* memory in use */
    double power_w;      /* board power */
    double temp_c;       /* core temperature */
};

struct gpu_backend;

struct gpu_ops {
    const char *name; /* "nvml" or "simulated" */
    /* Fill gpus[0..*count) (at most GPU_MAX): 0, or an ERR_* code with err set. */
    int (*discover)(struct gpu_backend *b, struct gpu_info *gpus, unsigned *count, char *err,
                    size_t errlen);
    /* Sample count GPUs into out; busy[i]: a workload runs on GPU i; dt_s since the last
     * sample. 0, or an ERR_* code (the samples are then zero). */
    int (*telemetry)(struct gpu_backend *b, const bool *busy, struct gpu_sample *out,
                     unsigned count, double dt_s);
    /* Release the back-end's state (not b itself). */
    void (*close)(struct gpu_backend *b);
};

/* A back-end and its state; gpu_open fills it, gpu_close releases it. */
struct gpu_backend {
    const struct gpu_ops *ops;
    void *priv; /* owned by the back-end */
};

extern const struct gpu_ops gpu_sim_ops;  /* SIMULATED */
extern const struct gpu_ops gpu_nvml_ops; /* NVIDIA's driver through NVML */

/*
 * Open the back-end that spec names: "nvml" or "sim:NxMODEL" (N 1..GPU_MAX; MODEL's memory
 * from a "-<N>G" suffix, else 80 GiB). hostname (borrowed) names the simulated uuids.
 * 0 and *b filled, or ERR_INVALID (a bad spec) / ERR_NOTFOUND (NVML absent) / ERR_IO with a
 * one-line message in err: what the agent prints after "gpurent: agent: ".
 */
int gpu_open(struct gpu_backend *b, const char *spec, const char *hostname, char *err,
             size_t errlen);
int gpu_sim_open(struct gpu_backend *b, const char *spec, const char *hostname, char *err,
                 size_t errlen);
/* NVML from library path lib (NULL: "libnvidia-ml.so.1"). */
int gpu_nvml_open(struct gpu_backend *b, const char *lib, char *err, size_t errlen);
/* Release b's state. Accepts a zeroed backend. */
void gpu_close(struct gpu_backend *b);

#endif
