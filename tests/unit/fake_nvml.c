/*
 * fake_nvml.c - a stand-in for NVIDIA's libnvidia-ml.so.1, for tests on machines without a
 * GPU. It exports the NVML functions gpu_nvml.c loads (by their documented C signatures)
 * and answers from a table of invented GPUs. Built twice: as a library the unit test loads
 * by path, and as libnvidia-ml.so.1 in a folder of its own that the CLI test puts on
 * LD_LIBRARY_PATH for `gpurent agent --gpus nvml --list-gpus`.
 *
 * The default fleet, five GPUs:
 *   0, 1  "NVIDIA A100-SXM4-80GB", joined by a direct NVLink (link 0 of each);
 *   2, 3  "NVIDIA H100 80GB HBM3", each with an active link to an NVSwitch (bus 0xA0), whose
 *         PCI bus id is no GPU's;
 *   4     "NVIDIA L4", 24 GiB, its only link disabled (pointing at GPU 0): an island alone.
 * Expected islands: 0 0 1 1 2. fake_nvml_set (found with dlsym) changes the behaviour:
 * how many GPUs, and which call fails.
 */
#include <stdio.h>
#include <string.h>

#define OK              0
#define ERR_UNINIT      1
#define ERR_INVALID_ARG 2
#define ERR_NOT_FOUND   6
#define ERR_UNKNOWN     999
#define LINKS           18

struct memory {
    unsigned long long total, free, used;
};
struct utilization {
    unsigned int gpu, memory;
};
struct pci {
    char bus_id_legacy[16];
    unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
    char bus_id[32];
};

struct fake_gpu {
    const char *name, *uuid;
    unsigned long long total_mib, used_mib;
    unsigned util, power_mw, temp, bus;
    int link_peer[LINKS]; /* -1 none, -2 the NVSwitch, else a GPU index */
    int link_active[LINKS];
};

static struct fake_gpu gpus[] = {
    {"NVIDIA A100-SXM4-80GB",
     "GPU-11111111-2222-3333-4444-555555555550",
     81920,
     1024,
     37,
     251234,
     61,
     0x07,
     {1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {1}},
    {"NVIDIA A100-SXM4-80GB",
     "GPU-11111111-2222-3333-4444-555555555551",
     81920,
     0,
     0,
     60500,
     34,
     0x0F,
     {0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {1}},
    {"NVIDIA H100 80GB HBM3",
     "GPU-11111111-2222-3333-4444-555555555552",
     81559,
     40000,
     99,
     699900,
     80,
     0x47,
     {-2, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {1, 1}},
    {"NVIDIA H100 80GB HBM3",
     "GPU-11111111-2222-3333-4444-555555555553",
     81559,
     0,
     0,
     71000,
     30,
     0x4E,
     {-2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {1}},
    {"NVIDIA L4",
     "GPU-11111111-2222-3333-4444-555555555554",
     23034,
     512,
     5,
     16000,
     40,
     0x87,
     {0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
     {0}},
};

#define FAKE_COUNT (sizeof(gpus) / sizeof(gpus[0]))

/* What to break: fake_nvml_set's names. */
static unsigned count = FAKE_COUNT;
static int fail_init, fail_identity, fail_power;
static int inits, shutdowns;

/* count_: GPUs reported (0..5); fail_: 1 makes nvmlInit, the identity of GPU 1 (its uuid),
 * or every power reading fail. */
void fake_nvml_set(unsigned count_, int fail_init_, int fail_identity_, int fail_power_);
void fake_nvml_set(unsigned count_, int fail_init_, int fail_identity_, int fail_power_)
{
    count = count_ > FAKE_COUNT ? FAKE_COUNT : count_;
    fail_init = fail_init_;
    fail_identity = fail_identity_;
    fail_power = fail_power_;
}

/* How often nvmlInit_v2 and nvmlShutdown were called. */
void fake_nvml_calls(int *inits_, int *shutdowns_);
void fake_nvml_calls(int *inits_, int *shutdowns_)
{
    *inits_ = inits;
    *shutdowns_ = shutdowns;
}

typedef struct fake_gpu *device_t;

static int dev_index(device_t d)
{
    long i = d - gpus;

    return d != NULL && i >= 0 && i < (long)count ? (int)i : -1;
}

int nvmlInit_v2(void);
int nvmlInit_v2(void)
{
    inits++;
    return fail_init ? ERR_UNKNOWN : OK;
}

int nvmlShutdown(void);
int nvmlShutdown(void)
{
    shutdowns++;
    return OK;
}

int nvmlDeviceGetCount_v2(unsigned int *n);
int nvmlDeviceGetCount_v2(unsigned int *n)
{
    *n = count;
    return OK;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, device_t *out);
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, device_t *out)
{
    if (i >= count)
        return ERR_INVALID_ARG;
    *out = &gpus[i];
    return OK;
}

int nvmlDeviceGetName(device_t d, char *buf, unsigned int len);
int nvmlDeviceGetName(device_t d, char *buf, unsigned int len)
{
    if (dev_index(d) < 0)
        return ERR_INVALID_ARG;
    snprintf(buf, len, "%s", d->name);
    return OK;
}

int nvmlDeviceGetUUID(device_t d, char *buf, unsigned int len);
int nvmlDeviceGetUUID(device_t d, char *buf, unsigned int len)
{
    int i = dev_index(d);

    if (i < 0 || (fail_identity && i == 1))
        return ERR_UNKNOWN;
    snprintf(buf, len, "%s", d->uuid);
    return OK;
}

int nvmlDeviceGetMemoryInfo(device_t d, struct memory *m);
int nvmlDeviceGetMemoryInfo(device_t d, struct memory *m)
{
    if (dev_index(d) < 0)
        return ERR_INVALID_ARG;
    m->total = d->total_mib * 1024 * 1024;
    m->used = d->used_mib * 1024 * 1024;
    m->free = m->total - m->used;
    return OK;
}

int nvmlDeviceGetUtilizationRates(device_t d, struct utilization *u);
int nvmlDeviceGetUtilizationRates(device_t d, struct utilization *u)
{
    if (dev_index(d) < 0)
        return ERR_INVALID_ARG;
    u->gpu = d->util;
    u->memory = d->util / 2;
    return OK;
}

int nvmlDeviceGetPowerUsage(device_t d, unsigned int *mw);
int nvmlDeviceGetPowerUsage(device_t d, unsigned int *mw)
{
    if (dev_index(d) < 0 || fail_power)
        return ERR_UNKNOWN;
    *mw = d->power_mw;
    return OK;
}

int nvmlDeviceGetTemperature(device_t d, int sensor, unsigned int *c);
int nvmlDeviceGetTemperature(device_t d, int sensor, unsigned int *c)
{
    if (dev_index(d) < 0 || sensor != 0)
        return ERR_INVALID_ARG;
    *c = d->temp;
    return OK;
}

static void fill_pci(struct pci *p, unsigned bus)
{
    memset(p, 0, sizeof(*p));
    p->bus = bus;
    snprintf(p->bus_id_legacy, sizeof(p->bus_id_legacy), "0000:%02X:00.0", bus);
    snprintf(p->bus_id, sizeof(p->bus_id), "00000000:%02X:00.0", bus);
}

int nvmlDeviceGetPciInfo_v3(device_t d, struct pci *p);
int nvmlDeviceGetPciInfo_v3(device_t d, struct pci *p)
{
    if (dev_index(d) < 0)
        return ERR_INVALID_ARG;
    fill_pci(p, d->bus);
    return OK;
}

int nvmlDeviceGetNvLinkState(device_t d, unsigned int link, int *active);
int nvmlDeviceGetNvLinkState(device_t d, unsigned int link, int *active)
{
    if (dev_index(d) < 0 || link >= LINKS)
        return ERR_INVALID_ARG;
    if (d->link_peer[link] == -1)
        return ERR_NOT_FOUND; /* no such link on this board */
    *active = d->link_active[link];
    return OK;
}

int nvmlDeviceGetNvLinkRemotePciInfo_v2(device_t d, unsigned int link, struct pci *p);
int nvmlDeviceGetNvLinkRemotePciInfo_v2(device_t d, unsigned int link, struct pci *p)
{
    int peer;

    if (dev_index(d) < 0 || link >= LINKS || d->link_peer[link] == -1)
        return ERR_INVALID_ARG;
    peer = d->link_peer[link];
    fill_pci(p, peer == -2 ? 0xA0 : gpus[peer].bus);
    return OK;
}
