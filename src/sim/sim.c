#include "../common/compat.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/timeutil.h"
#include "../engine/economics.h"
#include "../engine/engine.h"
#include "../engine/money.h"
#include "demand.h"
#include "sim.h"

#define EVENT_BATCH 1024 /* events drained per call; they never pile up in the engine */
#define STALL_LIMIT 64   /* steps without progress before the run is declared stuck */

/* What the simulator remembers of each rental, indexed by the engine's rental number. */
enum sim_rental_flag {
    SR_KNOWN = 1,   /* created by this run */
    SR_QUEUED = 2,  /* created pending */
    SR_PLACED = 4,  /* given GPUs (at once or from the queue) */
    SR_PACKAGE = 8, /* day/week/month: ends on its own */
    SR_ENDED = 16,
};

struct sim_rental {
    int64_t created_at;
    int64_t duration; /* µs the workload runs once started */
    uint32_t model;   /* scenario model */
    uint32_t flags;
};

/* What a simulated agent or tenant will do about a rental. */
enum job_kind {
    JOB_RUNNING, /* the agent reports the workload running */
    JOB_EXITED,  /* the agent reports the workload exited (code 0) */
    JOB_GIVE_UP, /* the tenant stops a request still queued */
};

/* Something due at `at`. Ordered by (at, seq): FIFO on ties. */
struct agent_job {
    int64_t at;
    uint64_t seq;
    uint64_t rental;
    enum job_kind kind;
};

struct wait_sample {
    int64_t us;
    uint32_t model;
};

struct sim {
    struct engine *e;          /* owned */
    const struct scenario *sc; /* borrowed */
    struct report *rep;        /* borrowed: the output */
    int64_t now, start, end;
    struct sim_rental *rentals; /* owned; by rental number */
    size_t rental_cap;
    struct agent_job *heap; /* owned; a binary min-heap */
    size_t heap_len, heap_cap;
    uint64_t seq;
    struct wait_sample *waits; /* owned */
    size_t wait_len, wait_cap;
    uint32_t *tenant_ids; /* owned; engine tenant by scenario tenant */
    uint32_t tenant_count;
    struct report_requests *req; /* owned; per scenario model */
    char *err;
    size_t cap;
    struct event events[EVENT_BATCH];
};

static int fail(struct sim *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct sim *s, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, s->cap, fmt, ap);
    va_end(ap);
    return code;
}

static void note_problem(struct sim *s, const char *what, const char *detail)
{
    char at[TIME_STR_MAX];

    if (s->rep->first_problem[0] == '\0')
        snprintf(s->rep->first_problem, sizeof(s->rep->first_problem), "%s at %s: %s", what,
                 time_format(at, s->now), detail);
}

/* ---- Agent report heap --------------------------------------------------------------- */

static bool job_before(const struct agent_job *a, const struct agent_job *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static int schedule(struct sim *s, int64_t at, uint64_t rental, enum job_kind kind)
{
    size_t i;

    if (s->heap_len == s->heap_cap) {
        size_t ncap = s->heap_cap ? s->heap_cap * 2 : 1024;
        struct agent_job *n = realloc(s->heap, ncap * sizeof(*n));

        if (n == NULL)
            return fail(s, ERR_NOMEM, "out of memory");
        s->heap = n;
        s->heap_cap = ncap;
    }
    i = s->heap_len++;
    s->heap[i] = (struct agent_job){at, s->seq++, rental, kind};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        struct agent_job tmp;

        if (!job_before(&s->heap[i], &s->heap[parent]))
            break;
        tmp = s->heap[i];
        s->heap[i] = s->heap[parent];
        s->heap[parent] = tmp;
        i = parent;
    }
    return 0;
}

static struct agent_job heap_pop(struct sim *s)
{
    struct agent_job top = s->heap[0];
    size_t i = 0;

    s->heap[0] = s->heap[--s->heap_len];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        struct agent_job tmp;

        if (l < s->heap_len && job_before(&s->heap[l], &s->heap[m]))
            m = l;
        if (r < s->heap_len && job_before(&s->heap[r], &s->heap[m]))
            m = r;
        if (m == i)
            break;
        tmp = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = tmp;
        i = m;
    }
    return top;
}

/* ---- Rentals and events -------------------------------------------------------------- */

static struct sim_rental *rental_get(struct sim *s, uint64_t id)
{
    if (id >= s->rental_cap || !(s->rentals[id].flags & SR_KNOWN))
        return NULL;
    return &s->rentals[id];
}

static int rental_add(struct sim *s, uint64_t id, const struct sim_rental *r)
{
    if (id >= s->rental_cap) {
        size_t ncap = s->rental_cap ? s->rental_cap : 1024;
        struct sim_rental *n;

        while (ncap <= id)
            ncap *= 2;
        n = realloc(s->rentals, ncap * sizeof(*n));
        if (n == NULL)
            return fail(s, ERR_NOMEM, "out of memory");
        memset(n + s->rental_cap, 0, (ncap - s->rental_cap) * sizeof(*n));
        s->rentals = n;
        s->rental_cap = ncap;
    }
    s->rentals[id] = *r;
    s->rentals[id].flags |= SR_KNOWN;
    return 0;
}

static int add_wait(struct sim *s, uint32_t model, int64_t us)
{
    if (s->wait_len == s->wait_cap) {
        size_t ncap = s->wait_cap ? s->wait_cap * 2 : 1024;
        struct wait_sample *n = realloc(s->waits, ncap * sizeof(*n));

        if (n == NULL)
            return fail(s, ERR_NOMEM, "out of memory");
        s->waits = n;
        s->wait_cap = ncap;
    }
    s->waits[s->wait_len++] = (struct wait_sample){us, model};
    return 0;
}

static int on_event(struct sim *s, const struct event *ev)
{
    struct sim_rental *r;
    struct report_requests *q;

    if (ev->type != EV_RENTAL_STATE)
        return 0;
    r = rental_get(s, ev->id);
    if (r == NULL)
        return 0;
    q = &s->req[r->model];
    switch (ev->u.rental.to) {
    case RENTAL_STARTING:
        if (r->flags & SR_PLACED)
            return 0; /* placed at creation: scheduled already */
        r->flags |= SR_PLACED;
        if (r->flags & SR_QUEUED) {
            int rc;

            q->placed_from_queue++;
            rc = add_wait(s, r->model, ev->at - r->created_at);
            if (rc != 0)
                return rc;
        }
        return schedule(s, ev->at + s->sc->start_delay, ev->id, JOB_RUNNING);
    case RENTAL_RUNNING:
        if (r->flags & SR_PACKAGE)
            return 0;
        return schedule(s, ev->at + r->duration, ev->id, JOB_EXITED);
    case RENTAL_ENDED:
        if (r->flags & SR_ENDED)
            return 0;
        r->flags |= SR_ENDED;
        if ((unsigned)ev->u.rental.reason < END_REASON_COUNT)
            q->ended[ev->u.rental.reason]++;
        if (ev->u.rental.reason == END_PREEMPTED)
            q->preempted++;
        return 0;
    default:
        return 0;
    }
}

/* Move every pending engine event through on_event, EVENT_BATCH at a time. */
static int drain(struct sim *s)
{
    size_t n;

    do {
        n = engine_drain_events(s->e, s->events, EVENT_BATCH);
        s->rep->events += n;
        for (size_t i = 0; i < n; i++) {
            int rc = on_event(s, &s->events[i]);

            if (rc != 0)
                return rc;
        }
    } while (n == EVENT_BATCH);
    return 0;
}

static int apply(struct sim *s, const struct command *c, struct result *res)
{
    s->rep->commands++;
    return engine_apply(s->e, c, s->now, res);
}

/* ---- Setting the engine up ----------------------------------------------------------- */

static int setup_catalogue(struct sim *s)
{
    const struct scenario *sc = s->sc;
    struct command c;
    struct result res;

    for (uint32_t m = 0; m < sc->model_count; m++) {
        const struct scenario_model *sm = &sc->models[m];

        memset(&c, 0, sizeof(c));
        c.type = CMD_PRICE_SET;
        c.u.price_set.gpu_model = sm->name;
        c.u.price_set.memory_mib = sm->memory_mib;
        c.u.price_set.on_demand_hourly = sm->price.on_demand_hourly;
        c.u.price_set.spot_floor_hourly = sm->price.spot_floor_hourly;
        memcpy(c.u.price_set.package, sm->price.package, sizeof(c.u.price_set.package));
        if (apply(s, &c, &res) != 0)
            return fail(s, res.code, "the engine refused the prices of \"%s\": %s", sm->name,
                        res.detail);
    }
    for (uint32_t i = 0; i < sc->coupon_count; i++) {
        const struct scenario_coupon *sp = &sc->coupons[i];

        memset(&c, 0, sizeof(c));
        c.type = CMD_COUPON_CREATE;
        c.u.coupon_create.code = sp->code;
        c.u.coupon_create.percent_off_bp = sp->percent_off_bp;
        c.u.coupon_create.amount_off = sp->amount_off;
        c.u.coupon_create.max_redemptions = sp->max_redemptions;
        c.u.coupon_create.valid_until = sp->valid_until;
        c.u.coupon_create.gpu_model = sp->model >= 0 ? sc->models[sp->model].name : NULL;
        c.u.coupon_create.term = sp->term;
        c.u.coupon_create.automatic = sp->automatic;
        c.u.coupon_create.once_per_tenant = sp->once_per_tenant;
        if (apply(s, &c, &res) != 0)
            return fail(s, res.code, "the engine refused coupon \"%s\": %s", sp->code, res.detail);
    }
    return drain(s);
}

static int setup_tenants(struct sim *s)
{
    const struct scenario *sc = s->sc;
    struct command c;
    struct result res;
    char name[SCENARIO_NAME_MAX + 1];
    int rc;

    s->tenant_count = sc->demand == DEMAND_TRACE ? sc->tenant_name_count : sc->tenants;
    s->tenant_ids = calloc(s->tenant_count ? s->tenant_count : 1, sizeof(*s->tenant_ids));
    if (s->tenant_ids == NULL)
        return fail(s, ERR_NOMEM, "out of memory");
    for (uint32_t t = 0; t < s->tenant_count; t++) {
        if (sc->demand == DEMAND_TRACE)
            snprintf(name, sizeof(name), "%s", sc->tenant_names[t]);
        else
            snprintf(name, sizeof(name), "tenant-%04u", t + 1);
        memset(&c, 0, sizeof(c));
        c.type = CMD_TENANT_CREATE;
        c.u.tenant_create.name = name;
        c.u.tenant_create.credit_limit = sc->tenant_credit_limit;
        if (apply(s, &c, &res) != 0)
            return fail(s, res.code, "the engine refused tenant \"%s\": %s", name, res.detail);
        s->tenant_ids[t] = (uint32_t)res.id;
        if (sc->tenant_credit > 0) {
            memset(&c, 0, sizeof(c));
            c.type = CMD_CREDIT;
            c.u.credit.tenant = s->tenant_ids[t];
            c.u.credit.amount = sc->tenant_credit;
            c.u.credit.reference = "simulator: initial credit";
            if (apply(s, &c, &res) != 0)
                return fail(s, res.code, "the engine refused to credit tenant \"%s\": %s", name,
                            res.detail);
        }
        if ((t & 1023) == 1023 && (rc = drain(s)) != 0)
            return rc;
    }
    return drain(s);
}

static int setup_hosts(struct sim *s)
{
    const struct scenario *sc = s->sc;
    struct gpu_spec gpus[MAX_GPUS_PER_HOST];
    char uuids[MAX_GPUS_PER_HOST][SCENARIO_NAME_MAX + 32];
    char hostname[SCENARIO_NAME_MAX + 16];
    struct command c;
    struct result res;
    int rc;

    for (uint32_t g = 0; g < sc->group_count; g++) {
        const struct scenario_host_group *hg = &sc->groups[g];
        uint32_t per_island = hg->gpus_per_host / hg->nvlink_islands;

        for (uint32_t h = 1; h <= hg->count; h++) {
            snprintf(hostname, sizeof(hostname), "%s-%03u", hg->hostname_prefix, h);
            for (uint32_t i = 0; i < hg->gpus_per_host; i++) {
                snprintf(uuids[i], sizeof(uuids[i]), "GPU-%s-%u", hostname, i);
                gpus[i] = (struct gpu_spec){.index = i,
                                            .uuid = uuids[i],
                                            .model = sc->models[hg->model].name,
                                            .memory_mib = hg->memory_mib,
                                            .nvlink_island = i / per_island};
            }
            memset(&c, 0, sizeof(c));
            c.type = CMD_HOST_REGISTER;
            c.u.host_register.hostname = hostname;
            c.u.host_register.gpus = gpus;
            c.u.host_register.gpu_count = hg->gpus_per_host;
            if (apply(s, &c, &res) != 0)
                return fail(s, res.code, "the engine refused host \"%s\": %s", hostname,
                            res.detail);
            if (hg->has_cost) {
                memset(&c, 0, sizeof(c));
                c.type = CMD_HOST_COST;
                c.u.host_cost.host = (uint32_t)res.id;
                c.u.host_cost.cost = hg->cost;
                if (apply(s, &c, &res) != 0)
                    return fail(s, res.code, "the engine refused the cost of host \"%s\": %s",
                                hostname, res.detail);
            }
            if ((rc = drain(s)) != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- The run ------------------------------------------------------------------------- */

/* The tenant of a request still queued after its patience stops it. */
static int give_up(struct sim *s, const struct agent_job *j, const struct rental_view *v)
{
    struct sim_rental *r = rental_get(s, j->rental);
    struct command c;
    struct result res;

    if (v->state != RENTAL_PENDING || r == NULL)
        return 0;
    memset(&c, 0, sizeof(c));
    c.type = CMD_RENTAL_STOP;
    c.u.rental_stop.tenant = v->tenant;
    c.u.rental_stop.rental = j->rental;
    if (apply(s, &c, &res) != 0)
        note_problem(s, "stopping a queued request refused", res.detail);
    else
        s->req[r->model].gave_up++;
    return drain(s);
}

static int run_job(struct sim *s, const struct agent_job *j)
{
    struct rental_view v;
    struct rental_report rr;
    struct command c;
    struct result res;

    if (engine_rental(s->e, j->rental, &v) != 0)
        return 0;
    if (j->kind == JOB_GIVE_UP)
        return give_up(s, j, &v);
    if ((j->kind == JOB_RUNNING && v.state != RENTAL_STARTING) ||
        (j->kind == JOB_EXITED && v.state != RENTAL_RUNNING))
        return 0; /* ended (or moved on) meanwhile: the agent has nothing to say */
    rr = (struct rental_report){.rental = j->rental,
                                .epoch = v.epoch,
                                .state = j->kind == JOB_RUNNING ? REPORT_RUNNING : REPORT_EXITED};
    memset(&c, 0, sizeof(c));
    c.type = CMD_HOST_REPORT;
    c.u.host_report.host = v.host;
    c.u.host_report.reports = &rr;
    c.u.host_report.count = 1;
    s->rep->agent_reports++;
    if (apply(s, &c, &res) != 0) {
        s->rep->agent_reports_rejected++;
        note_problem(s, "agent report refused", res.detail);
    }
    return drain(s);
}

static int arrive(struct sim *s, const struct scenario_request *rq)
{
    const struct scenario *sc = s->sc;
    struct report_requests *q = &s->req[rq->model];
    struct command c;
    struct result res;
    struct sim_rental r;
    int rc;

    memset(&c, 0, sizeof(c));
    c.type = CMD_RENTAL_CREATE;
    c.u.rental_create.tenant = s->tenant_ids[rq->tenant];
    c.u.rental_create.gpu_model = sc->models[rq->model].name;
    c.u.rental_create.gpu_count = rq->gpu_count;
    c.u.rental_create.term = rq->term;
    c.u.rental_create.max_hourly = rq->term == TERM_SPOT ? rq->bid : 0;
    c.u.rental_create.coupon = rq->coupon >= 0 ? sc->coupons[rq->coupon].code : NULL;
    c.u.rental_create.queue = rq->queue;
    c.u.rental_create.has_workload = true;
    c.u.rental_create.restart = RESTART_NEVER;
    q->submitted++;
    rc = apply(s, &c, &res);
    if (rc == ERR_INVALID && c.u.rental_create.coupon != NULL) {
        /* a tenant whose coupon is refused (expired, used up, redeemed before) asks again
           without it; what it gets then is what counts */
        q->coupon_refused++;
        c.u.rental_create.coupon = NULL;
        rc = apply(s, &c, &res);
    }
    switch (rc) {
    case 0:
        r = (struct sim_rental){.created_at = s->now,
                                .duration = rq->duration,
                                .model = rq->model,
                                .flags = TERM_IS_PACKAGE(rq->term) ? SR_PACKAGE : 0};
        if (res.state == RENTAL_STARTING) {
            q->placed_at_once++;
            r.flags |= SR_PLACED;
        } else {
            q->queued++;
            r.flags |= SR_QUEUED;
        }
        rc = rental_add(s, res.id, &r);
        if (rc == 0 && res.state == RENTAL_STARTING)
            rc = schedule(s, s->now + sc->start_delay, res.id, JOB_RUNNING);
        else if (rc == 0 && rq->patience > 0)
            rc = schedule(s, s->now + rq->patience, res.id, JOB_GIVE_UP);
        if (rc != 0)
            return rc;
        break;
    case ERR_NOCAPACITY:
        q->rejected_capacity++;
        break;
    case ERR_FUNDS:
        q->rejected_funds++;
        break;
    default:
        q->rejected_invalid++;
        note_problem(s, "request refused", res.detail);
    }
    return drain(s);
}

static int run_clock(struct sim *s, struct demand *d)
{
    unsigned stalls = 0;
    int rc;

    for (;;) {
        int64_t t_arrival = demand_peek(d);
        int64_t t_job = s->heap_len ? s->heap[0].at : INT64_MAX;
        int64_t t_engine = engine_next_deadline(s->e);
        int64_t next = t_arrival < t_job ? t_arrival : t_job;
        bool progress = false;

        if (t_engine < next)
            next = t_engine;
        if (next > s->end)
            break;
        if (next < s->now)
            next = s->now;
        if (next > s->now) {
            s->now = next;
            progress = true;
        }
        engine_tick(s->e, s->now);
        if ((rc = drain(s)) != 0)
            return rc;
        while (s->heap_len && s->heap[0].at <= s->now) {
            struct agent_job j = heap_pop(s);

            progress = true;
            if ((rc = run_job(s, &j)) != 0)
                return rc;
        }
        while (demand_peek(d) <= s->now) {
            struct scenario_request rq;

            demand_next(d, &rq);
            progress = true;
            if ((rc = arrive(s, &rq)) != 0)
                return rc;
        }
        if (progress) {
            stalls = 0;
        } else if (++stalls > STALL_LIMIT) {
            char at[TIME_STR_MAX];

            return fail(s, ERR_CONFLICT,
                        "the engine's next deadline stays at %s after engine_tick() there",
                        time_format(at, s->now));
        }
    }
    s->now = s->end;
    engine_tick(s->e, s->now);
    return drain(s);
}

/* ---- Building the report ------------------------------------------------------------- */

static int wait_cmp(const void *a, const void *b)
{
    const struct wait_sample *x = a, *y = b;

    if (x->model != y->model)
        return x->model < y->model ? -1 : 1;
    return x->us < y->us ? -1 : (x->us > y->us);
}

static int i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : (x > y);
}

static void set_percentiles(struct report_requests *q, const int64_t *sorted, size_t n)
{
    q->waits = n;
    q->wait_p50 = report_percentile(sorted, n, 50);
    q->wait_p90 = report_percentile(sorted, n, 90);
    q->wait_p99 = report_percentile(sorted, n, 99);
    q->wait_max = n ? sorted[n - 1] : 0;
}

static int build_waits(struct sim *s)
{
    struct report *rep = s->rep;
    int64_t *all = malloc((s->wait_len ? s->wait_len : 1) * sizeof(*all));
    size_t i = 0;

    if (all == NULL)
        return fail(s, ERR_NOMEM, "out of memory");
    if (s->wait_len > 0) /* waits is NULL until the first sample */
        qsort(s->waits, s->wait_len, sizeof(*s->waits), wait_cmp);
    for (uint32_t m = 0; m < s->sc->model_count; m++) {
        size_t first = i;

        while (i < s->wait_len && s->waits[i].model == m) {
            all[i] = s->waits[i].us;
            i++;
        }
        set_percentiles(&rep->lines[m].req, all + first, i - first);
    }
    qsort(all, s->wait_len, sizeof(*all), i64_cmp);
    set_percentiles(&rep->lines[rep->line_count - 1].req, all, s->wait_len);
    free(all);
    return 0;
}

static void finish_line(struct report_line *l, int64_t period_hours)
{
    int64_t rented_us = l->econ.gpu_us_rented;
    int64_t avail_us = l->econ.gpu_us_available;

    l->list_hourly =
        rented_us > 0 ? money_scale(l->econ.list_revenue, USEC_PER_HOUR, rented_us) : 0;
    l->opex_hourly = avail_us > 0 ? money_scale(l->econ.power_cost + l->econ.hosting_cost,
                                                USEC_PER_HOUR, avail_us)
                                  : 0;
    l->payback_years_revenue = l->econ.revenue > 0
                                   ? (double)l->econ.purchase_price * (double)period_hours /
                                         ((double)l->econ.revenue * HOURS_PER_YEAR)
                                   : -1;
}

static int build_report(struct sim *s)
{
    const struct scenario *sc = s->sc;
    struct report *rep = s->rep;
    uint32_t nm = engine_model_count(s->e);
    struct econ_line *econ = calloc(nm + 1, sizeof(*econ));
    struct report_line *total;
    int n;

    if (econ == NULL)
        return fail(s, ERR_NOMEM, "out of memory");
    rep->line_count = sc->model_count + 1;
    rep->lines = calloc(rep->line_count, sizeof(*rep->lines));
    if (rep->lines == NULL) {
        free(econ);
        return fail(s, ERR_NOMEM, "out of memory");
    }
    n = engine_economics(s->e, s->start, s->end, s->end, econ, nm + 1);
    if (n < 0) {
        free(econ);
        return fail(s, n, "engine_economics failed: %s", err_name(n));
    }
    total = &rep->lines[sc->model_count];
    snprintf(total->gpu_model, sizeof(total->gpu_model), "total");
    total->is_total = true;
    for (uint32_t m = 0; m < sc->model_count; m++) {
        struct report_line *l = &rep->lines[m];

        snprintf(l->gpu_model, sizeof(l->gpu_model), "%s", sc->models[m].name);
        l->on_demand_hourly = sc->models[m].price.on_demand_hourly;
        l->req = s->req[m];
    }
    for (int i = 0; i < n; i++) {
        struct report_line *l = NULL;

        if (econ[i].model == ECON_TOTAL) {
            l = total;
        } else {
            for (uint32_t m = 0; m < sc->model_count && l == NULL; m++) {
                if (econ[i].gpu_model != NULL && strcmp(econ[i].gpu_model, sc->models[m].name) == 0)
                    l = &rep->lines[m];
            }
        }
        if (l == NULL)
            continue;
        l->econ = econ[i];
        l->econ.gpu_model = NULL; /* borrowed from the engine: do not keep it */
    }
    free(econ);

    /* requests still pending at the end */
    for (size_t id = 0; id < s->rental_cap; id++) {
        const struct sim_rental *r = &s->rentals[id];

        if ((r->flags & SR_KNOWN) && (r->flags & SR_QUEUED) && !(r->flags & SR_PLACED) &&
            !(r->flags & SR_ENDED))
            rep->lines[r->model].req.pending_at_end++;
    }
    for (uint32_t m = 0; m < sc->model_count; m++) {
        const struct report_requests *q = &rep->lines[m].req;
        struct report_requests *t = &total->req;

        t->submitted += q->submitted;
        t->placed_at_once += q->placed_at_once;
        t->queued += q->queued;
        t->placed_from_queue += q->placed_from_queue;
        t->pending_at_end += q->pending_at_end;
        t->rejected_capacity += q->rejected_capacity;
        t->rejected_funds += q->rejected_funds;
        t->rejected_invalid += q->rejected_invalid;
        t->coupon_refused += q->coupon_refused;
        t->gave_up += q->gave_up;
        t->preempted += q->preempted;
        for (int r = 0; r < END_REASON_COUNT; r++)
            t->ended[r] += q->ended[r];
    }
    for (uint32_t i = 0; i < rep->line_count; i++)
        finish_line(&rep->lines[i], (s->end - s->start) / USEC_PER_HOUR);
    return build_waits(s);
}

int sim_run(const struct scenario *sc, const struct sim_options *opt, struct report *out, char *err,
            size_t cap)
{
    struct sim *s = NULL;
    struct demand d;
    struct engine_config cfg;
    char detail[512];
    uint32_t days = opt && opt->days ? opt->days : sc->days;
    uint64_t seed = opt && opt->has_seed ? opt->seed : sc->seed;
    int rc;

    report_init(out);
    memset(&d, 0, sizeof(d));
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, cap, "out of memory");
        return ERR_NOMEM;
    }
    s->sc = sc;
    s->rep = out;
    s->err = err;
    s->cap = cap;
    s->start = s->now = sc->start;
    s->end = sc->start + (int64_t)days * 86400 * USEC_PER_SEC;

    snprintf(out->scenario, sizeof(out->scenario), "%s", sc->dir ? sc->dir : "");
    out->demand = sc->demand == DEMAND_TRACE ? "trace" : "generator";
    out->start = s->start;
    out->end = s->end;
    out->days = days;
    out->seed = seed;
    out->settle_interval = sc->settle_interval;
    out->start_delay = sc->start_delay;
    out->hosts = sc->host_count;
    out->gpus = sc->gpu_count;

    s->req = calloc(sc->model_count ? sc->model_count : 1, sizeof(*s->req));
    if (s->req == NULL) {
        rc = fail(s, ERR_NOMEM, "out of memory");
        goto out;
    }
    engine_config_defaults(&cfg);
    cfg.heartbeat_timeout = 0; /* simulated hosts never heartbeat */
    cfg.settle_interval = sc->settle_interval;
    rc = engine_new(&s->e, &cfg);
    if (rc != 0) {
        fail(s, rc, "cannot create the engine: %s", err_name(rc));
        goto out;
    }
    if ((rc = setup_catalogue(s)) != 0 || (rc = setup_tenants(s)) != 0 ||
        (rc = setup_hosts(s)) != 0)
        goto out;
    out->tenants = s->tenant_count;
    rc = demand_init(&d, sc, s->end, seed);
    if (rc != 0) {
        fail(s, rc, "out of memory");
        goto out;
    }
    if ((rc = run_clock(s, &d)) != 0)
        goto out;
    if (engine_check(s->e, detail, sizeof(detail)) != 0) {
        rc = fail(s, ERR_CONFLICT, "engine invariant violated: %s", detail);
        goto out;
    }
    rc = build_report(s);
out:
    demand_release(&d);
    if (s != NULL) {
        engine_free(s->e);
        free(s->rentals);
        free(s->heap);
        free(s->waits);
        free(s->tenant_ids);
        free(s->req);
        free(s);
    }
    if (rc != 0)
        report_release(out);
    return rc;
}
