/*
 * fuzz_scenario.c - the simulator's scenario files (sim/scenario.h, docs/simulator.md),
 * loaded by scenario_load from a scratch directory as `gpurent simulate DIR` loads them.
 *
 * The input is a set of files, each starting with a line "--- NAME" (scenario.json,
 * fleet.json, prices.json, demand.csv or demand.json; other names are skipped) and running
 * to the next such line. A scenario that loads must be what a run can rely on: the counts
 * add up, every index (model, tenant, coupon) is in range, the trace is sorted and starts
 * at the start or later, the generator's weights are relative: finite, >= 0, with a sum above
 * zero (demand.c turns them into a distribution).
 */
#include "common/compat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"scenario.json", "fleet.json", "prices.json", "demand.csv",
                                    "demand.json"};
static char dir[512];

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_scenario: a loaded scenario is wrong: %s\n", what);
    abort();
}

static void clear_dir(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

static void make_dir(void)
{
    struct stat st;
    const char *base = getenv("TMPDIR");

    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    else if (base == NULL || *base == '\0')
        base = "/tmp";
    snprintf(dir, sizeof(dir), "%s/gpurent-fuzz-scenario-XXXXXX", base);
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(remove_dir);
}

/* The first line at or after p (a line start) that begins with "--- ", or end. */
static const char *next_header(const char *p, const char *end)
{
    while (p < end) {
        const char *nl;
        if (end - p >= 4 && memcmp(p, "--- ", 4) == 0)
            return p;
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return end;
        p = nl + 1;
    }
    return end;
}

/* Write the input's files; a name given twice keeps its last content. */
static void write_files(const uint8_t *data, size_t size)
{
    const char *end = (const char *)data + size, *p = next_header((const char *)data, end);

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *body, *next;
        size_t name_len;

        if (nl == NULL)
            break;
        body = nl + 1;
        next = next_header(body, end);
        name_len = (size_t)(nl - p) - 4;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
            char path[600];
            FILE *f;

            if (strlen(names[i]) != name_len || memcmp(p + 4, names[i], name_len) != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            f = fopen(path, "wb");
            if (f == NULL || fwrite(body, 1, (size_t)(next - body), f) != (size_t)(next - body) ||
                fclose(f) != 0) {
                perror(path);
                abort();
            }
        }
        p = next;
    }
}

static void check(const struct scenario *sc)
{
    uint32_t hosts = 0, gpus = 0;

    if (sc->days < 1 || sc->days > SCENARIO_MAX_DAYS || scenario_end(sc) <= sc->start)
        fail("period");
    if (sc->model_count == 0 || sc->model_count > SCENARIO_MAX_MODELS || sc->group_count == 0)
        fail("models or groups");
    for (uint32_t i = 0; i < sc->group_count; i++) {
        const struct scenario_host_group *g = &sc->groups[i];
        if (g->model >= sc->model_count || g->count == 0 || g->gpus_per_host == 0 ||
            g->gpus_per_host > MAX_GPUS_PER_HOST || g->nvlink_islands == 0 ||
            g->gpus_per_host % g->nvlink_islands != 0)
            fail("a host group");
        hosts += g->count;
        gpus += g->count * g->gpus_per_host;
    }
    if (hosts != sc->host_count || gpus != sc->gpu_count || hosts > SCENARIO_MAX_HOSTS)
        fail("host or GPU count");
    for (uint32_t i = 0; i < sc->model_count; i++) {
        if (sc->models[i].name == NULL || !sc->models[i].priced ||
            sc->models[i].price.on_demand_hourly <= 0)
            fail("a model without a price");
    }
    for (uint32_t i = 0; i < sc->coupon_count; i++) {
        const struct scenario_coupon *c = &sc->coupons[i];
        if (c->code == NULL || c->model >= (int32_t)sc->model_count || c->model < -1 ||
            (c->percent_off_bp == 0) == (c->amount_off == 0) || c->percent_off_bp > 10000)
            fail("a coupon");
    }
    if (sc->demand == DEMAND_TRACE) {
        for (size_t i = 0; i < sc->request_count; i++) {
            const struct scenario_request *r = &sc->requests[i];
            if (r->model >= sc->model_count || r->tenant >= sc->tenant_name_count ||
                r->coupon >= (int32_t)sc->coupon_count || r->coupon < -1)
                fail("a trace request's index");
            if (r->gpu_count == 0 || r->gpu_count > sc->models[r->model].largest_host)
                fail("a trace request's gpu_count");
            /* later than the period is kept: `--days` may lengthen it (demand.c skips them) */
            if (r->at < sc->start)
                fail("a trace request before the start");
            if (i > 0 && r->at < sc->requests[i - 1].at)
                fail("the trace is not sorted");
        }
    } else {
        for (uint32_t i = 0; i < sc->param_count; i++) {
            const struct demand_model_params *p = &sc->params[i];
            double sizes = 0, terms = 0;
            if (p->model >= sc->model_count || !(p->arrivals_per_hour > 0) ||
                p->coupon_count > DEMAND_MAX_COUPONS_PER_MODEL)
                fail("a generator model");
            for (size_t k = 0; k <= MAX_GPUS_PER_HOST; k++) {
                if (!(p->size_weight[k] >= 0))
                    fail("a negative or NaN size weight");
                sizes += p->size_weight[k];
            }
            for (size_t k = 0; k < TERM_COUNT; k++) {
                if (!(p->term_weight[k] >= 0))
                    fail("a negative or NaN term weight");
                terms += p->term_weight[k];
            }
            if (!(sizes > 0) || !isfinite(sizes) || !(terms > 0) || !isfinite(terms))
                fail("weights without a positive, finite sum");
            for (uint32_t k = 0; k < p->coupon_count; k++) {
                if (p->coupon[k] >= sc->coupon_count)
                    fail("a generator coupon");
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario sc;
    char err[SCENARIO_ERR_MAX];

    if (dir[0] == '\0')
        make_dir();
    clear_dir();
    write_files(data, size);
    if (scenario_load(&sc, dir, err, sizeof(err)) == 0)
        check(&sc);
    else if (getenv("FUZZ_VERBOSE") != NULL) /* to see what a seed does */
        fprintf(stderr, "fuzz_scenario: %s\n", err);
    scenario_release(&sc);
    return 0;
}
