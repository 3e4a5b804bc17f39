/*
 * test_engine.c - the rental lifecycle and the scheduler: best-fit placement and NVLink
 * islands, the queue (priority, no head-of-line blocking, the starvation bound), spot
 * preemption, hosts going down, coming back, being lost, the mass-silence brake, draining,
 * restart policies and epochs, bad commands changing nothing, and determinism.
 */
#include "fixture.h"

#define A100 "A100-80G"

static struct engine *hb_engine(void)
{
    struct engine_config cfg;

    engine_config_defaults(&cfg); /* heartbeats on: 60 s timeout, lost after 300 s */
    return fx_engine(&cfg);
}

static void test_best_fit_keeps_whole_hosts(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t, h1, h2;
    uint64_t a, b, c;
    struct cmd_rental_create req;
    struct result r;
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    h1 = fx_host(e, "h1", A100, 8, 4, T0);
    h2 = fx_host(e, "h2", A100, 8, 4, T0);
    t = fx_tenant(e, "acme", "10000.00", T0);
    a = fx_rent(e, t, A100, 2, TERM_ON_DEMAND, T0);
    b = fx_rent(e, t, A100, 2, TERM_ON_DEMAND, T0);
    /* packed on the same host, on one NVLink island */
    assert_int_equal(fx_view(e, a).host, fx_view(e, b).host);
    assert_int_equal(fx_view(e, a).gpu_mask | fx_view(e, b).gpu_mask, 0x0f);
    /* the other host is still whole for an 8-GPU request */
    c = fx_rent(e, t, A100, 8, TERM_ON_DEMAND, T0);
    assert_int_equal(fx_view(e, c).gpu_mask, 0xff);
    assert_int_not_equal(fx_view(e, c).host, fx_view(e, a).host);
    assert_true(fx_view(e, c).host == h1 || fx_view(e, c).host == h2);
    /* 4 on one island fits the remaining island exactly */
    uint64_t d = fx_rent(e, t, A100, 4, TERM_ON_DEMAND, T0);
    assert_int_equal(fx_view(e, d).gpu_mask, 0xf0);
    /* full: 409 with what is free */
    req = fx_req(t, A100, 1, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0, &r), ERR_NOCAPACITY);
    assert_string_equal(r.detail, "no capacity: 0 GPUs of A100-80G free, at most 0 on one host");
    fx_check(e);
    engine_free(e);
}

static void test_islands_best_fit(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t;
    uint64_t a, b, c;
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 4, T0); /* islands {0-3} {4-7} */
    t = fx_tenant(e, "acme", "10000.00", T0);
    a = fx_rent(e, t, A100, 3, TERM_ON_DEMAND, T0);
    assert_int_equal(fx_view(e, a).gpu_mask, 0x07);
    /* 1 GPU goes to the island with 1 free, keeping the other island whole */
    b = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    assert_int_equal(fx_view(e, b).gpu_mask, 0x08);
    fx_stop(e, t, a, T0);
    /* 4 on one island: both islands fit; the tighter one (island 1 has 4, island 0 has 3) */
    c = fx_rent(e, t, A100, 4, TERM_ON_DEMAND, T0);
    assert_int_equal(fx_view(e, c).gpu_mask, 0xf0);
    fx_check(e);
    engine_free(e);
}

static void test_queue_priority_and_no_hol_blocking(void **state)
{
    struct engine_config cfg;
    struct engine *e;
    uint32_t t;
    uint64_t big, od, pkg, small, late;
    struct cmd_rental_create req;
    struct result r;
    (void)state;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0;
    cfg.starvation_passes = 2;
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, "100.00", NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100000.00", T0);
    big = fx_rent(e, t, A100, 6, TERM_ON_DEMAND, T0);
    req = fx_req(t, A100, 4, TERM_ON_DEMAND);
    req.queue = true;
    assert_int_equal(fx_create(e, &req, T0, &r), 0);
    assert_int_equal(r.state, RENTAL_PENDING);
    od = r.id;
    /* a 1-GPU request fits and goes ahead of the waiting 4-GPU one: passes = 1, 2 */
    small = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    assert_int_equal(fx_view(e, small).state, RENTAL_STARTING);
    fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    /* passed over twice: now nothing may pass it, even what would fit */
    fx_stop(e, t, small, T0 + SEC);
    req = fx_req(t, A100, 1, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0 + SEC, &r), ERR_NOCAPACITY);
    req.queue = true;
    assert_int_equal(fx_create(e, &req, T0 + SEC, &r), 0);
    late = r.id;
    assert_int_equal(fx_view(e, late).state, RENTAL_PENDING);
    /* a package queued later still outranks the waiting on_demand */
    req = fx_req(t, A100, 4, TERM_DAY);
    req.queue = true;
    assert_int_equal(fx_create(e, &req, T0 + SEC, &r), 0);
    pkg = r.id;
    fx_stop(e, t, big, T0 + 2 * SEC);
    assert_int_equal(fx_view(e, pkg).state, RENTAL_STARTING);
    assert_int_equal(fx_view(e, od).state, RENTAL_PENDING);
    assert_int_equal(fx_view(e, late).state, RENTAL_PENDING);
    fx_stop(e, t, pkg, T0 + 3 * SEC);
    assert_int_equal(fx_view(e, od).state, RENTAL_STARTING);
    assert_int_equal(fx_view(e, late).state, RENTAL_STARTING);
    fx_check(e);
    engine_free(e);
}

/* Regression: passing a waiting rental while the rental array grows (it held a pointer). */
static void test_passing_while_rentals_grow(void **state)
{
    struct engine_config cfg;
    struct engine *e;
    struct cmd_rental_create req;
    struct result r;
    uint32_t t;
    uint64_t first, waiting;
    (void)state;

    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0;
    cfg.starvation_passes = 100; /* more rentals than the array's first capacity */
    e = fx_engine(&cfg);
    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100000.00", T0);
    first = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    req = fx_req(t, A100, 8, TERM_ON_DEMAND);
    req.queue = true;
    assert_int_equal(fx_create(e, &req, T0, &r), 0);
    waiting = r.id;
    for (int i = 0; i < 100; i++) {
        uint64_t id = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0 + i * SEC);
        fx_stop(e, t, id, T0 + i * SEC);
    }
    /* passed over 100 times: nothing more may pass it */
    assert_int_equal(fx_view(e, waiting).state, RENTAL_PENDING);
    req = fx_req(t, A100, 1, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0 + 400 * SEC, &r), ERR_NOCAPACITY);
    assert_int_equal(engine_rental_count(e), 2 + 100);
    fx_stop(e, t, first, T0 + 401 * SEC);
    assert_int_equal(fx_view(e, waiting).state, RENTAL_STARTING);
    fx_check(e);
    engine_free(e);
}

static void test_spot_preemption_lowest_bid_first(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t;
    uint64_t low, high, od;
    struct cmd_rental_create req;
    struct result r;
    struct rental_view v;
    (void)state;

    fx_price(e, A100, "7.60", "2.00", NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100000.00", T0);
    req = fx_req(t, A100, 4, TERM_SPOT);
    req.max_hourly = M("3.00");
    assert_int_equal(fx_create(e, &req, T0, &r), 0);
    low = r.id;
    req.max_hourly = M("4.00");
    assert_int_equal(fx_create(e, &req, T0, &r), 0);
    high = r.id;
    fx_report(e, low, REPORT_RUNNING, 0, T0);
    fx_report(e, high, REPORT_RUNNING, 0, T0);
    /* on_demand without queue: the lowest bid gets 30 s notice, the request waits for it */
    req = fx_req(t, A100, 4, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0 + 100 * SEC, &r), 0);
    od = r.id;
    assert_int_equal(r.state, RENTAL_PENDING);
    assert_int_equal(fx_view(e, low).preempt_at, T0 + 130 * SEC);
    assert_int_equal(fx_view(e, high).preempt_at, 0);
    engine_tick(e, T0 + 129 * SEC);
    assert_int_equal(fx_view(e, low).state, RENTAL_RUNNING);
    engine_tick(e, T0 + 130 * SEC);
    v = fx_view(e, low);
    assert_int_equal(v.end_reason, END_PREEMPTED);
    /* billed through the notice, at its bid */
    assert_int_equal(v.cost, money_prorate(4 * M("3.00"), 130 * SEC));
    assert_int_equal(fx_view(e, od).state, RENTAL_STARTING);
    assert_int_equal(fx_view(e, high).state, RENTAL_RUNNING);
    /* spot never preempts: a spot request with no room is refused */
    req = fx_req(t, A100, 1, TERM_SPOT);
    req.max_hourly = M("9.00");
    assert_int_equal(fx_create(e, &req, T0 + 130 * SEC, &r), ERR_NOCAPACITY);
    fx_check(e);
    engine_free(e);
}

static void test_host_down_back_and_lost(void **state)
{
    struct engine *e = hb_engine();
    uint32_t t, h1, h2;
    uint64_t a, b;
    struct rental_view v;
    struct host_view hv;
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    h1 = fx_host(e, "h1", A100, 8, 8, T0);
    h2 = fx_host(e, "h2", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100000.00", T0);
    a = fx_rent(e, t, A100, 8, TERM_ON_DEMAND, T0);
    b = fx_rent(e, t, A100, 8, TERM_ON_DEMAND, T0);
    fx_report(e, a, REPORT_RUNNING, 0, T0);
    fx_report(e, b, REPORT_RUNNING, 0, T0);
    /* h1 keeps beating; h2 goes silent after T0 */
    for (int64_t s = 10; s <= 400; s += 10) {
        fx_heartbeat(e, fx_view(e, a).host, T0 + s * SEC);
        engine_tick(e, T0 + s * SEC);
        if (s == 60) {
            assert_int_equal(engine_host(e, fx_view(e, b).host, &hv), 0);
            assert_int_equal(hv.state, HOST_DOWN);
            assert_false(fx_view(e, b).billing);
        }
    }
    /* lost after 300 s: ended host_failed at its last heartbeat, billed to it only */
    v = fx_view(e, b);
    assert_int_equal(v.end_reason, END_HOST_FAILED);
    assert_int_equal(v.ended_at, T0);
    assert_int_equal(v.cost, 0);
    assert_int_equal(fx_view(e, a).state, RENTAL_RUNNING);
    /* the lost host comes back empty and ready */
    fx_heartbeat(e, fx_view(e, b).host, T0 + 500 * SEC);
    assert_int_equal(engine_host(e, fx_view(e, b).host, &hv), 0);
    assert_int_equal(hv.state, HOST_READY);
    assert_int_equal(hv.free_gpus, 8);
    (void)h1;
    (void)h2;
    fx_check(e);
    engine_free(e);
}

static void test_mass_silence_brake(void **state)
{
    struct engine *e = hb_engine();
    uint32_t t, h[4];
    uint64_t r[4];
    size_t alerts;
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    t = fx_tenant(e, "acme", "100000.00", T0);
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "h%d", i);
        h[i] = fx_host(e, name, A100, 8, 8, T0);
        r[i] = fx_rent(e, t, A100, 8, TERM_ON_DEMAND, T0);
        fx_report(e, r[i], REPORT_RUNNING, 0, T0);
    }
    fx_drain_count(e, EV_ALERT, -1);
    /* hosts 0 and 1 keep beating; 2 and 3 (half the fleet) go silent together */
    for (int64_t s = 10; s <= 600; s += 10) {
        fx_heartbeat(e, h[0], T0 + s * SEC);
        fx_heartbeat(e, h[1], T0 + s * SEC);
        engine_tick(e, T0 + s * SEC);
    }
    alerts = fx_drain_count(e, EV_ALERT, -1);
    assert_int_equal(alerts, 1);
    /* past lost_after, but the brake holds: nothing ended */
    assert_int_equal(fx_view(e, r[2]).state, RENTAL_RUNNING);
    assert_int_equal(fx_view(e, r[3]).state, RENTAL_RUNNING);
    /* host 2 returns: its rental resumes; the brake clears and host 3 gets a fresh
       lost_after to come back too */
    fx_heartbeat(e, h[2], T0 + 610 * SEC);
    assert_int_equal(fx_view(e, r[2]).state, RENTAL_RUNNING);
    assert_true(fx_view(e, r[2]).billing);
    assert_int_equal(fx_view(e, r[3]).state, RENTAL_RUNNING);
    for (int64_t s = 620; s <= 910; s += 10) {
        for (int i = 0; i < 3; i++)
            fx_heartbeat(e, h[i], T0 + s * SEC);
    }
    /* it did not: lost at 910 s, ended at its last heartbeat, never billed past it */
    assert_int_equal(fx_view(e, r[3]).end_reason, END_HOST_FAILED);
    assert_int_equal(fx_view(e, r[3]).ended_at, T0);
    assert_int_equal(fx_view(e, r[3]).cost, 0);
    assert_int_equal(fx_drain_count(e, EV_ALERT, -1), 1); /* the all-clear */
    fx_check(e);
    engine_free(e);
}

static void test_drain_and_undrain(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t, h;
    uint64_t a;
    struct command c = {.type = CMD_HOST_DRAIN};
    struct cmd_rental_create req;
    struct result r;
    struct offer_view o;
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    h = fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100000.00", T0);
    a = fx_rent(e, t, A100, 2, TERM_ON_DEMAND, T0);
    c.u.host.host = h;
    assert_int_equal(fx_apply(e, &c, T0, NULL), 0);
    assert_int_equal(engine_offer(e, 0, &o), 0);
    assert_int_equal(o.available_gpus, 0);
    req = fx_req(t, A100, 1, TERM_ON_DEMAND);
    req.queue = true;
    assert_int_equal(fx_create(e, &req, T0, &r), 0);
    assert_int_equal(r.state, RENTAL_PENDING);
    /* the running rental is untouched by draining */
    assert_int_equal(fx_view(e, a).state, RENTAL_STARTING);
    c.type = CMD_HOST_UNDRAIN;
    assert_int_equal(fx_apply(e, &c, T0, NULL), 0);
    assert_int_equal(fx_view(e, r.id).state, RENTAL_STARTING);
    assert_int_equal(engine_offer(e, 0, &o), 0);
    assert_int_equal(o.available_gpus, 5);
    assert_int_equal(o.max_gpus_per_host, 5);
    fx_check(e);
    engine_free(e);
}

static void test_restart_policy_and_epochs(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t;
    struct cmd_rental_create req;
    struct result r;
    struct rental_view v;
    struct rental_report stale;
    struct command c = {.type = CMD_HOST_REPORT};
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100000.00", T0);
    req = fx_req(t, A100, 1, TERM_ON_DEMAND);
    req.has_workload = true;
    req.restart = RESTART_ON_FAILURE;
    assert_int_equal(fx_create(e, &req, T0, &r), 0);
    fx_report(e, r.id, REPORT_RUNNING, 0, T0);
    /* exit 1: restarted (back to starting, a new epoch), billing paused at the exit */
    fx_report(e, r.id, REPORT_EXITED, 1, T0 + 100 * SEC);
    v = fx_view(e, r.id);
    assert_int_equal(v.state, RENTAL_STARTING);
    assert_int_equal(v.epoch, 2);
    assert_int_equal(v.billed_us, 100 * SEC);
    /* a report from the old epoch is ignored */
    stale = (struct rental_report){.rental = r.id, .epoch = 1, .state = REPORT_RUNNING};
    c.u.host_report.host = v.host;
    c.u.host_report.reports = &stale;
    c.u.host_report.count = 1;
    assert_int_equal(fx_apply(e, &c, T0 + 150 * SEC, NULL), 0);
    assert_int_equal(fx_view(e, r.id).state, RENTAL_STARTING);
    fx_report(e, r.id, REPORT_RUNNING, 0, T0 + 200 * SEC);
    /* exit 0: ends `exited` with its code, billed 100 + 50 s */
    fx_report(e, r.id, REPORT_EXITED, 0, T0 + 250 * SEC);
    v = fx_view(e, r.id);
    assert_int_equal(v.state, RENTAL_ENDED);
    assert_int_equal(v.end_reason, END_EXITED);
    assert_int_equal(v.exit_code, 0);
    assert_int_equal(v.billed_us, 150 * SEC);
    assert_int_equal(v.cost, money_prorate(M("7.60"), 150 * SEC));
    fx_check(e);
    engine_free(e);
}

static void test_start_timeout(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t;
    uint64_t a;
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100.00", T0);
    a = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    engine_tick(e, T0 + 599 * SEC);
    assert_int_equal(fx_view(e, a).state, RENTAL_STARTING);
    engine_tick(e, T0 + 600 * SEC);
    assert_int_equal(fx_view(e, a).end_reason, END_FAILED_TO_START);
    assert_int_equal(fx_view(e, a).cost, 0);
    assert_int_equal(fx_balance(e, t), M("100.00"));
    engine_free(e);
}

static void test_bad_commands_change_nothing(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t, other;
    uint64_t a;
    struct cmd_rental_create req;
    struct command c;
    struct result r;
    struct engine_stats before, after;
    (void)state;

    fx_price(e, A100, "7.60", NULL, NULL, NULL, NULL, T0);
    fx_host(e, "h1", A100, 8, 8, T0);
    t = fx_tenant(e, "acme", "100.00", T0);
    other = fx_tenant(e, "other", "100.00", T0);
    a = fx_rent(e, t, A100, 1, TERM_ON_DEMAND, T0);
    fx_drain_count(e, EV_TRANSFER, -1);
    engine_stats(e, &before);

    req = fx_req(t, "H200", 1, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0, &r), ERR_INVALID);
    assert_string_equal(r.detail, "gpu_model: unknown model \"H200\"");
    req = fx_req(t, A100, 0, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0, &r), ERR_INVALID);
    assert_string_equal(r.detail, "gpu_count: must be 1 to 8 for A100-80G");
    req.gpu_count = 9;
    assert_int_equal(fx_create(e, &req, T0, &r), ERR_INVALID);
    req = fx_req(999, A100, 1, TERM_ON_DEMAND);
    assert_int_equal(fx_create(e, &req, T0, &r), ERR_NOTFOUND);
    req = fx_req(t, A100, 1, TERM_DAY);
    assert_int_equal(fx_create(e, &req, T0, &r), ERR_INVALID);
    assert_string_equal(r.detail, "term: day is not offered for A100-80G");
    /* another tenant's rental is not found, and stays running */
    c = (struct command){.type = CMD_RENTAL_STOP};
    c.u.rental_stop.tenant = other;
    c.u.rental_stop.rental = a;
    assert_int_equal(fx_apply(e, &c, T0, &r), ERR_NOTFOUND);
    assert_int_equal(fx_view(e, a).state, RENTAL_STARTING);
    c = (struct command){.type = CMD_CREDIT};
    c.u.credit.tenant = t;
    c.u.credit.amount = -1;
    assert_int_equal(fx_apply(e, &c, T0, &r), ERR_INVALID);
    c = (struct command){.type = CMD_TENANT_CREATE};
    c.u.tenant_create.name = "";
    assert_int_equal(fx_apply(e, &c, T0, &r), ERR_INVALID);
    c = (struct command){.type = CMD_HOST_REGISTER};
    struct gpu_spec g[2] = {{0, "GPU-h1-0", A100, 81920, 0}, {1, "GPU-x", A100, 81920, 0}};
    c.u.host_register.hostname = "dup";
    c.u.host_register.gpus = g;
    c.u.host_register.gpu_count = 2;
    assert_int_equal(fx_apply(e, &c, T0, &r), ERR_EXISTS);
    assert_string_equal(r.detail, "gpus[0].uuid: GPU-h1-0 is already registered");

    engine_stats(e, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    assert_int_equal(fx_drain_count(e, EV_TRANSFER, -1), 0);
    assert_int_equal(fx_balance(e, t), M("100.00"));
    assert_int_equal(engine_rental_count(e), 1);
    assert_int_equal(engine_host_count(e), 1);
    engine_free(e);
}

static void test_credit_replay(void **state)
{
    struct engine *e = fx_engine(NULL);
    uint32_t t = fx_tenant(e, "acme", NULL, T0);
    struct command c = {.type = CMD_CREDIT};
    struct result r1, r2;
    (void)state;

    c.u.credit.tenant = t;
    c.u.credit.amount = M("50.00");
    c.u.credit.transfer_id = "wire-001";
    assert_int_equal(fx_apply(e, &c, T0, &r1), 0);
    assert_false(r1.replayed);
    assert_int_equal(r1.amount, M("50.00"));
    assert_int_equal(fx_apply(e, &c, T0 + SEC, &r2), 0);
    assert_true(r2.replayed);
    assert_int_equal(r2.id, r1.id);
    assert_int_equal(r2.amount, M("50.00"));
    assert_int_equal(fx_balance(e, t), M("50.00"));
    c.u.credit.amount = M("60.00");
    assert_int_equal(fx_apply(e, &c, T0 + SEC, &r2), ERR_CONFLICT);
    assert_int_equal(fx_balance(e, t), M("50.00"));
    assert_int_equal(engine_account_balance(e, ACCT_EXTERNAL), -M("50.00"));
    engine_free(e);
}

/* The same script twice must give byte-identical event streams, whether or not the caller
 * ticks between commands (commands do the due work first). */
static uint64_t script_hash(bool ticks)
{
    struct engine *e = hb_engine();
    struct event buf[128];
    uint64_t h = 1469598103934665603ULL;
    uint32_t t, hosts[3];
    size_t n;

    fx_price(e, A100, "7.60", "2.00", "100.00", NULL, NULL, T0);
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "h%d", i);
        hosts[i] = fx_host(e, name, A100, 8, 4, T0);
    }
    t = fx_tenant(e, "acme", "10000.00", T0);
    for (int i = 0; i < 20; i++) {
        struct cmd_rental_create req =
            fx_req(t, A100, 1 + (uint32_t)(i % 4), i % 3 ? TERM_ON_DEMAND : TERM_DAY);
        struct result r;
        req.queue = true;
        assert_int_equal(fx_create(e, &req, T0 + i * SEC, &r), 0);
        if (r.state == RENTAL_STARTING)
            fx_report(e, r.id, REPORT_RUNNING, 0, T0 + (i + 1) * SEC);
        if (i % 5 == 0)
            fx_stop(e, t, r.id, T0 + (i + 30) * SEC);
    }
    for (int64_t s = 40; s < 4000; s += 17) {
        fx_heartbeat(e, hosts[0], T0 + s * SEC);
        if (s < 1000)
            fx_heartbeat(e, hosts[1], T0 + s * SEC);
        if (ticks)
            engine_tick(e, T0 + s * SEC);
    }
    while ((n = engine_drain_events(e, buf, 128)) > 0) {
        const unsigned char *p = (const unsigned char *)buf;
        for (size_t i = 0; i < n * sizeof(buf[0]); i++) {
            h ^= p[i];
            h *= 1099511628211ULL;
        }
    }
    fx_check(e);
    engine_free(e);
    return h;
}

static void test_deterministic(void **state)
{
    (void)state;
    uint64_t h = script_hash(true);
    assert_int_equal(h, script_hash(true));
    assert_int_equal(h, script_hash(false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_best_fit_keeps_whole_hosts),
        cmocka_unit_test(test_islands_best_fit),
        cmocka_unit_test(test_queue_priority_and_no_hol_blocking),
        cmocka_unit_test(test_passing_while_rentals_grow),
        cmocka_unit_test(test_spot_preemption_lowest_bid_first),
        cmocka_unit_test(test_host_down_back_and_lost),
        cmocka_unit_test(test_mass_silence_brake),
        cmocka_unit_test(test_drain_and_undrain),
        cmocka_unit_test(test_restart_policy_and_epochs),
        cmocka_unit_test(test_start_timeout),
        cmocka_unit_test(test_bad_commands_change_nothing),
        cmocka_unit_test(test_credit_replay),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
