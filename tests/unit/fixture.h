/*
 * fixture.h - helpers shared by the engine's unit tests: an engine with a priced model, hosts,
 * funded tenants, and one-line wrappers for the commands a test issues. Every wrapper asserts
 * the command's expected outcome, so a test reads as the scenario it checks.
 */
#ifndef GPURENT_TEST_FIXTURE_H
#define GPURENT_TEST_FIXTURE_H

#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "engine/engine.h"
#include "engine/ledger.h"
#include "engine/money.h"

#define SEC USEC_PER_SEC
#define T0  (INT64_C(1795132800) * SEC) /* 2026-11-20T00:00:00Z */

static inline int64_t M(const char *s)
{
    int64_t v = 0;
    assert_int_equal(money_parse(&v, s), 0);
    return v;
}

static inline struct engine *fx_engine(struct engine_config *cfg)
{
    struct engine *e = NULL;
    struct engine_config def;
    if (cfg == NULL) {
        engine_config_defaults(&def);
        def.heartbeat_timeout = 0;
        cfg = &def;
    }
    assert_int_equal(engine_new(&e, cfg), 0);
    return e;
}

static inline int fx_apply(struct engine *e, struct command *c, int64_t now, struct result *r)
{
    struct result local;
    return engine_apply(e, c, now, r ? r : &local);
}

static inline void fx_price(struct engine *e, const char *model, const char *od, const char *spot,
                            const char *day, const char *week, const char *month, int64_t now)
{
    struct command c = {.type = CMD_PRICE_SET};
    c.u.price_set.gpu_model = model;
    c.u.price_set.on_demand_hourly = M(od);
    c.u.price_set.spot_floor_hourly = spot ? M(spot) : 0;
    c.u.price_set.package[0] = day ? M(day) : 0;
    c.u.price_set.package[1] = week ? M(week) : 0;
    c.u.price_set.package[2] = month ? M(month) : 0;
    assert_int_equal(fx_apply(e, &c, now, NULL), 0);
}

/* A host of n GPUs of model; GPUs i and i+1 share island i/islands_of. */
static inline uint32_t fx_host(struct engine *e, const char *name, const char *model, uint32_t n,
                               uint32_t island_size, int64_t now)
{
    struct gpu_spec g[MAX_GPUS_PER_HOST];
    char uuids[MAX_GPUS_PER_HOST][48];
    struct command c = {.type = CMD_HOST_REGISTER};
    struct result r;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(uuids[i], sizeof(uuids[i]), "GPU-%s-%u", name, i);
        g[i] = (struct gpu_spec){.index = i,
                                 .uuid = uuids[i],
                                 .model = model,
                                 .memory_mib = 81920,
                                 .nvlink_island = i / island_size};
    }
    c.u.host_register.hostname = name;
    c.u.host_register.gpus = g;
    c.u.host_register.gpu_count = n;
    assert_int_equal(fx_apply(e, &c, now, &r), 0);
    return (uint32_t)r.id;
}

static inline uint32_t fx_tenant(struct engine *e, const char *name, const char *credit,
                                 int64_t now)
{
    struct command c = {.type = CMD_TENANT_CREATE};
    struct result r;
    c.u.tenant_create.name = name;
    assert_int_equal(fx_apply(e, &c, now, &r), 0);
    if (credit != NULL) {
        struct command k = {.type = CMD_CREDIT};
        k.u.credit.tenant = (uint32_t)r.id;
        k.u.credit.amount = M(credit);
        assert_int_equal(fx_apply(e, &k, now, NULL), 0);
    }
    return (uint32_t)r.id;
}

static inline struct cmd_rental_create fx_req(uint32_t tenant, const char *model, uint32_t n,
                                              enum term term)
{
    struct cmd_rental_create rc;
    memset(&rc, 0, sizeof(rc));
    rc.tenant = tenant;
    rc.gpu_model = model;
    rc.gpu_count = n;
    rc.term = term;
    return rc;
}

static inline int fx_create(struct engine *e, const struct cmd_rental_create *req, int64_t now,
                            struct result *out)
{
    struct command c = {.type = CMD_RENTAL_CREATE};
    c.u.rental_create = *req;
    return fx_apply(e, &c, now, out);
}

/* Create and expect success; returns the rental id. */
static inline uint64_t fx_rent(struct engine *e, uint32_t tenant, const char *model, uint32_t n,
                               enum term term, int64_t now)
{
    struct cmd_rental_create req = fx_req(tenant, model, n, term);
    struct result r;
    assert_int_equal(fx_create(e, &req, now, &r), 0);
    return r.id;
}

static inline struct rental_view fx_view(struct engine *e, uint64_t id)
{
    struct rental_view v;
    assert_int_equal(engine_rental(e, id, &v), 0);
    return v;
}

static inline void fx_report(struct engine *e, uint64_t rental, enum report_state st, int code,
                             int64_t now)
{
    struct rental_view v = fx_view(e, rental);
    struct rental_report rep = {.rental = rental, .epoch = v.epoch, .state = st, .exit_code = code};
    struct command c = {.type = CMD_HOST_REPORT};
    c.u.host_report.host = v.host;
    c.u.host_report.reports = &rep;
    c.u.host_report.count = 1;
    assert_int_equal(fx_apply(e, &c, now, NULL), 0);
}

static inline void fx_heartbeat(struct engine *e, uint32_t host, int64_t now)
{
    struct command c = {.type = CMD_HOST_REPORT};
    c.u.host_report.host = host;
    assert_int_equal(fx_apply(e, &c, now, NULL), 0);
}

static inline void fx_stop(struct engine *e, uint32_t tenant, uint64_t rental, int64_t now)
{
    struct command c = {.type = CMD_RENTAL_STOP};
    c.u.rental_stop.tenant = tenant;
    c.u.rental_stop.rental = rental;
    assert_int_equal(fx_apply(e, &c, now, NULL), 0);
}

static inline int64_t fx_balance(struct engine *e, uint32_t tenant)
{
    struct tenant_view t;
    assert_int_equal(engine_tenant(e, tenant, &t), 0);
    return t.balance;
}

static inline void fx_check(struct engine *e)
{
    char detail[256] = "";
    int rc = engine_check(e, detail, sizeof(detail));
    if (rc != 0)
        fail_msg("engine_check: %s", detail);
}

/* Drain every pending event and count those of a type (and, for rental states, target). */
static inline size_t fx_drain_count(struct engine *e, enum event_type type, int to)
{
    struct event buf[256];
    size_t n, count = 0;
    while ((n = engine_drain_events(e, buf, 256)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (buf[i].type == type && (to < 0 || (int)buf[i].u.rental.to == to))
                count++;
        }
    }
    return count;
}

#endif
