/*
 * gpu_nvml.c - the real GPU back-end: NVIDIA's NVML, loaded at run time.
 *
 * dlopen("libnvidia-ml.so.1") keeps the binary free of any build-time dependency on the
 * driver: a host without one gets a clear error. The few NVML functions used are declared
 * here, by their documented C signatures (nvml.h); nothing of NVIDIA's is included.
 *
 * NVLink islands: GPUs joined by an active NVLink (directly, or through an NVSwitch, whose
 * PCI bus id is no GPU's) share an island; a GPU without NVLink is an island of its own.
 */
#include "../common/compat.h"

#include "gpu.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"

#define NVML_LIBRARY      "libnvidia-ml.so.1"
#define NVML_SUCCESS      0
#define NVML_TEMP_GPU     0  /* NVML_TEMPERATURE_GPU */
#define NVML_MAX_LINKS    18 /* NVML_NVLINK_MAX_LINKS */
#define NVML_ENABLED      1  /* NVML_FEATURE_ENABLED */
#define NVML_NAME_MAX     96
#define NVML_BUSID_MAX    32
#define NVML_SWITCH_GROUP GPU_MAX /* the union-find node of "some NVSwitch" */

/* Our own declarations of NVML's types (ABI-compatible with nvml.h). */
typedef struct nvml_device *nvml_device_t;
struct nvml_memory {
    unsigned long long total, free, used;
};
struct nvml_utilization {
    unsigned int gpu, memory;
};
struct nvml_pci_info {
    char bus_id_legacy[16];
    unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
    char bus_id[NVML_BUSID_MAX];
};

struct nvml {
    void *lib;
    unsigned count;
    nvml_device_t dev[GPU_MAX];
    int (*init)(void);
    int (*shutdown)(void);
    int (*get_count)(unsigned int *);
    int (*get_handle)(unsigned int, nvml_device_t *);
    int (*get_name)(nvml_device_t, char *, unsigned int);
    int (*get_uuid)(nvml_device_t, char *, unsigned int);
    int (*get_memory)(nvml_device_t, struct nvml_memory *);
    int (*get_util)(nvml_device_t, struct nvml_utilization *);
    int (*get_power)(nvml_device_t, unsigned int *);
    int (*get_temp)(nvml_device_t, int, unsigned int *);
    int (*get_pci)(nvml_device_t, struct nvml_pci_info *);
    int (*get_link_state)(nvml_device_t, unsigned int, int *);
    int (*get_link_remote_pci)(nvml_device_t, unsigned int, struct nvml_pci_info *);
};

static unsigned uf_find(unsigned *parent, unsigned x)
{
    while (parent[x] != x)
        x = parent[x] = parent[parent[x]];
    return x;
}

static void uf_join(unsigned *parent, unsigned a, unsigned b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a < b)
        parent[b] = a;
    else
        parent[a] = b;
}

/* NVLink islands, and each GPU's PCI bus id on the way. */
static void nvml_islands(struct nvml *n, struct gpu_info *gpus, unsigned count)
{
    struct nvml_pci_info pci[GPU_MAX];
    unsigned parent[GPU_MAX + 1], number[GPU_MAX + 1], next = 0;

    for (unsigned i = 0; i <= GPU_MAX; i++) {
        parent[i] = i;
        number[i] = UINT32_MAX;
    }
    for (unsigned i = 0; i < count; i++) {
        memset(&pci[i], 0, sizeof(pci[i]));
        n->get_pci(n->dev[i], &pci[i]);
        snprintf(gpus[i].pci_bus_id, sizeof(gpus[i].pci_bus_id), "%.*s", GPU_BUSID_MAX - 1,
                 pci[i].bus_id);
    }
    for (unsigned i = 0; i < count && n->get_link_state != NULL; i++) {
        for (unsigned l = 0; l < NVML_MAX_LINKS; l++) {
            struct nvml_pci_info remote;
            unsigned peer = NVML_SWITCH_GROUP;
            int active = 0;

            if (n->get_link_state(n->dev[i], l, &active) != NVML_SUCCESS || active != NVML_ENABLED)
                continue;
            memset(&remote, 0, sizeof(remote));
            if (n->get_link_remote_pci == NULL ||
                n->get_link_remote_pci(n->dev[i], l, &remote) != NVML_SUCCESS)
                continue;
            for (unsigned j = 0; j < count; j++) {
                if (strncmp(remote.bus_id, pci[j].bus_id, NVML_BUSID_MAX) == 0)
                    peer = j;
            }
            uf_join(parent, i, peer);
        }
    }
    for (unsigned i = 0; i < count; i++) {
        unsigned root = uf_find(parent, i);

        if (number[root] == UINT32_MAX)
            number[root] = next++;
        gpus[i].nvlink_island = number[root];
    }
}

static int nvml_discover(struct gpu_backend *b, struct gpu_info *gpus, unsigned *count, char *err,
                         size_t errlen)
{
    struct nvml *n = b->priv;

    for (unsigned i = 0; i < n->count; i++) {
        struct nvml_memory mem = {0};
        char name[NVML_NAME_MAX] = "";
        char *p;

        memset(&gpus[i], 0, sizeof(gpus[i]));
        gpus[i].index = i;
        if (n->get_uuid(n->dev[i], gpus[i].uuid, sizeof(gpus[i].uuid)) != NVML_SUCCESS ||
            n->get_name(n->dev[i], name, sizeof(name)) != NVML_SUCCESS ||
            n->get_memory(n->dev[i], &mem) != NVML_SUCCESS) {
            snprintf(err, errlen, "--gpus nvml: cannot read GPU %u's identity", i);
            return ERR_IO;
        }
        /* "NVIDIA A100-SXM4-80GB" -> "A100-SXM4-80GB": a catalogue name without spaces */
        p = strncmp(name, "NVIDIA ", 7) == 0 ? name + 7 : name;
        for (char *c = p; *c; c++) {
            if (*c == ' ')
                *c = '-';
        }
        snprintf(gpus[i].model, sizeof(gpus[i].model), "%.*s", GPU_MODEL_MAX - 1, p);
        gpus[i].memory_mib = (unsigned)(mem.total / (1024 * 1024));
    }
    nvml_islands(n, gpus, n->count);
    *count = n->count;
    return 0;
}

static int nvml_telemetry(struct gpu_backend *b, const bool *busy, struct gpu_sample *out,
                          unsigned count, double dt_s)
{
    struct nvml *n = b->priv;
    int rc = 0;

    (void)busy;
    (void)dt_s;
    for (unsigned i = 0; i < count && i < n->count; i++) {
        struct nvml_utilization u = {0};
        struct nvml_memory mem = {0};
        unsigned mw = 0, temp = 0;

        /* each reading on its own: one that fails (a board without a power sensor)
           leaves the others */
        if (n->get_util(n->dev[i], &u) != NVML_SUCCESS)
            rc = ERR_IO;
        if (n->get_memory(n->dev[i], &mem) != NVML_SUCCESS)
            rc = ERR_IO;
        if (n->get_power(n->dev[i], &mw) != NVML_SUCCESS)
            rc = ERR_IO;
        if (n->get_temp(n->dev[i], NVML_TEMP_GPU, &temp) != NVML_SUCCESS)
            rc = ERR_IO;
        out[i].util_pct = u.gpu;
        out[i].mem_used_mib = (double)mem.used / (1024.0 * 1024.0);
        out[i].power_w = mw / 1000.0;
        out[i].temp_c = temp;
    }
    return rc;
}

static void nvml_close(struct gpu_backend *b)
{
    struct nvml *n = b->priv;

    if (n == NULL)
        return;
    if (n->shutdown != NULL)
        n->shutdown();
    if (n->lib != NULL)
        dlclose(n->lib);
    free(n);
    b->priv = NULL;
}

const struct gpu_ops gpu_nvml_ops = {"nvml", nvml_discover, nvml_telemetry, nvml_close};

/* dlsym into a function pointer without a pedantic cast warning. */
#define NVML_SYM(n, field, name) (*(void **)(&(n)->field) = dlsym((n)->lib, (name)))

int gpu_nvml_open(struct gpu_backend *b, const char *lib, char *err, size_t errlen)
{
    struct nvml *n = calloc(1, sizeof(*n));
    unsigned count = 0;
    int rc = ERR_IO;

    if (n == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    b->ops = &gpu_nvml_ops;
    b->priv = n;
    n->lib = dlopen(lib != NULL ? lib : NVML_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (n->lib == NULL) {
        snprintf(err, errlen,
                 "--gpus nvml: " NVML_LIBRARY " not found (no NVIDIA driver?); use --gpus "
                 "sim:8xA100-80G for a simulated host");
        rc = ERR_NOTFOUND;
        goto fail;
    }
    if (!NVML_SYM(n, init, "nvmlInit_v2") || !NVML_SYM(n, get_count, "nvmlDeviceGetCount_v2") ||
        !NVML_SYM(n, get_handle, "nvmlDeviceGetHandleByIndex_v2") ||
        !NVML_SYM(n, get_name, "nvmlDeviceGetName") ||
        !NVML_SYM(n, get_uuid, "nvmlDeviceGetUUID") ||
        !NVML_SYM(n, get_memory, "nvmlDeviceGetMemoryInfo") ||
        !NVML_SYM(n, get_util, "nvmlDeviceGetUtilizationRates") ||
        !NVML_SYM(n, get_power, "nvmlDeviceGetPowerUsage") ||
        !NVML_SYM(n, get_temp, "nvmlDeviceGetTemperature") ||
        !NVML_SYM(n, get_pci, "nvmlDeviceGetPciInfo_v3")) {
        snprintf(err, errlen, "--gpus nvml: " NVML_LIBRARY " lacks a function gpurent needs");
        goto fail;
    }
    /* optional: without them every GPU is its own island */
    NVML_SYM(n, get_link_state, "nvmlDeviceGetNvLinkState");
    NVML_SYM(n, get_link_remote_pci, "nvmlDeviceGetNvLinkRemotePciInfo_v2");
    if (n->init() != NVML_SUCCESS) {
        snprintf(err, errlen, "--gpus nvml: nvmlInit failed (is the NVIDIA driver loaded?)");
        goto fail;
    }
    NVML_SYM(n, shutdown, "nvmlShutdown");
    if (n->get_count(&count) != NVML_SUCCESS || count == 0) {
        snprintf(err, errlen, "--gpus nvml: no GPU found");
        goto fail;
    }
    n->count = count > GPU_MAX ? GPU_MAX : count;
    for (unsigned i = 0; i < n->count; i++) {
        if (n->get_handle(i, &n->dev[i]) != NVML_SUCCESS) {
            snprintf(err, errlen, "--gpus nvml: cannot open GPU %u", i);
            goto fail;
        }
    }
    return 0;
fail:
    gpu_close(b);
    return rc;
}
