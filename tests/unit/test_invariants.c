/*
 * test_invariants.c - seeded randomized invariant testing of the engine, and hand-computed
 * scenarios.
 *
 * Each seed builds a small platform (hosts of two GPU models, tenants, prices) on a virtual
 * clock and drives it with thousands of random steps: hosts joining, failing (they stop
 * heartbeating) and coming back before or after lost_after, control-plane outages (a mass
 * silence), drains, price changes, coupons and promotions, credit limits and budgets, top-ups
 * (some repeating a transfer id), operator adjustments (credits and charges, naming last
 * month or not), rentals of every term (spot ones asking to be requeued when preempted),
 * agent reports (ready, exited, failed, stale epochs), stops by the owner, by another tenant,
 * by the operator and by the idle rule, time jumps and invalid commands. After every step the
 * engine's own engine_check() must pass and so must the independent checks below, recomputed from
 * the drained events and the read API only:
 *
 *   ledger     every account's balance equals the sum of the EV_TRANSFER events that touched
 *              it, balances sum to zero, transfer seqs are 1, 2, ..., each kind moves money
 *              between its fixed pair of account types; transfers are dated in posting order
 *              (a closed month never gets another), and one that corrects a month names a
 *              month already closed when it was posted
 *   wallets    no tenant wallet below minus its credit limit; spending stops at the monthly
 *              budget
 *   gpus       the GPUs of live rentals and the GPUs that say they are held match one to one:
 *              no GPU is in two live rentals, pending and ended rentals hold none; offers
 *              count the free GPUs of ready hosts
 *   billing    on_demand/spot: cost == prorate(count x hourly_price, billed_us) - amount_off_used
 *              and cost + discount == prorate(count x list_hourly, billed_us); an adjustment
 *              moves its wallet by exactly its amount, never past the credit limit; a package that
 *              ends in its first term keeps what its billed time earned; every rental's cost
 *              and discount equal the money its transfers moved; max_cost and max_duration
 *              hold; a quote's hourly price is the rental's
 *   requeue    a rental the engine creates continues a spot rental preempted at that instant,
 *              which names it, with the same tenant, spec, locked price and bid, and what is
 *              left of its max_cost and max_duration
 *   history    no rental lost; an ended rental stays ended with the same reason and cost;
 *              billed_us never decreases; nothing bills unless running on a live host
 *   events     rental state transitions are legal and agree with the read API; nothing is
 *              placed on a host that is not ready; no rental waits while every waiting
 *              rental fits; nothing ends host_failed because of a mass silence
 *   commands   a failing command returns the right code, emits no event and changes nothing;
 *              a repeated transfer id returns the first result and moves nothing
 *   economics  list revenue is what the revenue account received; rented and available
 *              GPU-hours are the rentals' billed time and the hosts' time up
 *
 * A failure prints the seed, the step, the last steps taken and the replay command.
 * Environment: GPURENT_SEED=N runs only seed N (with a log of every step and event),
 * GPURENT_SEEDS the number of seeds, GPURENT_STEPS the steps per seed, GPURENT_VERBOSE=1 logs
 * every step to stderr. Under AddressSanitizer the default number of seeds is divided by 8.
 *
 * The scenarios (test_scenario_*) run the same checks on a fixed clock and compare outcomes
 * with figures computed by hand in their comments; test_determinism runs seeds twice and
 * compares every event, field by field.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/timeutil.h"
#include "engine/economics.h"
#include "engine/engine.h"
#include "engine/ledger.h"
#include "engine/money.h"
#include "engine/types.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

#define DEFAULT_SEEDS     200
#define DEFAULT_STEPS     3000
#define SANITIZER_DIVISOR 8

#define SEC        USEC_PER_SEC
#define MINUTE     (60 * SEC)
#define HOUR       USEC_PER_HOUR
#define CNY        MONEY_UNIT
#define EPOCH_2026 (INT64_C(1767225600) * SEC) /* 2026-01-01T00:00:00Z */

#define MAX_HOSTS     24
#define MAX_TENANTS   12
#define MAX_KEYS      256
#define MAX_LIVE_SOFT 80 /* rentals are created less often above this many live ones */
#define LOG_LINES     24
#define LOG_LEN       240
#define EVBUF         1024
#define SWEEP_EVERY   97         /* steps between full sweeps over every rental ever created */
#define HB_MAX_STEP   (30 * SEC) /* heartbeats are sent at most this far apart */

static const char *const model_names[] = {"A100-80G", "H100-80G", "L40S-48G"};
static const uint32_t model_memory[] = {81920, 81920, 49152};
#define HOST_MODELS 2 /* hosts come in the first two models; the third has no hosts */

/* ---- A small deterministic PRNG ------------------------------------------------------- */

struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return n == 0 ? 0 : (uint32_t)(rng_next(r) % n);
}

/* A uniform value in [lo, hi]. */
static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

static bool rng_pct(struct rng *r, uint32_t pct)
{
    return rng_below(r, 100) < pct;
}

/* ---- FNV-1a, for the determinism test --------------------------------------------- */

#define FNV_INIT UINT64_C(0xcbf29ce484222325)

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    return fnv_bytes(h, &v, sizeof(v));
}

/* ---- The test's own model of the world --------------------------------------------------- */

struct trk_rental {
    bool known; /* created (by a command or an event) */
    uint32_t tenant;
    enum term term;
    int64_t max_cost;
    int64_t max_duration;
    bool has_workload;
    enum restart_policy restart;
    enum rental_state state; /* as the events tell it */
    bool ended;
    bool end_checked; /* the ended view has been recorded */
    enum end_reason end_reason;
    int64_t end_cost;
    int64_t end_billed;
    int end_exit_code;
    int64_t last_billed;
    int64_t charged;      /* CHARGE + PACKAGE - REFUND transfers naming this rental */
    int64_t discounted;   /* DISCOUNT - DISCOUNT_REVERSAL transfers naming this rental */
    int64_t pkg_net0;     /* packages: the price paid for the first term */
    int64_t pkg_disc0;    /* packages: the discount given on the first term */
    int64_t ends_at;      /* the last ends_at seen */
    bool renewed;         /* packages: ends_at moved, a renewal happened */
    bool keep;            /* never picked for a random stop: lives to its end or renewal */
    uint32_t agent_epoch; /* the epoch the simulated agent last saw */
    int64_t ready_at;     /* when the agent will report the workload running */
    size_t live_slot;
};

struct trk_host {
    uint32_t id;
    uint32_t model;
    uint32_t gpus;
    bool alive;               /* the simulated agent sends heartbeats */
    int64_t revive_at;        /* when a stopped agent starts again */
    int64_t alive_since;      /* when the agent last started */
    int64_t up_since;         /* since when it is not down (as the events tell it), or -1 */
    int64_t up_gpu_us;        /* GPU-microseconds registered and not down, until up_since */
    enum host_state ev_state; /* as the events tell it */
};

struct trk_key {
    char key[32];
    uint32_t tenant;
    int64_t amount;
    struct result first;
};

struct world {
    struct engine *e;
    struct engine_config cfg;
    struct rng rng;
    uint64_t seed;
    uint32_t step;
    int64_t t0, now;
    bool long_run;        /* longer time steps: days simulated, packages renew, months turn */
    const char *scenario; /* a hand-computed scenario, not a random seed */
    int64_t fixed_step;   /* scenarios: heartbeat this often, exactly */
    bool hb_first;        /* heartbeats at an instant come before its tick */

    struct trk_rental *rentals; /* indexed by rental number */
    size_t rental_cap;
    uint64_t *live; /* rentals not ended, as the events tell it */
    size_t live_count, live_cap;

    struct trk_host hosts[MAX_HOSTS];
    uint32_t host_count;
    uint32_t tenants[MAX_TENANTS];
    int64_t month_spent[MAX_TENANTS]; /* as last seen */
    uint32_t tenant_count;
    struct trk_key keys[MAX_KEYS];
    uint32_t key_count;
    uint32_t coupon_count;
    uint32_t uuid_counter;

    int64_t *balances; /* recomputed from EV_TRANSFER */
    uint32_t balance_cap;
    uint64_t transfers_seen;
    int64_t last_transfer_at;
    int64_t last_event_at;
    bool mass_silence;
    uint64_t notices; /* EV_PREEMPT_NOTICE events seen */
    uint64_t event_hash;
    uint64_t events_seen;

    char log[LOG_LINES][LOG_LEN];
    uint32_t log_next;
    bool verbose;

    /* counters for the summary */
    struct totals {
        uint64_t seeds, steps, events, transfers, rentals, failed_cmds, restarts, notices;
        uint64_t stale_reports, replays, mass_silences, renewals, from_queue;
        uint64_t requeues, adjustments, late_usage;
        uint64_t ended_by[END_REASON_COUNT];
        double hours;
    } t;
};

static struct totals totals; /* over every seed of test_random_seeds, for the summary */

static struct world *current_world; /* freed by the teardown when a check fails */

static struct event evbuf[EVBUF];

static void world_free(struct world *w)
{
    if (w == NULL)
        return;
    engine_free(w->e);
    free(w->rentals);
    free(w->live);
    free(w->balances);
    free(w);
}

__attribute__((format(printf, 2, 3))) static void wlog(struct world *w, const char *fmt, ...)
{
    char *line = w->log[w->log_next++ % LOG_LINES];
    int n =
        snprintf(line, LOG_LEN, "step %u t=+%llds: ", w->step, (long long)((w->now - w->t0) / SEC));
    va_list ap;

    if (n < 0 || n >= LOG_LEN)
        n = 0;
    va_start(ap, fmt);
    vsnprintf(line + n, LOG_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    if (w->verbose)
        fprintf(stderr, "  %s\n", line);
}

__attribute__((format(printf, 2, 3))) static void die(struct world *w, const char *fmt, ...)
{
    va_list ap;
    uint32_t first = w->log_next > LOG_LINES ? w->log_next - LOG_LINES : 0;

    if (w->scenario != NULL)
        fprintf(stderr, "\nSCENARIO FAILED: %s, t=+%llds (now=%lld)\n  ", w->scenario,
                (long long)((w->now - w->t0) / SEC), (long long)w->now);
    else
        fprintf(stderr, "\nINVARIANT VIOLATED: seed %llu, step %u, t=+%llds (now=%lld)\n  ",
                (unsigned long long)w->seed, w->step, (long long)((w->now - w->t0) / SEC),
                (long long)w->now);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nthe last steps:\n");
    for (uint32_t i = first; i < w->log_next; i++)
        fprintf(stderr, "  %s\n", w->log[i % LOG_LINES]);
    if (w->scenario == NULL)
        fprintf(
            stderr,
            "replay: GPURENT_SEED=%llu ./test_invariants   (GPURENT_VERBOSE=1 logs each step)\n\n",
            (unsigned long long)w->seed);
    fail();
}

#define CHECK(w, cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            die((w), __VA_ARGS__);                                                                 \
    } while (0)

static const char *state_str(enum rental_state s)
{
    return s <= RENTAL_ENDED ? rental_state_name(s) : "?";
}

static struct trk_rental *trk(struct world *w, uint64_t id)
{
    if (id >= w->rental_cap) {
        size_t cap = w->rental_cap ? w->rental_cap : 256;
        struct trk_rental *r;

        while (cap <= id)
            cap *= 2;
        r = realloc(w->rentals, cap * sizeof(*r));
        assert_non_null(r);
        memset(r + w->rental_cap, 0, (cap - w->rental_cap) * sizeof(*r));
        w->rentals = r;
        w->rental_cap = cap;
    }
    return &w->rentals[id];
}

static void live_add(struct world *w, uint64_t id)
{
    if (w->live_count == w->live_cap) {
        w->live_cap = w->live_cap ? w->live_cap * 2 : 64;
        w->live = realloc(w->live, w->live_cap * sizeof(*w->live));
        assert_non_null(w->live);
    }
    trk(w, id)->live_slot = w->live_count;
    w->live[w->live_count++] = id;
}

static void live_remove(struct world *w, uint64_t id)
{
    size_t slot = trk(w, id)->live_slot;
    uint64_t last = w->live[--w->live_count];

    w->live[slot] = last;
    trk(w, last)->live_slot = slot;
}

static struct trk_host *host_trk(struct world *w, uint32_t id)
{
    for (uint32_t i = 0; i < w->host_count; i++) {
        if (w->hosts[i].id == id)
            return &w->hosts[i];
    }
    return NULL;
}

static int64_t *balance_slot(struct world *w, uint32_t acct)
{
    if (acct >= w->balance_cap) {
        uint32_t cap = w->balance_cap ? w->balance_cap : 64;

        while (cap <= acct)
            cap *= 2;
        w->balances = realloc(w->balances, cap * sizeof(*w->balances));
        assert_non_null(w->balances);
        memset(w->balances + w->balance_cap, 0, (cap - w->balance_cap) * sizeof(*w->balances));
        w->balance_cap = cap;
    }
    return &w->balances[acct];
}

/* ---- Events ------------------------------------------------------------------------------ */

static uint64_t hash_event(uint64_t h, const struct event *ev)
{
    h = fnv_u64(h, (uint64_t)ev->type);
    h = fnv_u64(h, (uint64_t)ev->at);
    h = fnv_u64(h, ev->id);
    switch (ev->type) {
    case EV_TRANSFER:
        h = fnv_u64(h, ev->u.transfer.seq);
        h = fnv_u64(h, ev->u.transfer.from);
        h = fnv_u64(h, ev->u.transfer.to);
        h = fnv_u64(h, (uint64_t)ev->u.transfer.amount);
        h = fnv_u64(h, (uint64_t)ev->u.transfer.kind);
        h = fnv_u64(h, ev->u.transfer.rental);
        h = fnv_u64(h, (uint64_t)ev->u.transfer.at);
        break;
    case EV_RENTAL_CREATED:
    case EV_RENTAL_STATE:
    case EV_PREEMPT_NOTICE:
        h = fnv_u64(h, (uint64_t)ev->u.rental.from);
        h = fnv_u64(h, (uint64_t)ev->u.rental.to);
        h = fnv_u64(h, (uint64_t)ev->u.rental.reason);
        h = fnv_u64(h, ev->u.rental.tenant);
        h = fnv_u64(h, ev->u.rental.host);
        h = fnv_u64(h, (uint64_t)ev->u.rental.until);
        break;
    case EV_HOST_STATE:
        h = fnv_u64(h, (uint64_t)ev->u.host_state.from);
        h = fnv_u64(h, (uint64_t)ev->u.host_state.to);
        break;
    case EV_ALERT:
        h = fnv_u64(h, (uint64_t)ev->u.alert.kind);
        h = fnv_u64(h, ev->u.alert.hosts_down);
        h = fnv_u64(h, ev->u.alert.hosts_total);
        break;
    default:
        break;
    }
    return h;
}

static bool is_wallet(uint32_t acct)
{
    return acct >= ACCT_FIRST_WALLET;
}

static uint32_t tenant_wallet(struct world *w, uint32_t tenant)
{
    struct tenant_view tv;

    if (engine_tenant(w->e, tenant, &tv) < 0)
        return UINT32_MAX;
    return tv.account;
}

static void check_transfer(struct world *w, const struct event *ev)
{
    const struct transfer *t = &ev->u.transfer;
    uint32_t naccts = engine_account_count(w->e);
    bool ok;

    CHECK(w, t->seq == w->transfers_seen + 1, "transfer seq %llu, expected %llu",
          (unsigned long long)t->seq, (unsigned long long)(w->transfers_seen + 1));
    w->transfers_seen = t->seq;
    CHECK(w, t->amount > 0, "transfer %llu has amount %lld", (unsigned long long)t->seq,
          (long long)t->amount);
    CHECK(w, t->from != t->to && t->from < naccts && t->to < naccts,
          "transfer %llu between accounts %u and %u (%u accounts)", (unsigned long long)t->seq,
          t->from, t->to, naccts);
    CHECK(w, t->at <= w->now, "transfer %llu dated %lld, after now", (unsigned long long)t->seq,
          (long long)t->at);
    /* dated when posted, in posting order: once a month is over nothing more is dated in it,
       so its invoice never changes */
    CHECK(w, t->at >= w->last_transfer_at, "transfer %llu dated %lld, before the one before it",
          (unsigned long long)t->seq, (long long)t->at);
    w->last_transfer_at = t->at;
    /* a correction names a month that was closed when it was posted */
    CHECK(w,
          t->corrects == 0 || (t->corrects < time_month_index(t->at) &&
                               (t->kind == XFER_CHARGE || t->kind == XFER_DISCOUNT ||
                                t->kind == XFER_DISCOUNT_REVERSAL || t->kind == XFER_ADJUSTMENT)),
          "transfer %llu (kind %d) at %lld corrects month %lld", (unsigned long long)t->seq,
          (int)t->kind, (long long)t->at, (long long)t->corrects);
    if (t->corrects != 0 && t->kind != XFER_ADJUSTMENT)
        w->t.late_usage++;
    switch (t->kind) {
    case XFER_TOPUP:
        ok = t->from == ACCT_EXTERNAL && is_wallet(t->to);
        break;
    case XFER_CHARGE:
        ok = is_wallet(t->from) && t->to == ACCT_REVENUE;
        break;
    case XFER_DISCOUNT:
        ok = t->from == ACCT_DISCOUNTS && (t->to == ACCT_REVENUE || t->to == ACCT_DEFERRED);
        break;
    case XFER_PACKAGE:
        ok = is_wallet(t->from) && t->to == ACCT_DEFERRED;
        break;
    case XFER_RECOGNIZE:
        ok = t->from == ACCT_DEFERRED && t->to == ACCT_REVENUE;
        break;
    case XFER_REFUND:
        ok = t->from == ACCT_DEFERRED && is_wallet(t->to);
        break;
    case XFER_DISCOUNT_REVERSAL:
        /* a package's unused discount; or a settlement's discount that went down by rounding */
        ok = (t->from == ACCT_DEFERRED || t->from == ACCT_REVENUE) && t->to == ACCT_DISCOUNTS;
        break;
    case XFER_ADJUSTMENT: /* a credit, or a charge */
        ok = (t->from == ACCT_REFUNDS && is_wallet(t->to)) ||
             (is_wallet(t->from) && t->to == ACCT_REFUNDS);
        break;
    default:
        ok = false;
    }
    CHECK(w, ok, "transfer %llu of kind %d moves %u -> %u: not that kind's accounts",
          (unsigned long long)t->seq, (int)t->kind, t->from, t->to);
    *balance_slot(w, t->from) -= t->amount;
    *balance_slot(w, t->to) += t->amount;

    if (t->rental != 0) {
        struct trk_rental *r;
        uint32_t wallet;

        CHECK(w, t->rental < w->rental_cap && w->rentals[t->rental].known,
              "transfer %llu names rental %llu which was never created", (unsigned long long)t->seq,
              (unsigned long long)t->rental);
        r = trk(w, t->rental);
        wallet = tenant_wallet(w, r->tenant);
        if (t->kind == XFER_CHARGE || t->kind == XFER_PACKAGE)
            CHECK(w, t->from == wallet,
                  "transfer %llu charges account %u for rental %llu of "
                  "tenant %u whose wallet is %u",
                  (unsigned long long)t->seq, t->from, (unsigned long long)t->rental, r->tenant,
                  wallet);
        if (t->kind == XFER_ADJUSTMENT)
            CHECK(w, t->to == wallet || t->from == wallet,
                  "adjustment %llu for rental %llu of tenant %u moves %u -> %u, not its wallet %u",
                  (unsigned long long)t->seq, (unsigned long long)t->rental, r->tenant, t->from,
                  t->to, wallet);
        if (t->kind == XFER_REFUND)
            CHECK(w, t->to == wallet,
                  "transfer %llu refunds account %u for rental %llu of "
                  "tenant %u whose wallet is %u",
                  (unsigned long long)t->seq, t->to, (unsigned long long)t->rental, r->tenant,
                  wallet);
        if (t->kind == XFER_CHARGE || t->kind == XFER_PACKAGE)
            r->charged += t->amount;
        else if (t->kind == XFER_REFUND)
            r->charged -= t->amount;
        else if (t->kind == XFER_DISCOUNT)
            r->discounted += t->amount;
        else if (t->kind == XFER_DISCOUNT_REVERSAL)
            r->discounted -= t->amount;
    }
}

static bool legal_transition(enum rental_state from, enum rental_state to)
{
    if (from == RENTAL_ENDED)
        return false;
    if (to == RENTAL_ENDED)
        return true;
    if (from == RENTAL_PENDING && to == RENTAL_STARTING)
        return true;
    if (from == RENTAL_STARTING && to == RENTAL_RUNNING)
        return true;
    if ((from == RENTAL_RUNNING || from == RENTAL_STARTING) && to == RENTAL_STARTING)
        return true; /* a restart (also of a workload that exited while starting) */
    return false;
}

static void check_rental_event(struct world *w, const struct event *ev)
{
    const struct ev_rental *er = &ev->u.rental;
    struct trk_rental *r;

    if (ev->type == EV_RENTAL_CREATED) {
        r = trk(w, ev->id);
        CHECK(w, !r->known || r->tenant == er->tenant, "EV_RENTAL_CREATED for rental %llu twice",
              (unsigned long long)ev->id);
        if (!r->known) {
            /* created by the engine itself, not by a command: a requeued spot rental, which
               continues a preempted one with what is left of its limits */
            struct rental_view nv, pv;
            struct trk_rental *p;

            CHECK(w, engine_rental(w->e, ev->id, &nv) == 0 && nv.requeued_from != 0,
                  "rental %llu created by the engine is not a requeue", (unsigned long long)ev->id);
            CHECK(w, engine_rental(w->e, nv.requeued_from, &pv) == 0 && pv.requeued_as == ev->id,
                  "requeued rental %llu: its predecessor %llu does not name it",
                  (unsigned long long)ev->id, (unsigned long long)nv.requeued_from);
            r = trk(w, ev->id); /* trk may have moved the array */
            p = trk(w, nv.requeued_from);
            CHECK(w,
                  p->known && p->term == TERM_SPOT && pv.state == RENTAL_ENDED &&
                      pv.end_reason == END_PREEMPTED && pv.ended_at == ev->at,
                  "requeued rental %llu continues %llu which is %s (%s) ended at %lld",
                  (unsigned long long)ev->id, (unsigned long long)nv.requeued_from,
                  state_str(pv.state), end_reason_name(pv.end_reason), (long long)pv.ended_at);
            r->known = true;
            r->tenant = er->tenant;
            r->state = RENTAL_PENDING;
            r->term = TERM_SPOT;
            r->has_workload = p->has_workload;
            r->restart = p->restart;
            r->max_cost = p->max_cost > 0 ? p->max_cost - pv.cost : 0;
            r->max_duration =
                p->max_duration > 0 ? p->max_duration - (pv.ended_at - pv.started_at) : 0;
            r->ready_at = w->scenario != NULL ? INT64_MAX : 0;
            r->pkg_net0 = -1;
            CHECK(w, er->tenant == p->tenant, "requeued rental %llu changed tenant",
                  (unsigned long long)ev->id);
            live_add(w, ev->id);
            w->t.rentals++;
            w->t.requeues++;
        }
        return;
    }
    CHECK(w, ev->id < w->rental_cap && w->rentals[ev->id].known,
          "event %d for rental %llu which was never created", (int)ev->type,
          (unsigned long long)ev->id);
    r = trk(w, ev->id);
    if (ev->type == EV_PREEMPT_NOTICE) {
        w->notices++;
        w->t.notices++;
        CHECK(w, !r->ended && r->term == TERM_SPOT, "preempt notice for rental %llu (%s, %s)",
              (unsigned long long)ev->id, term_name(r->term), state_str(r->state));
        return;
    }
    CHECK(w, er->from == r->state, "rental %llu: event says %s -> %s but it was %s",
          (unsigned long long)ev->id, state_str(er->from), state_str(er->to), state_str(r->state));
    CHECK(w, legal_transition(er->from, er->to), "rental %llu: illegal transition %s -> %s",
          (unsigned long long)ev->id, state_str(er->from), state_str(er->to));
    CHECK(w, er->tenant == r->tenant, "rental %llu: event tenant %u, owner %u",
          (unsigned long long)ev->id, er->tenant, r->tenant);
    if (er->to == RENTAL_STARTING && er->from == RENTAL_PENDING) {
        struct trk_host *h = host_trk(w, er->host);

        CHECK(w, h != NULL, "rental %llu placed on unknown host %u", (unsigned long long)ev->id,
              er->host);
        CHECK(w, h->ev_state == HOST_READY, "rental %llu placed on host %u which is %s",
              (unsigned long long)ev->id, er->host, host_state_name(h->ev_state));
    }
    if (er->to == RENTAL_RUNNING && er->from == RENTAL_STARTING)
        (void)0;
    if (er->from != RENTAL_PENDING && er->to == RENTAL_STARTING)
        w->t.restarts++;
    r->state = er->to;
    if (er->to == RENTAL_ENDED) {
        CHECK(w, er->reason > END_NONE && er->reason < END_REASON_COUNT,
              "rental %llu ended with reason %d", (unsigned long long)ev->id, (int)er->reason);
        CHECK(w, !(er->reason == END_HOST_FAILED && w->mass_silence),
              "rental %llu ended host_failed during a mass silence", (unsigned long long)ev->id);
        if (er->reason == END_HOST_FAILED) {
            struct trk_host *h = host_trk(w, er->host);

            CHECK(w,
                  h == NULL || !h->alive || h->alive_since >= ev->at ||
                      w->host_count < w->cfg.mass_silence_min_hosts,
                  "rental %llu ended host_failed on host %u whose agent never stopped: the host "
                  "was only silent during the control plane's outage (a mass silence)",
                  (unsigned long long)ev->id, er->host);
        }
        r->ended = true;
        r->end_reason = er->reason;
        w->t.ended_by[er->reason]++;
        live_remove(w, ev->id);
    }
}

static void check_host_event(struct world *w, const struct event *ev)
{
    struct trk_host *h = host_trk(w, (uint32_t)ev->id);

    CHECK(w, h != NULL, "host state event for unknown host %llu", (unsigned long long)ev->id);
    CHECK(w, ev->u.host_state.from == h->ev_state && ev->u.host_state.from != ev->u.host_state.to,
          "host %u: event says %s -> %s but it was %s", h->id,
          host_state_name(ev->u.host_state.from), host_state_name(ev->u.host_state.to),
          host_state_name(h->ev_state));
    h->ev_state = ev->u.host_state.to;
    if (ev->u.host_state.to == HOST_DOWN) {
        h->up_gpu_us += (int64_t)h->gpus * (ev->at - h->up_since);
        h->up_since = -1;
    } else if (ev->u.host_state.from == HOST_DOWN) {
        h->up_since = ev->at;
    }
}

/* GPURENT_VERBOSE: the events that tell the story (not transfers). */
static void log_event(struct world *w, const struct event *ev)
{
    long long at = (long long)((ev->at - w->t0) / SEC);

    if (ev->type == EV_HOST_STATE)
        fprintf(stderr, "    event t=+%llds: host %llu %s -> %s\n", at, (unsigned long long)ev->id,
                host_state_name(ev->u.host_state.from), host_state_name(ev->u.host_state.to));
    else if (ev->type == EV_ALERT)
        fprintf(stderr, "    event t=+%llds: alert %s (%u of %u hosts down)\n", at,
                ev->u.alert.kind == ALERT_MASS_SILENCE ? "mass silence" : "cleared",
                ev->u.alert.hosts_down, ev->u.alert.hosts_total);
    else if (ev->type == EV_RENTAL_STATE || ev->type == EV_PREEMPT_NOTICE)
        fprintf(stderr, "    event t=+%llds: rental %llu %s%s -> %s %s host %u\n", at,
                (unsigned long long)ev->id, ev->type == EV_PREEMPT_NOTICE ? "notice " : "",
                state_str(ev->u.rental.from), state_str(ev->u.rental.to),
                end_reason_name(ev->u.rental.reason), ev->u.rental.host);
}

/* Drain and check every pending event; returns how many there were. */
static size_t drain(struct world *w)
{
    size_t total = 0;
    size_t n;

    while ((n = engine_drain_events(w->e, evbuf, EVBUF)) > 0) {
        for (size_t i = 0; i < n; i++) {
            const struct event *ev = &evbuf[i];

            w->event_hash = hash_event(w->event_hash, ev);
            w->events_seen++;
            CHECK(w, ev->at >= w->last_event_at && ev->at <= w->now,
                  "event %d at %lld out of order (last %lld, now %lld)", (int)ev->type,
                  (long long)ev->at, (long long)w->last_event_at, (long long)w->now);
            w->last_event_at = ev->at;
            if (w->verbose)
                log_event(w, ev);
            switch (ev->type) {
            case EV_TRANSFER:
                check_transfer(w, ev);
                break;
            case EV_RENTAL_CREATED:
            case EV_RENTAL_STATE:
            case EV_PREEMPT_NOTICE:
                check_rental_event(w, ev);
                break;
            case EV_HOST_STATE:
                check_host_event(w, ev);
                break;
            case EV_ALERT:
                w->mass_silence = ev->u.alert.kind == ALERT_MASS_SILENCE;
                w->t.mass_silences += w->mass_silence;
                break;
            default:
                break;
            }
        }
        total += n;
    }
    return total;
}

/* ---- Snapshots: a failing command must change nothing --------------------------------------- */

struct snap_item {
    const char *what; /* a static label */
    uint64_t id;
    uint64_t value;
};

struct snap {
    struct snap_item *items; /* owned */
    size_t n, cap;
};

static struct snap snap_before, snap_after;

static void snap_put(struct snap *s, const char *what, uint64_t id, uint64_t value)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->items = realloc(s->items, s->cap * sizeof(*s->items));
        assert_non_null(s->items);
    }
    s->items[s->n++] = (struct snap_item){what, id, value};
}

/* Everything a failing command must leave alone, as (label, id, value) triples. */
static void snapshot(struct world *w, struct snap *s)
{
    struct engine_stats st;
    uint32_t naccts = engine_account_count(w->e);

    s->n = 0;
    engine_stats(w->e, &st);
    /* the rejected_* counters legitimately count refusals */
    snap_put(s, "stats.rentals_created", 0, st.rentals_created);
    snap_put(s, "stats.placed_at_once", 0, st.placed_at_once);
    snap_put(s, "stats.queued", 0, st.queued);
    snap_put(s, "stats.placed_from_queue", 0, st.placed_from_queue);
    snap_put(s, "stats.preempted", 0, st.preempted);
    for (int r = 0; r < END_REASON_COUNT; r++)
        snap_put(s, "stats.ended", (uint64_t)r, st.ended[r]);
    snap_put(s, "stats.pending_now", 0, st.pending_now);
    snap_put(s, "stats.live_now", 0, st.live_now);
    snap_put(s, "stats.hosts", 0, st.hosts);
    snap_put(s, "stats.gpus", 0, st.gpus);
    snap_put(s, "stats.tenants", 0, st.tenants);
    snap_put(s, "stats.transfers", 0, st.transfers);
    snap_put(s, "rental_count", 0, engine_rental_count(w->e));
    snap_put(s, "host_count", 0, engine_host_count(w->e));
    snap_put(s, "tenant_count", 0, engine_tenant_count(w->e));
    snap_put(s, "model_count", 0, engine_model_count(w->e));
    snap_put(s, "next_deadline", 0, (uint64_t)engine_next_deadline(w->e));
    for (uint32_t a = 0; a < naccts; a++)
        snap_put(s, "account balance", a, (uint64_t)engine_account_balance(w->e, a));
    for (uint32_t i = 0; i < w->tenant_count; i++) {
        struct tenant_view tv;

        if (engine_tenant(w->e, w->tenants[i], &tv) == 0) {
            snap_put(s, "tenant balance", tv.id, (uint64_t)tv.balance);
            snap_put(s, "tenant credit_limit", tv.id, (uint64_t)tv.credit_limit);
            snap_put(s, "tenant monthly_budget", tv.id, (uint64_t)tv.monthly_budget);
            snap_put(s, "tenant month_spent", tv.id, (uint64_t)tv.month_spent);
            snap_put(s, "tenant hourly_burn", tv.id, (uint64_t)tv.hourly_burn);
            snap_put(s, "tenant live_rentals", tv.id, tv.live_rentals);
        }
    }
    for (uint32_t i = 0; i < w->host_count; i++) {
        struct host_view hv;

        if (engine_host(w->e, w->hosts[i].id, &hv) == 0) {
            snap_put(s, "host state", hv.id, hv.state);
            snap_put(s, "host last_heartbeat_at", hv.id, (uint64_t)hv.last_heartbeat_at);
            snap_put(s, "host free_gpus", hv.id, hv.free_gpus);
        }
    }
    for (uint64_t id = 1; id <= engine_rental_count(w->e); id++) {
        struct rental_view rv;

        if (id < w->rental_cap && w->rentals[id].ended && w->rentals[id].end_checked)
            continue; /* the sweep checks ended rentals */
        if (engine_rental(w->e, id, &rv) == 0) {
            snap_put(s, "rental state", id, rv.state);
            snap_put(s, "rental host", id, rv.host);
            snap_put(s, "rental gpu_mask", id, rv.gpu_mask);
            snap_put(s, "rental epoch", id, rv.epoch);
            snap_put(s, "rental cost", id, (uint64_t)rv.cost);
            snap_put(s, "rental discount", id, (uint64_t)rv.discount);
            snap_put(s, "rental billed_us", id, (uint64_t)rv.billed_us);
            snap_put(s, "rental billing", id, rv.billing);
            snap_put(s, "rental ends_at", id, (uint64_t)rv.ends_at);
            snap_put(s, "rental preempt_at", id, (uint64_t)rv.preempt_at);
        }
    }
    for (uint32_t m = 0; m < engine_model_count(w->e); m++) {
        struct offer_view ov;

        if (engine_offer(w->e, m, &ov) == 0) {
            snap_put(s, "offer available_gpus", m, ov.available_gpus);
            snap_put(s, "offer on_demand_hourly", m, (uint64_t)ov.prices.on_demand_hourly);
            snap_put(s, "offer spot_floor_hourly", m, (uint64_t)ov.prices.spot_floor_hourly);
            for (int k = 0; k < PACKAGE_COUNT; k++)
                snap_put(s, "offer package", m * 10 + (uint64_t)k, (uint64_t)ov.prices.package[k]);
        }
    }
}

/* Compare snap_before with the state now; fails naming the first difference. */
static void expect_unchanged(struct world *w, const char *what)
{
    snapshot(w, &snap_after);
    for (size_t i = 0; i < snap_before.n || i < snap_after.n; i++) {
        const struct snap_item *a = i < snap_before.n ? &snap_before.items[i] : NULL;
        const struct snap_item *b = i < snap_after.n ? &snap_after.items[i] : NULL;

        CHECK(w, a != NULL && b != NULL && a->what == b->what && a->id == b->id,
              "%s changed the shape of the state at item %zu (%s %llu)", what, i,
              a ? a->what : b->what, (unsigned long long)(a ? a->id : b->id));
        CHECK(w, a->value == b->value, "%s changed %s %llu from %lld to %lld", what, a->what,
              (unsigned long long)a->id, (long long)a->value, (long long)b->value);
    }
}

/*
 * Apply a command and check the generic contract: the result code is returned and stored,
 * and a failing command leaves no event and no change behind.
 */
static int apply_ex(struct world *w, const struct command *cmd, struct result *res,
                    bool with_snapshot)
{
    char what[RESULT_DETAIL_MAX + 64];
    int rc;

    if (with_snapshot) {
        (void)drain(w); /* so that what the command emits can be told apart */
        snapshot(w, &snap_before);
    }
    memset(res, 0x5c, sizeof(*res));
    rc = engine_apply(w->e, cmd, w->now, res);
    CHECK(w, rc == res->code, "engine_apply returned %d but result.code is %d", rc, res->code);
    if (rc != 0) {
        size_t n;

        w->t.failed_cmds++;
        CHECK(w, res->detail[0] != '\0' && memchr(res->detail, '\0', RESULT_DETAIL_MAX),
              "failed command (code %s) without a detail", err_name(rc));
        n = engine_drain_events(w->e, evbuf, EVBUF);
        CHECK(w, n == 0, "command type %d failed (%s: %s) but emitted %zu events (first %d)",
              (int)cmd->type, err_name(rc), res->detail, n, n ? (int)evbuf[0].type : -1);
        if (with_snapshot) {
            snprintf(what, sizeof(what), "command type %d that failed (%s: %s)", (int)cmd->type,
                     err_name(rc), res->detail);
            expect_unchanged(w, what);
        }
    }
    return rc;
}

static int apply(struct world *w, const struct command *cmd, struct result *res)
{
    return apply_ex(w, cmd, res, true);
}

/* ---- The independent invariant checks ------------------------------------------------------ */

static int popcount32(uint32_t v)
{
    return __builtin_popcount(v);
}

/* The checks on one rental's view, for live rentals and ones that just ended. */
static void check_rental_view(struct world *w, uint64_t id, const struct rental_view *rv)
{
    struct trk_rental *r = trk(w, id);

    CHECK(w, rv->id == id && rv->tenant == r->tenant,
          "rental %llu: view id %llu tenant %u, "
          "expected tenant %u",
          (unsigned long long)id, (unsigned long long)rv->id, rv->tenant, r->tenant);
    CHECK(w, rv->state == r->state, "rental %llu: the view says %s, the events %s",
          (unsigned long long)id, state_str(rv->state), state_str(r->state));
    CHECK(w, !rv->requeue || rv->term == TERM_SPOT, "rental %llu (%s) asks to be requeued",
          (unsigned long long)id, term_name(rv->term));
    if (rv->requeued_as != 0) {
        struct rental_view nv;

        CHECK(w,
              rv->requeue && rv->state == RENTAL_ENDED && rv->end_reason == END_PREEMPTED &&
                  engine_rental(w->e, rv->requeued_as, &nv) == 0 && nv.requeued_from == id &&
                  nv.tenant == rv->tenant && nv.gpu_count == rv->gpu_count &&
                  nv.hourly_price == rv->hourly_price && nv.list_hourly == rv->list_hourly &&
                  nv.max_hourly == rv->max_hourly && nv.origin == rv->origin &&
                  strcmp(nv.gpu_model, rv->gpu_model) == 0 && nv.created_at == rv->ended_at,
              "rental %llu: requeued as %llu, which does not continue it", (unsigned long long)id,
              (unsigned long long)rv->requeued_as);
    }
    if (r->ends_at != 0 && rv->ends_at != r->ends_at && TERM_IS_PACKAGE(rv->term)) {
        r->renewed = true;
        w->t.renewals++;
    }
    r->ends_at = rv->ends_at;
    CHECK(w, rv->billed_us >= r->last_billed, "rental %llu: billed_us went from %lld to %lld",
          (unsigned long long)id, (long long)r->last_billed, (long long)rv->billed_us);
    r->last_billed = rv->billed_us;
    CHECK(w, rv->billed_us <= w->now - rv->created_at,
          "rental %llu: billed %lld us but created only %lld us ago", (unsigned long long)id,
          (long long)rv->billed_us, (long long)(w->now - rv->created_at));
    CHECK(w, !rv->billing || rv->state == RENTAL_RUNNING, "rental %llu is billing while %s",
          (unsigned long long)id, state_str(rv->state));
    CHECK(w, (rv->state == RENTAL_ENDED) == (rv->end_reason != END_NONE),
          "rental %llu: state %s with end_reason %d", (unsigned long long)id, state_str(rv->state),
          (int)rv->end_reason);
    CHECK(w, rv->cost >= 0 && rv->discount >= 0 && rv->amount_off_used >= 0,
          "rental %llu: cost %lld discount %lld amount_off_used %lld", (unsigned long long)id,
          (long long)rv->cost, (long long)rv->discount, (long long)rv->amount_off_used);
    CHECK(w, rv->cost == r->charged,
          "rental %llu (%s, %s): cost %lld but its transfers "
          "charged %lld",
          (unsigned long long)id, term_name(rv->term), state_str(rv->state), (long long)rv->cost,
          (long long)r->charged);
    CHECK(w, rv->discount == r->discounted,
          "rental %llu (%s, %s): discount %lld but its discount transfers moved %lld",
          (unsigned long long)id, term_name(rv->term), state_str(rv->state),
          (long long)rv->discount, (long long)r->discounted);

    if (rv->preempt_at != 0)
        CHECK(w, rv->term == TERM_SPOT && (rv->state == RENTAL_ENDED || rv->preempt_at > w->now),
              "rental %llu (%s, %s) is past its preemption time +%llds", (unsigned long long)id,
              term_name(rv->term), state_str(rv->state),
              (long long)((rv->preempt_at - w->t0) / SEC));
    if (rv->state == RENTAL_PENDING)
        CHECK(w, rv->gpu_mask == 0, "pending rental %llu holds GPUs %#x", (unsigned long long)id,
              rv->gpu_mask);
    if (rv->billing && rv->host != 0) {
        struct host_view hv;

        CHECK(w, engine_host(w->e, rv->host, &hv) == 0 && hv.state != HOST_DOWN,
              "rental %llu bills on host %u which is down", (unsigned long long)id, rv->host);
    }
    if (!TERM_IS_PACKAGE(rv->term)) {
        int64_t rate_net = (int64_t)rv->gpu_count * rv->hourly_price;
        int64_t rate_list = (int64_t)rv->gpu_count * rv->list_hourly;
        int64_t net = money_prorate(rate_net, rv->billed_us);
        int64_t list = money_prorate(rate_list, rv->billed_us);

        CHECK(w, rv->cost == net - rv->amount_off_used,
              "rental %llu (%s): cost %lld != prorate(%lld/h, %lld us) %lld - amount_off_used "
              "%lld",
              (unsigned long long)id, term_name(rv->term), (long long)rv->cost, (long long)rate_net,
              (long long)rv->billed_us, (long long)net, (long long)rv->amount_off_used);
        CHECK(w, rv->cost + rv->discount == list,
              "rental %llu (%s): cost %lld + discount %lld != prorate(list %lld/h, %lld us) %lld",
              (unsigned long long)id, term_name(rv->term), (long long)rv->cost,
              (long long)rv->discount, (long long)rate_list, (long long)rv->billed_us,
              (long long)list);
        if (r->max_cost > 0)
            CHECK(w, rv->cost <= r->max_cost, "rental %llu: cost %lld above max_cost %lld",
                  (unsigned long long)id, (long long)rv->cost, (long long)r->max_cost);
    }
    if (r->max_duration > 0)
        CHECK(w, rv->billed_us <= r->max_duration,
              "rental %llu (%s): billed %lld us, above max_duration %lld (started +%llds, "
              "ends_at +%llds, ended_at +%llds)",
              (unsigned long long)id, state_str(rv->state), (long long)rv->billed_us,
              (long long)r->max_duration, (long long)((rv->started_at - w->t0) / SEC),
              (long long)((rv->ends_at - w->t0) / SEC), (long long)((rv->ended_at - w->t0) / SEC));
    if (rv->state == RENTAL_ENDED) {
        CHECK(w, !rv->billing && rv->ended_at != 0 && rv->end_reason == r->end_reason,
              "ended rental %llu: billing %d ended_at %lld reason %s (events: %s)",
              (unsigned long long)id, rv->billing, (long long)rv->ended_at,
              end_reason_name(rv->end_reason), end_reason_name(r->end_reason));
        if (TERM_IS_PACKAGE(rv->term) && !r->renewed && r->pkg_net0 >= 0) {
            /* a package ended in its first term keeps what its billed time earned, no more */
            int64_t len = term_length_us(rv->term);
            int64_t used = rv->billed_us < len ? rv->billed_us : len;

            CHECK(w,
                  rv->cost == money_scale(r->pkg_net0, used, len) &&
                      rv->discount == money_scale(r->pkg_disc0, used, len),
                  "package rental %llu (%s, ended %s after %lld of %lld us): cost %lld discount "
                  "%lld, expected %lld and %lld (paid %lld, discount %lld)",
                  (unsigned long long)id, term_name(rv->term), end_reason_name(rv->end_reason),
                  (long long)used, (long long)len, (long long)rv->cost, (long long)rv->discount,
                  (long long)money_scale(r->pkg_net0, used, len),
                  (long long)money_scale(r->pkg_disc0, used, len), (long long)r->pkg_net0,
                  (long long)r->pkg_disc0);
        }
        if (rv->end_reason == END_FAILED_TO_START && rv->started_at == 0)
            CHECK(w, rv->cost == 0 && rv->billed_us == 0,
                  "rental %llu failed to start but was charged %lld for %lld us",
                  (unsigned long long)id, (long long)rv->cost, (long long)rv->billed_us);
    }
}

/* A rental that ended before must look exactly as it did when it ended. */
static void check_ended(struct world *w, uint64_t id)
{
    struct trk_rental *r = trk(w, id);
    struct rental_view rv;

    CHECK(w, engine_rental(w->e, id, &rv) == 0, "ended rental %llu can no longer be read",
          (unsigned long long)id);
    if (!r->end_checked) {
        check_rental_view(w, id, &rv);
        r->end_checked = true;
        r->end_cost = rv.cost;
        r->end_billed = rv.billed_us;
        r->end_exit_code = rv.exit_code;
        return;
    }
    CHECK(w,
          rv.state == RENTAL_ENDED && rv.end_reason == r->end_reason && rv.cost == r->end_cost &&
              rv.billed_us == r->end_billed && !rv.billing && rv.exit_code == r->end_exit_code &&
              rv.cost == r->charged,
          "ended rental %llu changed: now %s/%s cost %lld billed %lld billing %d exit %d "
          "(ended %s cost %lld billed %lld exit %d; transfers charged %lld)",
          (unsigned long long)id, state_str(rv.state), end_reason_name(rv.end_reason),
          (long long)rv.cost, (long long)rv.billed_us, rv.billing, rv.exit_code,
          end_reason_name(r->end_reason), (long long)r->end_cost, (long long)r->end_billed,
          r->end_exit_code, (long long)r->charged);
}

static void check_all(struct world *w, bool full_sweep)
{
    static struct gpu_view gv[MAX_GPUS_PER_HOST];
    static uint64_t occ[MAX_HOSTS + 1][MAX_GPUS_PER_HOST];
    char detail[256] = "";
    struct engine_stats st;
    uint32_t naccts;
    int64_t sum = 0;
    uint32_t occupied = 0, bits = 0, pending = 0, live = 0;
    uint32_t tenant_live[MAX_TENANTS] = {0};
    int64_t tenant_burn[MAX_TENANTS] = {0};
    uint32_t free_ready[ARRAY_SIZE(model_names)] = {0};
    uint32_t max_free[ARRAY_SIZE(model_names)] = {0};
    uint32_t pending_of[ARRAY_SIZE(model_names)] = {0};
    uint32_t pending_fit[ARRAY_SIZE(model_names)] = {0};
    int rc;

    (void)drain(w);
    rc = engine_check(w->e, detail, sizeof(detail));
    CHECK(w, rc == 0, "engine_check: %s (%s)", detail, err_name(rc));

    /* (1) the ledger, recomputed from the transfers */
    naccts = engine_account_count(w->e);
    for (uint32_t a = 0; a < naccts; a++) {
        int64_t b = engine_account_balance(w->e, a);

        CHECK(w, b == *balance_slot(w, a), "account %u: balance %lld, transfers say %lld", a,
              (long long)b, (long long)*balance_slot(w, a));
        sum += b;
    }
    CHECK(w, sum == 0, "account balances sum to %lld", (long long)sum);

    /* (3) GPUs: what each GPU says it is held by */
    CHECK(w, engine_host_count(w->e) == w->host_count, "%u hosts, expected %u",
          engine_host_count(w->e), w->host_count);
    for (uint32_t i = 0; i < w->host_count; i++) {
        struct trk_host *th = &w->hosts[i];
        struct host_view hv;
        uint32_t nfree = 0;
        int n;

        CHECK(w, engine_host(w->e, th->id, &hv) == 0, "host %u cannot be read", th->id);
        CHECK(w, hv.state == th->ev_state, "host %u is %s, the events say %s", th->id,
              host_state_name(hv.state), host_state_name(th->ev_state));
        n = engine_host_gpus(w->e, th->id, gv, MAX_GPUS_PER_HOST);
        CHECK(w, n == (int)th->gpus && hv.gpu_count == th->gpus, "host %u: %d GPUs, expected %u",
              th->id, n, th->gpus);
        for (int g = 0; g < n; g++) {
            CHECK(w, gv[g].index < MAX_GPUS_PER_HOST, "host %u: GPU index %u", th->id, gv[g].index);
            occ[i][gv[g].index] = gv[g].rental;
            if (gv[g].rental != 0) {
                occupied++;
                CHECK(w, gv[g].state != GPU_FREE, "host %u GPU %u is free but held by rental %llu",
                      th->id, gv[g].index, (unsigned long long)gv[g].rental);
            }
            if (gv[g].rental == 0)
                nfree++;
        }
        CHECK(w, hv.free_gpus == nfree, "host %u: free_gpus %u but %u GPUs are not held", th->id,
              hv.free_gpus, nfree);
        if (hv.state == HOST_READY) {
            free_ready[th->model] += nfree;
            if (nfree > max_free[th->model])
                max_free[th->model] = nfree;
        }
    }

    /* (3)-(6) every live rental, as the events tell it */
    for (size_t k = 0; k < w->live_count; k++) {
        uint64_t id = w->live[k];
        struct trk_rental *r = trk(w, id);
        struct rental_view rv;
        uint32_t hi = UINT32_MAX;

        CHECK(w, engine_rental(w->e, id, &rv) == 0, "rental %llu can no longer be read",
              (unsigned long long)id);
        check_rental_view(w, id, &rv);
        for (uint32_t t = 0; t < w->tenant_count; t++) {
            if (w->tenants[t] == r->tenant) {
                tenant_live[t]++;
                if (rv.billing && !TERM_IS_PACKAGE(rv.term))
                    tenant_burn[t] += (int64_t)rv.gpu_count * rv.hourly_price;
            }
        }
        if (rv.state == RENTAL_PENDING) {
            pending++;
            for (uint32_t m = 0; m < ARRAY_SIZE(model_names); m++) {
                if (strcmp(rv.gpu_model, model_names[m]) == 0) {
                    pending_of[m]++;
                    pending_fit[m] += rv.gpu_count <= max_free[m];
                }
            }
            continue;
        }
        live++;
        for (uint32_t i = 0; i < w->host_count; i++) {
            if (w->hosts[i].id == rv.host)
                hi = i;
        }
        CHECK(w, hi != UINT32_MAX, "%s rental %llu is on unknown host %u", state_str(rv.state),
              (unsigned long long)id, rv.host);
        CHECK(w, (uint32_t)popcount32(rv.gpu_mask) == rv.gpu_count,
              "rental %llu holds mask %#x for %u GPUs", (unsigned long long)id, rv.gpu_mask,
              rv.gpu_count);
        for (uint32_t g = 0; g < MAX_GPUS_PER_HOST; g++) {
            if (!(rv.gpu_mask & (UINT32_C(1) << g)))
                continue;
            CHECK(w, occ[hi][g] == id,
                  "rental %llu holds GPU %u of host %u, which says it is "
                  "held by rental %llu",
                  (unsigned long long)id, g, rv.host, (unsigned long long)occ[hi][g]);
            bits++;
        }
    }
    CHECK(w, bits == occupied, "%u GPUs say they are held, live rentals hold %u", occupied, bits);

    /* (5) rentals that just ended, and now and then all of them */
    for (uint64_t id = 1; id < w->rental_cap; id++) {
        struct trk_rental *r = &w->rentals[id];

        if (r->known && r->ended && (!r->end_checked || full_sweep))
            check_ended(w, id);
    }
    if (full_sweep) {
        uint64_t count = engine_rental_count(w->e);

        for (uint64_t id = 1; id <= count; id++)
            CHECK(w, id < w->rental_cap && w->rentals[id].known,
                  "rental %llu exists but no EV_RENTAL_CREATED said so", (unsigned long long)id);
    }

    /* (2) wallets */
    for (uint32_t t = 0; t < w->tenant_count; t++) {
        struct tenant_view tv;

        CHECK(w, engine_tenant(w->e, w->tenants[t], &tv) == 0, "tenant %u cannot be read",
              w->tenants[t]);
        CHECK(w, tv.balance == engine_account_balance(w->e, tv.account),
              "tenant %u: balance %lld but its account %u holds %lld", tv.id, (long long)tv.balance,
              tv.account, (long long)engine_account_balance(w->e, tv.account));
        CHECK(w, tv.balance >= -tv.credit_limit, "tenant %u: balance %lld below -credit_limit %lld",
              tv.id, (long long)tv.balance, (long long)tv.credit_limit);
        CHECK(w, tv.live_rentals == tenant_live[t], "tenant %u: live_rentals %u, expected %u",
              tv.id, tv.live_rentals, tenant_live[t]);
        CHECK(w, tv.hourly_burn == tenant_burn[t],
              "tenant %u: hourly_burn %lld, its billing rentals add up to %lld", tv.id,
              (long long)tv.hourly_burn, (long long)tenant_burn[t]);
        /* spending grows only up to the monthly budget (it may sit above one set lower) */
        CHECK(w,
              tv.monthly_budget == 0 || tv.month_spent <= w->month_spent[t] ||
                  tv.month_spent <= tv.monthly_budget,
              "tenant %u: month_spent grew from %lld to %lld, above its monthly budget %lld", tv.id,
              (long long)w->month_spent[t], (long long)tv.month_spent,
              (long long)tv.monthly_budget);
        w->month_spent[t] = tv.month_spent;
    }

    /* stats and offers */
    engine_stats(w->e, &st);
    CHECK(w, st.live_now == live && st.pending_now == pending,
          "stats: live_now %u pending_now %u, expected %u and %u", st.live_now, st.pending_now,
          live, pending);
    CHECK(w, st.transfers == w->transfers_seen, "stats: %llu transfers, %llu seen",
          (unsigned long long)st.transfers, (unsigned long long)w->transfers_seen);
    CHECK(w, st.tenants == w->tenant_count && st.hosts == w->host_count,
          "stats: %u tenants %u hosts, expected %u and %u", st.tenants, st.hosts, w->tenant_count,
          w->host_count);
    for (uint32_t m = 0; m < ARRAY_SIZE(model_names); m++) {
        struct offer_view ov;
        uint32_t idx;

        if (engine_model_find(w->e, model_names[m], &idx) < 0)
            continue;
        CHECK(w, engine_offer(w->e, idx, &ov) == 0, "offer %u cannot be read", idx);
        CHECK(w, ov.available_gpus == free_ready[m],
              "offer %s: available_gpus %u, free GPUs on ready hosts %u", model_names[m],
              ov.available_gpus, free_ready[m]);
        /* placement is event-driven: when every waiting rental fits, none may be waiting */
        CHECK(w, pending_of[m] == 0 || pending_fit[m] < pending_of[m],
              "%u pending rentals of %s all fit (a ready host has %u free GPUs) yet none was "
              "placed",
              pending_of[m], model_names[m], max_free[m]);
    }
    CHECK(w, engine_next_deadline(w->e) > w->now,
          "engine_next_deadline %lld is not after now %lld although ticked to now",
          (long long)engine_next_deadline(w->e), (long long)w->now);
}

/* ---- The simulated agents ------------------------------------------------------------------ */

#define MAX_REPORTS 64

/* The report an honest agent sends for one rental it was told to run. */
static void agent_report(struct world *w, uint64_t id, const struct rental_view *rv,
                         struct rental_report *out)
{
    struct trk_rental *r = trk(w, id);

    if (rv->epoch != r->agent_epoch && w->scenario != NULL) {
        r->agent_epoch = rv->epoch; /* a scenario says when its workloads are ready */
    } else if (rv->epoch != r->agent_epoch) {
        r->agent_epoch = rv->epoch;
        /* most workloads come up within a minute or two; a few never do */
        r->ready_at = rng_pct(&w->rng, r->keep ? 0 : 7) ? INT64_MAX
                                                        : w->now + rng_range(&w->rng, 0, 90) * SEC;
    }
    out->rental = id;
    out->epoch = rv->epoch;
    out->exit_code = 0;
    if (rv->state == RENTAL_RUNNING || w->now >= r->ready_at)
        out->state = REPORT_RUNNING;
    else
        out->state = REPORT_STARTING;
}

/* Fill reports with what host `host` runs; returns how many. */
static uint32_t host_reports(struct world *w, uint32_t host, struct rental_report *reps)
{
    uint32_t n = 0;

    for (size_t k = 0; k < w->live_count && n < MAX_REPORTS; k++) {
        struct rental_view rv;

        if (engine_rental(w->e, w->live[k], &rv) < 0 || rv.host != host ||
            (rv.state != RENTAL_STARTING && rv.state != RENTAL_RUNNING))
            continue;
        agent_report(w, w->live[k], &rv, &reps[n++]);
    }
    return n;
}

static void heartbeat_with(struct world *w, uint32_t host, const struct rental_report *reps,
                           uint32_t n)
{
    struct command cmd = {.type = CMD_HOST_REPORT};
    struct result res;
    int rc;

    cmd.u.host_report.host = host;
    cmd.u.host_report.reports = reps;
    cmd.u.host_report.count = n;
    rc = apply_ex(w, &cmd, &res, false);
    CHECK(w, rc == 0, "heartbeat of host %u with %u reports failed: %s (%s)", host, n, err_name(rc),
          res.detail);
}

static void heartbeat(struct world *w, uint32_t host)
{
    struct rental_report reps[MAX_REPORTS];
    uint32_t n = host_reports(w, host, reps);

    heartbeat_with(w, host, reps, n);
}

/* Move the clock to target, ticking and heartbeating the live hosts on the way. */
static void heartbeat_all(struct world *w)
{
    for (uint32_t i = 0; i < w->host_count; i++) {
        struct trk_host *h = &w->hosts[i];

        if (!h->alive && h->revive_at <= w->now) {
            h->alive = true;
            h->alive_since = w->now;
            wlog(w, "host %u comes back (engine says %s)", h->id, host_state_name(h->ev_state));
        }
        if (h->alive)
            heartbeat(w, h->id);
    }
}

/*
 * Move the clock to target, ticking and heartbeating the live hosts on the way. At each
 * instant the heartbeats come before the tick or after it (hb_first), both of which a
 * server may do.
 */
static void advance(struct world *w, int64_t target, bool heartbeats)
{
    while (w->now < target) {
        int64_t next = !heartbeats ? target
                       : w->fixed_step > 0
                           ? w->now + w->fixed_step
                           : w->now + rng_range(&w->rng, 5, HB_MAX_STEP / SEC) * SEC;

        if (next > target)
            next = target;
        if (heartbeats && w->hb_first) {
            w->now = next;
            heartbeat_all(w);
        }
        engine_tick(w->e, next);
        w->now = next;
        (void)drain(w);
        if (heartbeats && !w->hb_first)
            heartbeat_all(w);
    }
}

/* ---- Random commands ----------------------------------------------------------------------- */

static void do_tenant_create(struct world *w)
{
    struct command cmd = {.type = CMD_TENANT_CREATE};
    struct result res;
    char name[32];
    int rc;

    if (w->tenant_count >= MAX_TENANTS)
        return;
    snprintf(name, sizeof(name), "tenant-%u", w->tenant_count + 1);
    cmd.u.tenant_create.name = name;
    cmd.u.tenant_create.credit_limit = rng_pct(&w->rng, 50) ? 0 : rng_range(&w->rng, 1, 300) * CNY;
    rc = apply(w, &cmd, &res);
    wlog(w, "tenant create %s limit %lld -> %s id %llu", name,
         (long long)cmd.u.tenant_create.credit_limit, err_name(rc), (unsigned long long)res.id);
    CHECK(w, rc == 0, "tenant create failed: %s", res.detail);
    w->tenants[w->tenant_count++] = (uint32_t)res.id;
}

static uint32_t pick_tenant(struct world *w)
{
    return w->tenants[rng_below(&w->rng, w->tenant_count)];
}

static void do_tenant_update(struct world *w)
{
    struct command cmd = {.type = CMD_TENANT_UPDATE};
    struct result res;
    int rc;

    cmd.u.tenant_update.tenant = pick_tenant(w);
    cmd.u.tenant_update.set_credit_limit = rng_pct(&w->rng, 60);
    cmd.u.tenant_update.credit_limit = rng_pct(&w->rng, 30) ? 0 : rng_range(&w->rng, 1, 500) * CNY;
    cmd.u.tenant_update.set_monthly_budget =
        !cmd.u.tenant_update.set_credit_limit || rng_pct(&w->rng, 30);
    cmd.u.tenant_update.monthly_budget =
        rng_pct(&w->rng, 40) ? 0 : rng_range(&w->rng, 10, 3000) * CNY;
    rc = apply(w, &cmd, &res);
    wlog(w, "tenant update %u limit %s%lld budget %s%lld -> %s %s", cmd.u.tenant_update.tenant,
         cmd.u.tenant_update.set_credit_limit ? "" : "(keep)",
         (long long)cmd.u.tenant_update.credit_limit,
         cmd.u.tenant_update.set_monthly_budget ? "" : "(keep)",
         (long long)cmd.u.tenant_update.monthly_budget, err_name(rc), rc ? res.detail : "");
    CHECK(w, rc == 0 || rc == ERR_CONFLICT, "tenant update: unexpected %s (%s)", err_name(rc),
          res.detail);
}

static void do_credit(struct world *w)
{
    struct command cmd = {.type = CMD_CREDIT};
    struct result res;
    struct trk_key *k = NULL;
    char key[32];
    int rc;

    if (w->key_count > 0 && rng_pct(&w->rng, 25)) {
        /* a retry of an earlier keyed top-up: the first result again, nothing moves */
        k = &w->keys[rng_below(&w->rng, w->key_count)];
        cmd.u.credit.tenant = k->tenant;
        cmd.u.credit.amount = k->amount;
        cmd.u.credit.reference = "retry";
        cmd.u.credit.transfer_id = k->key;
        (void)drain(w);
        snapshot(w, &snap_before);
        rc = apply(w, &cmd, &res);
        wlog(w, "credit replay %s tenant %u %lld -> %s replayed %d amount %lld", k->key, k->tenant,
             (long long)k->amount, err_name(rc), res.replayed, (long long)res.amount);
        CHECK(w,
              rc == k->first.code && res.replayed && res.amount == k->first.amount &&
                  res.id == k->first.id,
              "credit replay of %s: code %s replayed %d amount %lld id %llu; first was code %s "
              "amount %lld id %llu",
              k->key, err_name(rc), res.replayed, (long long)res.amount, (unsigned long long)res.id,
              err_name(k->first.code), (long long)k->first.amount, (unsigned long long)k->first.id);
        CHECK(w, engine_drain_events(w->e, evbuf, EVBUF) == 0, "credit replay emitted events");
        expect_unchanged(w, "a credit replay");
        w->t.replays++;
        return;
    }
    cmd.u.credit.tenant = pick_tenant(w);
    cmd.u.credit.amount = rng_range(&w->rng, 1, 2000 * CNY);
    cmd.u.credit.reference = rng_pct(&w->rng, 50) ? "bank transfer" : NULL;
    if (rng_pct(&w->rng, 50) && w->key_count < MAX_KEYS) {
        snprintf(key, sizeof(key), "tx-%llu-%u", (unsigned long long)w->seed, w->key_count);
        cmd.u.credit.transfer_id = key;
    }
    rc = apply(w, &cmd, &res);
    wlog(w, "credit tenant %u %lld key %s -> %s balance %lld", cmd.u.credit.tenant,
         (long long)cmd.u.credit.amount, cmd.u.credit.transfer_id ? key : "-", err_name(rc),
         (long long)res.amount);
    CHECK(w, rc == 0 && !res.replayed, "credit failed: %s (%s)", err_name(rc), res.detail);
    {
        struct tenant_view tv;

        (void)drain(w);
        CHECK(w, engine_tenant(w->e, cmd.u.credit.tenant, &tv) == 0 && tv.balance == res.amount,
              "credit: result says balance %lld, the wallet holds %lld", (long long)res.amount,
              (long long)tv.balance);
    }
    if (cmd.u.credit.transfer_id != NULL) {
        k = &w->keys[w->key_count++];
        snprintf(k->key, sizeof(k->key), "%s", key);
        k->tenant = cmd.u.credit.tenant;
        k->amount = cmd.u.credit.amount;
        k->first = res;
    }
}

/* An operator's adjustment: a credit or a charge, maybe about one of the tenant's rentals,
 * maybe naming last month; it moves the wallet by exactly its amount or fails for a reason. */
static void do_adjust(struct world *w)
{
    struct command cmd = {.type = CMD_ADJUST};
    struct cmd_adjust *a = &cmd.u.adjust;
    struct tenant_view before, after;
    struct rental_view rv;
    struct result res;
    int64_t open = time_month_index(w->now), avail;
    int rc;

    a->tenant = pick_tenant(w);
    a->amount = rng_range(&w->rng, 1, 50 * CNY) * (rng_pct(&w->rng, 50) ? 1 : -1);
    a->reason = rng_pct(&w->rng, 50) ? "goodwill" : "billing error, ticket 42";
    if (rng_pct(&w->rng, 50) && engine_rental_count(w->e) > 0) {
        uint64_t id = 1 + rng_below(&w->rng, (uint32_t)engine_rental_count(w->e));
        if (engine_rental(w->e, id, &rv) == 0 && rv.tenant == a->tenant)
            a->rental = id;
    }
    if (rng_pct(&w->rng, 40))
        a->corrects = open - 1;
    (void)drain(w);
    CHECK(w, engine_tenant(w->e, a->tenant, &before) == 0, "tenant %u cannot be read", a->tenant);
    rc = apply(w, &cmd, &res);
    wlog(w, "adjust tenant %u %lld rental %llu corrects %lld -> %s %s", a->tenant,
         (long long)a->amount, (unsigned long long)a->rental, (long long)a->corrects, err_name(rc),
         rc ? res.detail : "");
    avail = before.balance + before.credit_limit;
    if (rc != 0) {
        bool poor = a->amount < 0 && -a->amount > avail;
        bool late = a->rental != 0 && a->corrects != 0 &&
                    engine_rental(w->e, a->rental, &rv) == 0 &&
                    rv.created_at >= time_month_start(a->corrects + 1);
        CHECK(w, (rc == ERR_FUNDS && poor) || (rc == ERR_INVALID && late),
              "adjustment refused: %s (%s)", err_name(rc), res.detail);
        return;
    }
    CHECK(w, a->amount > 0 || -a->amount <= avail, "adjustment charged %lld of %lld available",
          (long long)-a->amount, (long long)avail);
    (void)drain(w);
    CHECK(w,
          engine_tenant(w->e, a->tenant, &after) == 0 &&
              after.balance == before.balance + a->amount && res.amount == after.balance,
          "adjustment of %lld moved the wallet from %lld to %lld (result %lld)",
          (long long)a->amount, (long long)before.balance, (long long)after.balance,
          (long long)res.amount);
    w->t.adjustments++;
}

static void random_prices(struct world *w, struct cmd_price_set *ps)
{
    int64_t od = rng_range(&w->rng, 1 * CNY, 30 * CNY);

    if (rng_pct(&w->rng, 30))
        od = od / CNY * CNY; /* whole units sometimes, fractions of a micro-unit otherwise */
    if (od <= 0)
        od = CNY;
    ps->on_demand_hourly = od;
    ps->spot_floor_hourly =
        rng_pct(&w->rng, 25) ? 0 : money_scale(od, rng_range(&w->rng, 20, 90), 100);
    ps->package[0] =
        rng_pct(&w->rng, 20) ? 0 : money_scale(od * 24, rng_range(&w->rng, 60, 95), 100);
    ps->package[1] =
        rng_pct(&w->rng, 20) ? 0 : money_scale(od * 24 * 7, rng_range(&w->rng, 50, 90), 100);
    ps->package[2] =
        rng_pct(&w->rng, 20) ? 0 : money_scale(od * 24 * 30, rng_range(&w->rng, 40, 85), 100);
}

static void do_price_set(struct world *w, uint32_t model)
{
    struct command cmd = {.type = CMD_PRICE_SET};
    struct result res;
    int rc;

    cmd.u.price_set.gpu_model = model_names[model];
    cmd.u.price_set.memory_mib = rng_pct(&w->rng, 50) ? model_memory[model] : 0;
    random_prices(w, &cmd.u.price_set);
    rc = apply(w, &cmd, &res);
    wlog(w, "price %s od %lld spot %lld pkg %lld/%lld/%lld -> %s", model_names[model],
         (long long)cmd.u.price_set.on_demand_hourly, (long long)cmd.u.price_set.spot_floor_hourly,
         (long long)cmd.u.price_set.package[0], (long long)cmd.u.price_set.package[1],
         (long long)cmd.u.price_set.package[2], err_name(rc));
    CHECK(w, rc == 0, "price set failed: %s", res.detail);
}

static void do_coupon_create(struct world *w)
{
    struct command cmd = {.type = CMD_COUPON_CREATE};
    struct cmd_coupon_create *cc = &cmd.u.coupon_create;
    struct result res;
    char code[32];
    int rc;

    snprintf(code, sizeof(code), "CPN%u", w->coupon_count);
    cc->code = code;
    if (rng_pct(&w->rng, 50))
        cc->percent_off_bp = rng_pct(&w->rng, 15)  ? (uint32_t)rng_range(&w->rng, 1, 3)
                             : rng_pct(&w->rng, 5) ? 10000
                                                   : (uint32_t)rng_range(&w->rng, 1, 9000);
    else
        cc->amount_off = rng_range(&w->rng, 1, 50 * CNY);
    cc->max_redemptions = (uint32_t)rng_below(&w->rng, 4);
    cc->valid_until = rng_pct(&w->rng, 50) ? 0 : w->now + rng_range(&w->rng, 60, 6 * 3600) * SEC;
    cc->gpu_model = rng_pct(&w->rng, 60) ? NULL : model_names[rng_below(&w->rng, HOST_MODELS)];
    cc->term = rng_pct(&w->rng, 60) ? -1 : (int)rng_below(&w->rng, TERM_COUNT);
    cc->automatic = rng_pct(&w->rng, 25);
    cc->once_per_tenant = rng_pct(&w->rng, 30);
    rc = apply(w, &cmd, &res);
    wlog(w, "coupon %s pct %u off %lld max %u until %+llds model %s term %d auto %d once %d -> %s",
         code, cc->percent_off_bp, (long long)cc->amount_off, cc->max_redemptions,
         cc->valid_until ? (long long)((cc->valid_until - w->now) / SEC) : 0LL,
         cc->gpu_model ? cc->gpu_model : "*", cc->term, cc->automatic, cc->once_per_tenant,
         err_name(rc));
    CHECK(w, rc == 0, "coupon create failed: %s", res.detail);
    w->coupon_count++;
}

static void do_host_register(struct world *w)
{
    struct command cmd = {.type = CMD_HOST_REGISTER};
    struct gpu_spec specs[8];
    char uuids[8][32];
    char name[32];
    struct result res;
    uint32_t model = rng_below(&w->rng, HOST_MODELS);
    uint32_t n = rng_pct(&w->rng, 50) ? 8 : (uint32_t)rng_range(&w->rng, 1, 8);
    uint32_t layout = rng_below(&w->rng, 3); /* one island, pairs/quads, or none (PCIe) */
    struct trk_host *h;
    int rc;

    if (w->host_count >= MAX_HOSTS)
        return;
    snprintf(name, sizeof(name), "gpu-node-%u", w->host_count + 1);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(uuids[i], sizeof(uuids[i]), "GPU-%08x-%u", (unsigned)w->seed, w->uuid_counter++);
        specs[i].index = i;
        specs[i].uuid = uuids[i];
        specs[i].model = model_names[model];
        specs[i].memory_mib = model_memory[model];
        specs[i].nvlink_island = layout == 0 ? 0 : layout == 1 ? i / 4 : i;
    }
    cmd.u.host_register.hostname = name;
    cmd.u.host_register.gpus = specs;
    cmd.u.host_register.gpu_count = n;
    rc = apply(w, &cmd, &res);
    wlog(w, "host register %s %u x %s layout %u -> %s id %llu", name, n, model_names[model], layout,
         err_name(rc), (unsigned long long)res.id);
    CHECK(w, rc == 0, "host register failed: %s", res.detail);
    h = &w->hosts[w->host_count++];
    h->id = (uint32_t)res.id;
    h->model = model;
    h->gpus = n;
    h->alive = true;
    h->ev_state = HOST_READY;
    h->up_since = w->now;
}

static void do_host_cost(struct world *w)
{
    struct command cmd = {.type = CMD_HOST_COST};
    struct cost_basis *cb = &cmd.u.host_cost.cost;
    struct result res;
    int rc;

    if (w->host_count == 0)
        return;
    cmd.u.host_cost.host = w->hosts[rng_below(&w->rng, w->host_count)].id;
    cb->purchase_price = rng_range(&w->rng, 100000, 1000000) * CNY;
    cb->purchased_at = w->now - rng_range(&w->rng, 0, 400) * 86400 * SEC;
    cb->depreciation_years = (uint32_t)rng_range(&w->rng, 3, 6);
    cb->salvage_ppm = (uint32_t)rng_below(&w->rng, 200000);
    cb->power_watts = (uint32_t)rng_range(&w->rng, 500, 6500);
    cb->pue_milli = (uint32_t)rng_range(&w->rng, 1000, 1600);
    cb->electricity_kwh_price = rng_range(&w->rng, 300000, 1200000);
    cb->hosting_monthly = rng_range(&w->rng, 0, 5000) * CNY;
    rc = apply(w, &cmd, &res);
    wlog(w, "host cost %u -> %s", cmd.u.host_cost.host, err_name(rc));
    CHECK(w, rc == 0, "host cost failed: %s", res.detail);
}

static void do_drain(struct world *w)
{
    struct command cmd;
    struct result res;
    struct trk_host *h;
    int rc;

    if (w->host_count == 0)
        return;
    h = &w->hosts[rng_below(&w->rng, w->host_count)];
    cmd.type = rng_pct(&w->rng, 50) ? CMD_HOST_DRAIN : CMD_HOST_UNDRAIN;
    cmd.u.host.host = h->id;
    rc = apply(w, &cmd, &res);
    wlog(w, "host %s %u (%s) -> %s %s", cmd.type == CMD_HOST_DRAIN ? "drain" : "undrain", h->id,
         host_state_name(h->ev_state), err_name(rc), rc ? res.detail : "");
    CHECK(w, rc == 0 || rc == ERR_CONFLICT, "drain/undrain: unexpected %s (%s)", err_name(rc),
          res.detail);
}

/* A host's agent stops; it comes back before lost_after, after it, or never. */
static void do_host_fail(struct world *w)
{
    struct trk_host *h;
    uint32_t kind = rng_below(&w->rng, 10);

    if (w->host_count == 0)
        return;
    h = &w->hosts[rng_below(&w->rng, w->host_count)];
    if (!h->alive)
        return;
    h->alive = false;
    if (kind < 5)
        h->revive_at = w->now + rng_range(&w->rng, 20, 290) * SEC;
    else if (kind < 9)
        h->revive_at = w->now + rng_range(&w->rng, 300, 3600) * SEC;
    else
        h->revive_at = INT64_MAX;
    wlog(w, "host %u stops heartbeating, back in %llds", h->id,
         h->revive_at == INT64_MAX ? -1LL : (long long)((h->revive_at - w->now) / SEC));
}

/* Pick a live rental (as the events tell it) matching the filter, or 0. */
static uint64_t pick_live(struct world *w, bool placed_only, bool to_stop)
{
    uint32_t tries = 8;

    while (w->live_count > 0 && tries-- > 0) {
        uint64_t id = w->live[rng_below(&w->rng, (uint32_t)w->live_count)];
        enum rental_state s = trk(w, id)->state;

        if (to_stop && trk(w, id)->keep)
            continue;
        if (!placed_only || s == RENTAL_STARTING || s == RENTAL_RUNNING)
            return id;
    }
    return 0;
}

static uint64_t pick_any_rental(struct world *w)
{
    uint64_t count = engine_rental_count(w->e);

    return count == 0 ? 0 : 1 + rng_next(&w->rng) % count;
}

/* The free GPUs of each ready host of the model (UINT32_MAX for the others). */
static void free_before(struct world *w, uint32_t model, uint32_t *free)
{
    for (uint32_t i = 0; i < w->host_count; i++) {
        struct host_view hv;

        free[i] = UINT32_MAX;
        if (w->hosts[i].model == model && engine_host(w->e, w->hosts[i].id, &hv) == 0 &&
            hv.state == HOST_READY)
            free[i] = hv.free_gpus;
    }
}

/*
 * A rental placed at creation went to the ready host with the fewest free GPUs that fit it
 * (best fit, which keeps whole hosts free for large requests), and onto one NVLink island
 * when that host had an island with enough free GPUs.
 */
static void check_placement(struct world *w, const struct rental_view *rv, const uint32_t *free)
{
    static struct gpu_view gv[MAX_GPUS_PER_HOST];
    uint32_t best = UINT32_MAX, hi = UINT32_MAX;
    uint32_t island_free[MAX_GPUS_PER_HOST] = {0};
    uint32_t islands_used = 0;
    int n;

    for (uint32_t i = 0; i < w->host_count; i++) {
        if (free[i] != UINT32_MAX && free[i] >= rv->gpu_count && free[i] < best)
            best = free[i];
        if (w->hosts[i].id == rv->host)
            hi = i;
    }
    CHECK(w, hi != UINT32_MAX && free[hi] != UINT32_MAX,
          "rental %llu was placed on host %u, which was not a ready host of its model",
          (unsigned long long)rv->id, rv->host);
    CHECK(w, free[hi] == best,
          "rental %llu of %u GPUs was placed on host %u with %u free GPUs; best fit was a host "
          "with %u",
          (unsigned long long)rv->id, rv->gpu_count, rv->host, free[hi], best);
    n = engine_host_gpus(w->e, rv->host, gv, MAX_GPUS_PER_HOST);
    for (int g = 0; g < n; g++) {
        uint32_t k = gv[g].nvlink_island % MAX_GPUS_PER_HOST;

        if (gv[g].rental == 0 || gv[g].rental == rv->id)
            island_free[k]++; /* free before the placement */
        if (gv[g].rental == rv->id)
            islands_used |= UINT32_C(1) << k;
    }
    if (popcount32(islands_used) > 1) {
        for (uint32_t k = 0; k < MAX_GPUS_PER_HOST; k++)
            CHECK(w, island_free[k] < rv->gpu_count,
                  "rental %llu of %u GPUs spans NVLink islands %#x of host %u, although island "
                  "%u had %u free GPUs",
                  (unsigned long long)rv->id, rv->gpu_count, islands_used, rv->host, k,
                  island_free[k]);
    }
}

/* Start tracking a rental just created by c; drains and fills *rv with its view. */
static void track_rental(struct world *w, uint64_t id, const struct cmd_rental_create *c, bool keep,
                         struct rental_view *rv)
{
    struct trk_rental *r = trk(w, id);

    CHECK(w, !r->known, "rental create returned id %llu twice", (unsigned long long)id);
    r->known = true;
    r->tenant = c->tenant;
    r->term = c->term;
    r->max_cost = TERM_IS_PACKAGE(c->term) ? 0 : c->max_cost;
    /* packages run their term; the engine does not apply max_duration to them */
    r->max_duration = TERM_IS_PACKAGE(c->term) ? 0 : c->max_duration;
    r->has_workload = c->has_workload;
    r->restart = c->restart;
    r->keep = keep;
    r->state = RENTAL_PENDING;
    r->ready_at = w->scenario != NULL ? INT64_MAX : 0;
    live_add(w, id);
    w->t.rentals++;
    (void)drain(w);
    CHECK(w, engine_rental(w->e, id, rv) == 0, "new rental %llu cannot be read",
          (unsigned long long)id);
    r->pkg_net0 = rv->cost;
    r->pkg_disc0 = rv->discount;
}

static void do_rental_create(struct world *w)
{
    struct command cmd = {.type = CMD_RENTAL_CREATE};
    struct cmd_rental_create *rc_ = &cmd.u.rental_create;
    struct result res;
    struct quote q;
    char qdetail[128];
    char code[32];
    uint32_t model = rng_pct(&w->rng, 5) ? 2 : rng_below(&w->rng, HOST_MODELS);
    uint32_t midx;
    uint64_t notices_before;
    uint32_t free[MAX_HOSTS];
    bool keep;
    int qrc, rc;

    rc_->tenant = pick_tenant(w);
    rc_->gpu_model = model_names[model];
    rc_->gpu_count = rng_pct(&w->rng, 60) ? (uint32_t)rng_range(&w->rng, 1, 2)
                                          : (uint32_t)rng_range(&w->rng, 1, 8);
    rc_->term =
        (enum term)(rng_pct(&w->rng, 45)   ? TERM_ON_DEMAND
                    : rng_pct(&w->rng, 50) ? TERM_SPOT
                                           : (enum term)rng_range(&w->rng, TERM_DAY, TERM_MONTH));
    if (rc_->term == TERM_SPOT && engine_model_find(w->e, model_names[model], &midx) == 0) {
        struct offer_view ov;

        if (engine_offer(w->e, midx, &ov) == 0 && ov.prices.spot_floor_hourly > 0 &&
            rng_pct(&w->rng, 15))
            /* just under the list price: the discount per settlement is below one micro-unit */
            rc_->max_hourly = ov.prices.on_demand_hourly - rng_range(&w->rng, 1, 200);
        else if (engine_offer(w->e, midx, &ov) == 0 && ov.prices.spot_floor_hourly > 0)
            rc_->max_hourly =
                money_scale(ov.prices.spot_floor_hourly, rng_range(&w->rng, 100, 250), 100);
        else
            rc_->max_hourly = rng_range(&w->rng, 1, 20 * CNY);
    }
    if (w->coupon_count > 0 && rng_pct(&w->rng, 30)) {
        snprintf(code, sizeof(code), "CPN%u", rng_below(&w->rng, w->coupon_count));
        rc_->coupon = code;
    }
    rc_->queue = rng_pct(&w->rng, 50);
    /* half the packages are kept: not stopped at random, so that they reach their end */
    keep = TERM_IS_PACKAGE(rc_->term) && rng_pct(&w->rng, 50);
    if (keep && rng_pct(&w->rng, 70))
        rc_->term = TERM_DAY;
    rc_->auto_renew = TERM_IS_PACKAGE(rc_->term) && rng_pct(&w->rng, keep ? 80 : 40);
    rc_->max_cost = rng_pct(&w->rng, 20) ? rng_range(&w->rng, 1, 100 * CNY) : 0;
    rc_->max_duration = rng_pct(&w->rng, 20) ? rng_range(&w->rng, 60, 3 * 3600) * SEC : 0;
    rc_->has_workload = !keep && rng_pct(&w->rng, 50);
    rc_->restart = rc_->has_workload ? (enum restart_policy)rng_below(&w->rng, 3) : RESTART_NEVER;
    rc_->requeue = rc_->term == TERM_SPOT && rng_pct(&w->rng, 50);

    notices_before = w->notices;
    free_before(w, model, free);
    qrc = engine_quote(w->e, rc_->tenant, rc_->gpu_model, rc_->gpu_count, rc_->term,
                       rc_->max_hourly, rc_->coupon, HOUR, w->now, &q, qdetail, sizeof(qdetail));
    rc = apply(w, &cmd, &res);
    wlog(w,
         "rental create tenant %u %u x %s %s bid %lld coupon %s queue %d renew %d "
         "max_cost %lld max_dur %llds workload %d restart %d requeue %d -> %s %s id %llu %s",
         rc_->tenant, rc_->gpu_count, rc_->gpu_model, term_name(rc_->term),
         (long long)rc_->max_hourly, rc_->coupon ? rc_->coupon : "-", rc_->queue, rc_->auto_renew,
         (long long)rc_->max_cost, (long long)(rc_->max_duration / SEC), rc_->has_workload,
         (int)rc_->restart, rc_->requeue, err_name(rc), rc == 0 ? state_str(res.state) : "",
         (unsigned long long)res.id, rc ? res.detail : "");
    if (rc != 0) {
        CHECK(w,
              rc == ERR_NOCAPACITY || rc == ERR_FUNDS || rc == ERR_INVALID || rc == ERR_NOTFOUND ||
                  rc == ERR_CONFLICT,
              "rental create: unexpected %s (%s)", err_name(rc), res.detail);
        CHECK(w, !(rc == ERR_NOCAPACITY && rc_->queue),
              "rental create with queue=true refused for capacity (%s)", res.detail);
        return;
    }
    CHECK(w, res.id == engine_rental_count(w->e), "rental create: id %llu, count %llu",
          (unsigned long long)res.id, (unsigned long long)engine_rental_count(w->e));
    CHECK(w, res.state == RENTAL_STARTING || res.state == RENTAL_PENDING, "rental create: state %s",
          state_str(res.state));
    {
        struct rental_view rv;

        track_rental(w, res.id, rc_, keep, &rv);
        if (res.state == RENTAL_STARTING)
            check_placement(w, &rv, free);
        CHECK(w, rv.state == res.state || rv.state == RENTAL_ENDED,
              "new rental %llu is %s, the result said %s", (unsigned long long)res.id,
              state_str(rv.state), state_str(res.state));
        /* without queue, a rental may wait only for spot GPUs being preempted for it */
        CHECK(w, res.state != RENTAL_PENDING || rc_->queue || w->notices > notices_before,
              "rental %llu is pending although queue=false and no spot rental got notice",
              (unsigned long long)res.id);
        CHECK(w, qrc == 0 && q.hourly_price == rv.hourly_price,
              "rental %llu: quote (%s: %s) said hourly %lld, the rental pays %lld",
              (unsigned long long)res.id, err_name(qrc), qrc ? qdetail : "",
              (long long)q.hourly_price, (long long)rv.hourly_price);
        CHECK(w,
              q.hourly_total == (int64_t)rv.gpu_count * rv.hourly_price &&
                  q.discount == q.list_total - q.total,
              "rental %llu: quote hourly_total %lld list %lld discount %lld total %lld",
              (unsigned long long)res.id, (long long)q.hourly_total, (long long)q.list_total,
              (long long)q.discount, (long long)q.total);
        if (!TERM_IS_PACKAGE(rv.term))
            CHECK(w, q.list_total == money_prorate((int64_t)rv.gpu_count * rv.list_hourly, HOUR),
                  "rental %llu: quote list_total %lld for an hour at list %lld x %u",
                  (unsigned long long)res.id, (long long)q.list_total, (long long)rv.list_hourly,
                  rv.gpu_count);
    }
}

/* An agent says something about one rental: ready, exited, failed, or a stale epoch. */
static void do_agent_report(struct world *w)
{
    struct rental_report reps[MAX_REPORTS], reps2[MAX_REPORTS];
    struct rental_view before, after;
    uint64_t id = pick_live(w, true, false);
    struct trk_rental *r;
    struct trk_host *h, *other = NULL;
    uint32_t n, i, n2 = 0;
    uint32_t what = rng_below(&w->rng, 10);
    const char *what_name;

    if (id == 0 || engine_rental(w->e, id, &before) < 0)
        return;
    h = host_trk(w, before.host);
    if (h == NULL || !h->alive)
        return;
    r = trk(w, id);
    if (r->keep && what >= 3 && what < 8)
        what = 0; /* kept packages do not fail: they are meant to reach their end */
    n = host_reports(w, h->id, reps);
    for (i = 0; i < n && reps[i].rental != id; i++)
        ;
    CHECK(w, i < n, "rental %llu on host %u is not among its reports", (unsigned long long)id,
          h->id);
    if (what < 3) {
        what_name = "ready";
        r->ready_at = w->now;
        reps[i].state = REPORT_RUNNING;
    } else if (what < 6) {
        what_name = "exited";
        reps[i].state = REPORT_EXITED;
        reps[i].exit_code = rng_pct(&w->rng, 50) ? 0 : (int)rng_range(&w->rng, 1, 137);
    } else if (what < 8) {
        what_name = "failed";
        reps[i].state = REPORT_FAILED;
        reps[i].exit_code = (int)rng_range(&w->rng, 1, 255);
    } else {
        what_name = "stale";
        reps[i].epoch = before.epoch > 0 ? before.epoch - 1 : 0;
        reps[i].state = (enum report_state)rng_below(&w->rng, 4);
        reps[i].exit_code = (int)rng_range(&w->rng, 0, 3);
        w->t.stale_reports++;
        other = &w->hosts[rng_below(&w->rng, w->host_count)];
        if (what == 9 && other != h && other->alive) {
            /* the current epoch, but from a host the rental is not on */
            what_name = "from another host";
            n2 = host_reports(w, other->id, reps2);
            if (n2 < MAX_REPORTS) {
                reps2[n2] = reps[i];
                reps2[n2++].epoch = before.epoch;
            }
        }
    }
    wlog(w,
         "agent of host %u: rental %llu (%s epoch %u workload %d restart %d) %s state %d "
         "epoch %u exit %d",
         h->id, (unsigned long long)id, state_str(before.state), before.epoch, before.has_workload,
         (int)r->restart, what_name, (int)reps[i].state, reps[i].epoch, reps[i].exit_code);
    if (n2 > 0)
        heartbeat_with(w, other->id, reps2, n2);
    else
        heartbeat_with(w, h->id, reps, n);
    (void)drain(w);
    CHECK(w, engine_rental(w->e, id, &after) == 0, "rental %llu vanished", (unsigned long long)id);
    if (what >= 8) {
        CHECK(w, after.state == before.state && after.epoch == before.epoch,
              "a report %s (epoch %u) changed rental %llu from %s epoch %u to %s epoch %u",
              n2 > 0 ? "from another host" : "with a stale epoch",
              n2 > 0 ? before.epoch : reps[i].epoch, (unsigned long long)id,
              state_str(before.state), before.epoch, state_str(after.state), after.epoch);
        return;
    }
    if (what < 3) {
        if (before.state == RENTAL_STARTING)
            CHECK(w, after.state == RENTAL_RUNNING, "rental %llu reported running but is %s",
                  (unsigned long long)id, state_str(after.state));
        return;
    }
    if (what < 6 && !before.has_workload) {
        /* a reservation has no workload to exit: the report changes nothing */
        CHECK(w, after.state == before.state && after.epoch == before.epoch,
              "an exit report changed reservation %llu from %s to %s", (unsigned long long)id,
              state_str(before.state), state_str(after.state));
        return;
    }
    if (what >= 6 && before.state == RENTAL_STARTING) {
        CHECK(w, after.state == RENTAL_ENDED && after.end_reason == END_FAILED_TO_START,
              "rental %llu failed while starting but is %s/%s", (unsigned long long)id,
              state_str(after.state), end_reason_name(after.end_reason));
        return;
    }
    {
        int code = reps[i].exit_code != 0 || what < 6 ? reps[i].exit_code : -1;
        bool restart = before.has_workload && (r->restart == RESTART_ALWAYS ||
                                               (r->restart == RESTART_ON_FAILURE && code != 0));

        if (!restart)
            CHECK(w,
                  after.state == RENTAL_ENDED &&
                      ((after.end_reason == END_EXITED && after.exit_code == code) ||
                       after.end_reason == END_INSUFFICIENT_BALANCE ||
                       after.end_reason == END_BUDGET),
                  "rental %llu (restart %d) exited with %d but is %s/%s exit %d",
                  (unsigned long long)id, (int)r->restart, code, state_str(after.state),
                  end_reason_name(after.end_reason), after.exit_code);
        else
            CHECK(
                w,
                (after.state == RENTAL_STARTING && after.epoch == before.epoch + 1 &&
                 !after.billing) ||
                    (after.state == RENTAL_ENDED && (after.end_reason == END_INSUFFICIENT_BALANCE ||
                                                     after.end_reason == END_BUDGET)),
                "rental %llu (restart %d) exited with %d and should restart, but is %s/%s "
                "epoch %u (was %u) billing %d",
                (unsigned long long)id, (int)r->restart, code, state_str(after.state),
                end_reason_name(after.end_reason), after.epoch, before.epoch, after.billing);
    }
}

static void expect_stop(struct world *w, uint64_t id, uint32_t tenant, bool admin, bool idle)
{
    struct command cmd = {.type = CMD_RENTAL_STOP};
    struct rental_view before, after;
    struct result res;
    int rc;

    CHECK(w, engine_rental(w->e, id, &before) == 0, "rental %llu unreadable",
          (unsigned long long)id);
    cmd.u.rental_stop.tenant = tenant;
    cmd.u.rental_stop.rental = id;
    cmd.u.rental_stop.admin = admin;
    cmd.u.rental_stop.idle = idle; /* the server's idle_stop rule fired */
    rc = apply(w, &cmd, &res);
    wlog(w, "stop rental %llu (%s, owner %u) by %s%u -> %s %s", (unsigned long long)id,
         state_str(before.state), before.tenant,
         idle    ? "idle rule "
         : admin ? "admin "
                 : "tenant ",
         tenant, err_name(rc), rc ? res.detail : "");
    (void)drain(w);
    CHECK(w, engine_rental(w->e, id, &after) == 0, "rental %llu vanished", (unsigned long long)id);
    if (before.state == RENTAL_ENDED) {
        CHECK(w, rc == 0 || rc == ERR_CONFLICT, "stopping ended rental %llu: %s (%s)",
              (unsigned long long)id, err_name(rc), res.detail);
        CHECK(w, after.end_reason == before.end_reason && after.cost == before.cost,
              "stopping ended rental %llu changed it", (unsigned long long)id);
        return;
    }
    CHECK(w, rc == 0, "stop of %s rental %llu: %s (%s)", state_str(before.state),
          (unsigned long long)id, err_name(rc), res.detail);
    CHECK(w,
          after.state == RENTAL_ENDED &&
              (after.end_reason == (idle    ? END_IDLE
                                    : admin ? END_ADMIN
                                            : END_STOPPED) ||
               /* the settlement at the stop found a money limit reached earlier */
               after.end_reason == END_INSUFFICIENT_BALANCE || after.end_reason == END_BUDGET) &&
              !after.billing,
          "stopped rental %llu is %s/%s billing %d", (unsigned long long)id, state_str(after.state),
          end_reason_name(after.end_reason), after.billing);
}

static void do_stop(struct world *w, int who)
{
    uint64_t id = rng_pct(&w->rng, 85) ? pick_live(w, false, true) : pick_any_rental(w);
    struct rental_view rv;

    if (id == 0 || engine_rental(w->e, id, &rv) < 0)
        return;
    if (who == 0) {
        expect_stop(w, id, rv.tenant, false, false);
    } else if (who == 1) {
        bool admin = rng_pct(&w->rng, 70);
        expect_stop(w, id, 0, admin, !admin && rng_pct(&w->rng, 50));
    } else {
        /* another tenant: not found, and nothing changes */
        struct command cmd = {.type = CMD_RENTAL_STOP};
        struct result res;
        uint32_t other = pick_tenant(w);
        int rc;

        if (other == rv.tenant)
            return;
        cmd.u.rental_stop.tenant = other;
        cmd.u.rental_stop.rental = id;
        rc = apply(w, &cmd, &res);
        wlog(w, "stop rental %llu of tenant %u by tenant %u -> %s", (unsigned long long)id,
             rv.tenant, other, err_name(rc));
        CHECK(w, rc == ERR_NOTFOUND,
              "tenant %u stopping tenant %u's rental %llu: %s, "
              "expected not_found",
              other, rv.tenant, (unsigned long long)id, err_name(rc));
    }
}

/* Commands that must fail with a given code and change nothing (apply checks the latter). */
static void do_invalid(struct world *w)
{
    struct command cmd;
    struct result res;
    struct gpu_spec spec;
    const char *what;
    int expect, rc;
    uint32_t kind = rng_below(&w->rng, 16);
    uint32_t bad_tenant = engine_tenant_count(w->e) + 1 + rng_below(&w->rng, 5);

    memset(&cmd, 0, sizeof(cmd));
    if (kind <= 4) {
        /* a valid rental request, then one field spoiled below */
        cmd.type = CMD_RENTAL_CREATE;
        cmd.u.rental_create.tenant = pick_tenant(w);
        cmd.u.rental_create.gpu_model = model_names[0];
        cmd.u.rental_create.gpu_count = 1;
        cmd.u.rental_create.term = TERM_ON_DEMAND;
    }
    switch (kind) {
    case 0:
        what = "rental of an unknown model";
        cmd.u.rental_create.gpu_model = "V100-NOPE";
        expect = ERR_INVALID; /* a bad field of the request (400), not an unknown id */
        break;
    case 1:
        what = "rental of 0 GPUs";
        cmd.u.rental_create.gpu_count = 0;
        expect = ERR_INVALID;
        break;
    case 2:
        what = "rental of 99 GPUs";
        cmd.u.rental_create.gpu_count = 99;
        cmd.u.rental_create.queue = rng_pct(&w->rng, 50);
        expect = ERR_INVALID;
        break;
    case 3:
        what = "rental by an unknown tenant";
        cmd.u.rental_create.tenant = bad_tenant;
        expect = ERR_NOTFOUND;
        break;
    case 4:
        what = "rental with a negative max_cost";
        cmd.u.rental_create.max_cost = -rng_range(&w->rng, 1, 10 * CNY);
        expect = ERR_INVALID;
        break;
    case 5:
        what = "credit of a negative amount";
        cmd.type = CMD_CREDIT;
        cmd.u.credit.tenant = pick_tenant(w);
        cmd.u.credit.amount = rng_pct(&w->rng, 30) ? 0 : -rng_range(&w->rng, 1, 100 * CNY);
        expect = ERR_INVALID;
        break;
    case 6:
        what = "credit to an unknown tenant";
        cmd.type = CMD_CREDIT;
        cmd.u.credit.tenant = bad_tenant;
        cmd.u.credit.amount = 10 * CNY;
        expect = ERR_NOTFOUND;
        break;
    case 7:
        what = "a negative credit limit";
        cmd.type = CMD_TENANT_UPDATE;
        cmd.u.tenant_update.tenant = pick_tenant(w);
        cmd.u.tenant_update.set_credit_limit = true;
        cmd.u.tenant_update.credit_limit = -rng_range(&w->rng, 1, 10 * CNY);
        expect = ERR_INVALID;
        break;
    case 8:
        what = "update of an unknown tenant";
        cmd.type = CMD_TENANT_UPDATE;
        cmd.u.tenant_update.tenant = bad_tenant;
        cmd.u.tenant_update.set_monthly_budget = true;
        cmd.u.tenant_update.monthly_budget = 10 * CNY;
        expect = ERR_NOTFOUND;
        break;
    case 9:
        what = "a negative on-demand price";
        cmd.type = CMD_PRICE_SET;
        cmd.u.price_set.gpu_model = model_names[rng_below(&w->rng, HOST_MODELS)];
        cmd.u.price_set.on_demand_hourly = -rng_range(&w->rng, 0, 10 * CNY);
        expect = ERR_INVALID;
        break;
    case 10:
        what = "a coupon with both percent and amount off";
        cmd.type = CMD_COUPON_CREATE;
        cmd.u.coupon_create.code = "BOTH";
        cmd.u.coupon_create.percent_off_bp = 1000;
        cmd.u.coupon_create.amount_off = CNY;
        cmd.u.coupon_create.term = -1;
        expect = ERR_INVALID;
        break;
    case 11:
        what = "a duplicate coupon code";
        if (w->coupon_count == 0)
            return;
        cmd.type = CMD_COUPON_CREATE;
        cmd.u.coupon_create.code = "CPN0";
        cmd.u.coupon_create.percent_off_bp = 1000;
        cmd.u.coupon_create.term = -1;
        expect = ERR_EXISTS;
        break;
    case 12:
        what = "a host with no GPUs";
        cmd.type = CMD_HOST_REGISTER;
        cmd.u.host_register.hostname = "empty";
        cmd.u.host_register.gpus = &spec;
        cmd.u.host_register.gpu_count = 0;
        expect = ERR_INVALID;
        break;
    case 13:
        what = "stop of an unknown rental";
        cmd.type = CMD_RENTAL_STOP;
        cmd.u.rental_stop.rental = engine_rental_count(w->e) + 1 + rng_below(&w->rng, 10);
        cmd.u.rental_stop.tenant = rng_pct(&w->rng, 50) ? 0 : pick_tenant(w);
        expect = ERR_NOTFOUND;
        break;
    case 14:
        what = "a report from an unknown host";
        cmd.type = CMD_HOST_REPORT;
        cmd.u.host_report.host = w->host_count + 1 + rng_below(&w->rng, 5);
        expect = ERR_NOTFOUND;
        break;
    default:
        what = "drain of an unknown host";
        cmd.type = CMD_HOST_DRAIN;
        cmd.u.host.host = w->host_count + 1 + rng_below(&w->rng, 5);
        expect = ERR_NOTFOUND;
        break;
    }
    rc = apply(w, &cmd, &res);
    wlog(w, "invalid: %s -> %s (%s)", what, err_name(rc), res.detail);
    CHECK(w, rc == expect, "%s: got %s (%s), expected %s", what, err_name(rc), rc ? res.detail : "",
          err_name(expect));
}

static void do_time(struct world *w, uint32_t kind)
{
    int64_t target;

    if (kind == 0) {
        target = w->now + rng_range(&w->rng, 0, 60) * SEC + rng_range(&w->rng, 0, 999999);
        wlog(w, "tick +%llds", (long long)((target - w->now) / SEC));
        advance(w, target, true);
    } else if (kind == 1) {
        target = w->now + rng_range(&w->rng, 0, 600) * SEC + rng_range(&w->rng, 0, 999999);
        wlog(w, "tick +%llds", (long long)((target - w->now) / SEC));
        advance(w, target, true);
    } else if (kind == 2) {
        int64_t d = engine_next_deadline(w->e);

        wlog(w, "tick to the next deadline %+llds",
             d == INT64_MAX ? -1LL : (long long)((d - w->now) / SEC));
        if (d == INT64_MAX)
            return;
        if (d - w->now > 2 * HOUR)
            d = w->now + 600 * SEC;
        advance(w, d, true);
    } else {
        /* the control plane loses every agent for a while: a mass silence */
        target = w->now + rng_range(&w->rng, 90, 1800) * SEC;
        wlog(w, "outage: no heartbeats for %llds", (long long)((target - w->now) / SEC));
        advance(w, target, false);
    }
}

/*
 * The economics of everything so far must agree with the ledger and the rentals: list revenue
 * is what the revenue account received, rented GPU-hours are the rentals' billed GPU-time,
 * available GPU-hours the hosts' time registered and not down.
 */
static void do_economics(struct world *w)
{
    struct econ_line lines[8];
    struct econ_line sum;
    int64_t rented_gpu_us = 0, up_gpu_us = 0;
    double rented_h, up_h;
    int n;

    if (w->now % HOUR == 0)
        return; /* a bucket starting exactly now would not be in [from, now) */
    n = engine_economics(w->e, w->t0 - HOUR, w->now + 1, w->now, lines, ARRAY_SIZE(lines));
    CHECK(w, n == (int)engine_model_count(w->e) + 1, "economics: %d lines for %u models", n,
          engine_model_count(w->e));
    memset(&sum, 0, sizeof(sum));
    for (int i = 0; i < n; i++) {
        CHECK(w, lines[i].revenue == lines[i].list_revenue - lines[i].discounts,
              "economics line %d: revenue %lld != list %lld - discounts %lld", i,
              (long long)lines[i].revenue, (long long)lines[i].list_revenue,
              (long long)lines[i].discounts);
        CHECK(w, lines[i].gpu_hours_rented >= 0 && lines[i].gpu_hours_available >= 0,
              "economics line %d: negative hours", i);
        if (i < n - 1) {
            sum.list_revenue += lines[i].list_revenue;
            sum.discounts += lines[i].discounts;
            sum.revenue += lines[i].revenue;
        }
    }
    CHECK(w,
          lines[n - 1].list_revenue == sum.list_revenue &&
              lines[n - 1].discounts == sum.discounts && lines[n - 1].revenue == sum.revenue,
          "economics: the total line is not the sum of the models");
    CHECK(w, lines[n - 1].list_revenue == engine_account_balance(w->e, ACCT_REVENUE),
          "economics: list revenue %lld, the revenue account holds %lld",
          (long long)lines[n - 1].list_revenue,
          (long long)engine_account_balance(w->e, ACCT_REVENUE));
    for (uint64_t id = 1; id <= engine_rental_count(w->e); id++) {
        struct rental_view rv;

        if (engine_rental(w->e, id, &rv) == 0)
            rented_gpu_us += rv.billed_us * (int64_t)rv.gpu_count;
    }
    for (uint32_t i = 0; i < w->host_count; i++) {
        const struct trk_host *h = &w->hosts[i];

        up_gpu_us += h->up_gpu_us;
        if (h->up_since >= 0)
            up_gpu_us += (int64_t)h->gpus * (w->now - h->up_since);
    }
    rented_h = (double)rented_gpu_us / (double)HOUR;
    up_h = (double)up_gpu_us / (double)HOUR;
    CHECK(w,
          lines[n - 1].gpu_hours_rented > rented_h - 1e-6 * (1 + rented_h) &&
              lines[n - 1].gpu_hours_rented < rented_h + 1e-6 * (1 + rented_h),
          "economics: %.6f GPU-hours rented, the rentals billed %.6f",
          lines[n - 1].gpu_hours_rented, rented_h);
    CHECK(w,
          lines[n - 1].gpu_hours_available > up_h - 1e-6 * (1 + up_h) &&
              lines[n - 1].gpu_hours_available < up_h + 1e-6 * (1 + up_h),
          "economics: %.6f GPU-hours available, the hosts were up for %.6f",
          lines[n - 1].gpu_hours_available, up_h);
}

static void print_totals(const struct totals *t)
{
    fprintf(stderr,
            "%llu seeds, %llu steps, %.0f h simulated: %llu rentals, %llu events, %llu transfers, "
            "%llu refused commands, %llu placed from the queue, %llu restarts, %llu preempt "
            "notices, %llu package renewals, %llu stale reports, %llu top-up replays, %llu mass "
            "silences, %llu spot requeues, %llu adjustments, %llu late-usage transfers\n  ended:",
            (unsigned long long)t->seeds, (unsigned long long)t->steps, t->hours,
            (unsigned long long)t->rentals, (unsigned long long)t->events,
            (unsigned long long)t->transfers, (unsigned long long)t->failed_cmds,
            (unsigned long long)t->from_queue, (unsigned long long)t->restarts,
            (unsigned long long)t->notices, (unsigned long long)t->renewals,
            (unsigned long long)t->stale_reports, (unsigned long long)t->replays,
            (unsigned long long)t->mass_silences, (unsigned long long)t->requeues,
            (unsigned long long)t->adjustments, (unsigned long long)t->late_usage);
    for (int r = 1; r < END_REASON_COUNT; r++)
        fprintf(stderr, " %s %llu", end_reason_name((enum end_reason)r),
                (unsigned long long)t->ended_by[r]);
    fprintf(stderr, "\n");
}

/* ---- One seed ------------------------------------------------------------------------------ */

static struct world *world_new(uint64_t seed, bool verbose, const char *scenario)
{
    struct world *w = calloc(1, sizeof(*w));
    int rc;

    assert_non_null(w);
    w->seed = seed;
    w->rng.state = seed * UINT64_C(0x2545f4914f6cdd1d) + 1;
    w->verbose = verbose;
    w->event_hash = FNV_INIT;
    /* somewhere in 2026, so some runs cross a month boundary */
    w->t0 =
        EPOCH_2026 + rng_range(&w->rng, 0, 364) * 86400 * SEC + rng_range(&w->rng, 0, 86399) * SEC;
    w->now = w->t0;
    w->last_event_at = INT64_MIN;
    engine_config_defaults(&w->cfg);
    w->cfg.heartbeat_timeout = 60 * SEC;
    w->cfg.lost_after = 300 * SEC;
    w->cfg.settle_interval = 60 * SEC;
    w->cfg.start_timeout = 120 * SEC;
    w->cfg.preempt_notice = 30 * SEC;
    w->cfg.insufficient_grace = 300 * SEC;
    w->cfg.min_balance_us = rng_pct(&w->rng, 50) ? HOUR : 10 * MINUTE;
    w->long_run = rng_pct(&w->rng, 25);
    w->hb_first = rng_pct(&w->rng, 50);
    if (scenario != NULL) {
        /* hand-computed: 2026-03-01T00:00:00Z, heartbeats every 20 s before each tick */
        w->scenario = scenario;
        w->t0 = w->now = EPOCH_2026 + 59 * 86400 * SEC;
        w->cfg.min_balance_us = HOUR;
        w->long_run = false;
        w->hb_first = true;
        w->fixed_step = 20 * SEC;
    }
    rc = engine_new(&w->e, &w->cfg);
    assert_int_equal(rc, 0);
    return w;
}

/* Run one seed for `steps` steps; returns the hash of every event drained. */
static uint64_t run_seed(uint64_t seed, uint32_t steps, bool verbose)
{
    struct world *w = world_new(seed, verbose, NULL);
    uint64_t hash;

    current_world = w;
    if (verbose)
        fprintf(stderr, "seed %llu: t0 %lld\n", (unsigned long long)seed, (long long)w->t0);

    /* a starting fleet: prices, a few hosts and tenants with some money */
    for (uint32_t m = 0; m < HOST_MODELS; m++)
        do_price_set(w, m);
    if (rng_pct(&w->rng, 30))
        do_price_set(w, 2);
    for (uint32_t i = 0, n = (uint32_t)rng_range(&w->rng, 1, 6); i < n; i++)
        do_host_register(w);
    for (uint32_t i = 0, n = (uint32_t)rng_range(&w->rng, 1, 4); i < n; i++) {
        do_tenant_create(w);
        do_credit(w);
    }
    check_all(w, true);

    for (w->step = 1; w->step <= steps; w->step++) {
        uint32_t roll = rng_below(&w->rng, 100);
        bool busy = w->live_count > MAX_LIVE_SOFT;

        if (roll < 18)
            do_time(w, w->long_run ? 1 : 0);
        else if (roll < 24)
            do_time(w, 1);
        else if (roll < 27)
            do_time(w, 2);
        else if (roll < 28)
            do_time(w, 3);
        else if (roll < 30)
            do_host_register(w);
        else if (roll < 33)
            do_host_fail(w);
        else if (roll < 35)
            do_drain(w);
        else if (roll < 37)
            do_price_set(w, rng_pct(&w->rng, 90) ? rng_below(&w->rng, HOST_MODELS) : 2);
        else if (roll < 39)
            do_coupon_create(w);
        else if (roll < 40)
            do_tenant_create(w);
        else if (roll < 42)
            do_tenant_update(w);
        else if (roll < 47)
            do_credit(w);
        else if (roll < 48)
            do_adjust(w);
        else if (roll < 64)
            busy ? do_stop(w, 0) : do_rental_create(w);
        else if (roll < 76)
            do_agent_report(w);
        else if (roll < 81)
            do_stop(w, 0);
        else if (roll < 83)
            do_stop(w, 1);
        else if (roll < 86)
            do_stop(w, 2);
        else if (roll < 91)
            do_invalid(w);
        else if (roll < 92)
            do_host_cost(w);
        else if (roll < 93)
            do_economics(w);
        else
            do_time(w, 0);
        check_all(w, w->step % SWEEP_EVERY == 0 || w->step == steps);
    }
    {
        struct engine_stats st;

        engine_stats(w->e, &st);
        w->t.from_queue = st.placed_from_queue;
    }
    w->t.seeds = 1;
    w->t.steps = steps;
    w->t.events = w->events_seen;
    w->t.transfers = w->transfers_seen;
    w->t.hours = (double)(w->now - w->t0) / (double)HOUR;
    if (verbose)
        print_totals(&w->t);
    totals.seeds += w->t.seeds;
    totals.steps += w->t.steps;
    totals.events += w->t.events;
    totals.transfers += w->t.transfers;
    totals.rentals += w->t.rentals;
    totals.failed_cmds += w->t.failed_cmds;
    totals.restarts += w->t.restarts;
    totals.notices += w->t.notices;
    totals.stale_reports += w->t.stale_reports;
    totals.replays += w->t.replays;
    totals.mass_silences += w->t.mass_silences;
    totals.renewals += w->t.renewals;
    totals.from_queue += w->t.from_queue;
    totals.requeues += w->t.requeues;
    totals.adjustments += w->t.adjustments;
    totals.late_usage += w->t.late_usage;
    totals.hours += w->t.hours;
    for (int r = 0; r < END_REASON_COUNT; r++)
        totals.ended_by[r] += w->t.ended_by[r];
    hash = w->event_hash;
    current_world = NULL;
    world_free(w);
    return hash;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;

    if (s == NULL || *s == '\0')
        return def;
    v = strtoull(s, &end, 10);
    return *end == '\0' ? (uint64_t)v : def;
}

static int teardown_world(void **state)
{
    (void)state;
    world_free(current_world);
    current_world = NULL;
    return 0;
}

static void test_random_seeds(void **state)
{
    bool verbose = env_u64("GPURENT_VERBOSE", 0) != 0;
    uint32_t divisor = UNDER_SANITIZER ? SANITIZER_DIVISOR : 1;
    uint64_t steps = env_u64("GPURENT_STEPS", DEFAULT_STEPS);
    uint64_t seeds = env_u64("GPURENT_SEEDS", DEFAULT_SEEDS / divisor);
    const char *one = getenv("GPURENT_SEED");

    (void)state;
    if (one != NULL && *one != '\0') {
        uint64_t seed = env_u64("GPURENT_SEED", 0);

        fprintf(stderr, "replaying seed %llu for %llu steps\n", (unsigned long long)seed,
                (unsigned long long)steps);
        (void)run_seed(seed, (uint32_t)steps, true);
        return;
    }
    memset(&totals, 0, sizeof(totals));
    for (uint64_t seed = 1; seed <= seeds; seed++)
        (void)run_seed(seed, (uint32_t)steps, verbose);
    print_totals(&totals);
}

/* ---- Hand-computed scenarios -------------------------------------------------------------- */

/*
 * Each scenario runs on a fixed clock (2026-03-01T00:00:00Z, heartbeats every 20 s, before the
 * tick of the same instant) with the same checks as the random test after every step, and
 * compares the outcome with figures computed by hand. Prices: A100 15.10/h on demand, spot
 * floor 5.00/h, a day package 300.00 per GPU.
 */
static struct world *scenario_new(const char *name)
{
    struct world *w = world_new(0, env_u64("GPURENT_VERBOSE", 0) != 0, name);

    current_world = w;
    return w;
}

static void scenario_end(struct world *w)
{
    check_all(w, true);
    current_world = NULL;
    world_free(w);
}

static void sc_price(struct world *w, uint32_t model, int64_t on_demand, int64_t spot_floor,
                     int64_t day)
{
    struct command cmd = {.type = CMD_PRICE_SET};
    struct result res;

    cmd.u.price_set.gpu_model = model_names[model];
    cmd.u.price_set.memory_mib = model_memory[model];
    cmd.u.price_set.on_demand_hourly = on_demand;
    cmd.u.price_set.spot_floor_hourly = spot_floor;
    cmd.u.price_set.package[0] = day;
    CHECK(w, apply(w, &cmd, &res) == 0, "price set: %s", res.detail);
    wlog(w, "price %s %lld/h", model_names[model], (long long)on_demand);
}

/* A host of n GPUs of one model on one NVLink island; returns its number. */
static uint32_t sc_host(struct world *w, uint32_t model, uint32_t n)
{
    struct command cmd = {.type = CMD_HOST_REGISTER};
    struct gpu_spec specs[8];
    char uuids[8][32];
    char name[32];
    struct result res;
    struct trk_host *h;

    snprintf(name, sizeof(name), "node-%u", w->host_count + 1);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(uuids[i], sizeof(uuids[i]), "GPU-sc-%u", w->uuid_counter++);
        specs[i] = (struct gpu_spec){i, uuids[i], model_names[model], model_memory[model], 0};
    }
    cmd.u.host_register.hostname = name;
    cmd.u.host_register.gpus = specs;
    cmd.u.host_register.gpu_count = n;
    CHECK(w, apply(w, &cmd, &res) == 0, "host register: %s", res.detail);
    wlog(w, "host %llu: %u x %s", (unsigned long long)res.id, n, model_names[model]);
    h = &w->hosts[w->host_count++];
    *h = (struct trk_host){.id = (uint32_t)res.id,
                           .model = model,
                           .gpus = n,
                           .alive = true,
                           .ev_state = HOST_READY,
                           .alive_since = w->now,
                           .up_since = w->now};
    return h->id;
}

static uint32_t sc_tenant(struct world *w, int64_t credit)
{
    struct command cmd = {.type = CMD_TENANT_CREATE};
    struct result res;
    uint32_t id;

    cmd.u.tenant_create.name = "scenario tenant";
    CHECK(w, apply(w, &cmd, &res) == 0, "tenant create: %s", res.detail);
    id = (uint32_t)res.id;
    w->tenants[w->tenant_count++] = id;
    if (credit > 0) {
        cmd.type = CMD_CREDIT;
        cmd.u.credit = (struct cmd_credit){id, credit, "scenario", NULL};
        CHECK(w, apply(w, &cmd, &res) == 0, "credit: %s", res.detail);
    }
    wlog(w, "tenant %u with %lld", id, (long long)credit);
    return id;
}

static uint64_t sc_rent(struct world *w, const struct cmd_rental_create *c)
{
    struct command cmd = {.type = CMD_RENTAL_CREATE};
    struct rental_view rv;
    struct result res;

    cmd.u.rental_create = *c;
    CHECK(w, apply(w, &cmd, &res) == 0, "rental create: %s (%s)", err_name(res.code), res.detail);
    track_rental(w, res.id, c, false, &rv);
    wlog(w, "rental %llu: %u x %s %s -> %s", (unsigned long long)res.id, c->gpu_count, c->gpu_model,
         term_name(c->term), state_str(rv.state));
    check_all(w, false);
    return res.id;
}

static struct rental_view sc_view(struct world *w, uint64_t id)
{
    struct rental_view rv;

    CHECK(w, engine_rental(w->e, id, &rv) == 0, "rental %llu unreadable", (unsigned long long)id);
    return rv;
}

static int64_t sc_balance(struct world *w, uint32_t tenant)
{
    struct tenant_view tv;

    CHECK(w, engine_tenant(w->e, tenant, &tv) == 0, "tenant %u unreadable", tenant);
    return tv.balance;
}

/* Heartbeats every 20 s up to t0 + seconds, with all checks. */
static void sc_wait(struct world *w, int64_t seconds)
{
    wlog(w, "wait until +%llds", (long long)seconds);
    advance(w, w->t0 + seconds * SEC, true);
    check_all(w, false);
}

/* The agent reports the rental's workload running, now. */
static void sc_ready(struct world *w, uint64_t id)
{
    struct rental_view rv = sc_view(w, id);

    trk(w, id)->ready_at = w->now;
    heartbeat(w, rv.host);
    check_all(w, false);
}

/* One report about one rental, in a heartbeat of its host. */
static void sc_report(struct world *w, uint64_t id, uint32_t epoch, enum report_state state,
                      int exit_code)
{
    struct rental_view rv = sc_view(w, id);
    struct rental_report rep = {id, epoch, state, exit_code};

    wlog(w, "report rental %llu epoch %u state %d exit %d", (unsigned long long)id, epoch,
         (int)state, exit_code);
    heartbeat_with(w, rv.host, &rep, 1);
    check_all(w, false);
}

static void sc_stop(struct world *w, uint64_t id, uint32_t tenant)
{
    struct command cmd = {.type = CMD_RENTAL_STOP};
    struct result res;

    cmd.u.rental_stop.tenant = tenant;
    cmd.u.rental_stop.rental = id;
    CHECK(w, apply(w, &cmd, &res) == 0, "stop of rental %llu: %s", (unsigned long long)id,
          res.detail);
    wlog(w, "stop rental %llu", (unsigned long long)id);
    check_all(w, false);
}

#define A100       0
#define H100       1
#define PRICE_A100 (15100000)  /* 15.10 per GPU-hour */
#define SPOT_A100  (5000000)   /* 5.00 */
#define DAY_A100   (300000000) /* 300.00 per GPU-day */

/* 2 GPUs at 15.10 for 5407 s: floor(30.20 x 5407 / 3600) = 45.358722. */
static void test_scenario_on_demand_bill(void **state)
{
    struct world *w = scenario_new("on-demand bill is exact");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    struct command cmd = {.type = CMD_RENTAL_STOP};
    struct result res;
    struct quote q;
    char detail[128];
    uint32_t t, other;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 8);
    t = sc_tenant(w, 1000 * CNY);
    other = sc_tenant(w, 10 * CNY);
    c = (struct cmd_rental_create){.tenant = t, .gpu_model = model_names[A100], .gpu_count = 2};
    id = sc_rent(w, &c);
    CHECK(w, sc_view(w, id).state == RENTAL_STARTING, "not placed");
    sc_wait(w, 10);
    sc_ready(w, id);
    rv = sc_view(w, id);
    CHECK(w, rv.state == RENTAL_RUNNING && rv.started_at == w->t0 + 10 * SEC, "not running");
    sc_wait(w, 10 + 5407);
    /* another tenant cannot stop it, and learns nothing */
    cmd.u.rental_stop = (struct cmd_rental_stop){.tenant = other, .rental = id};
    CHECK(w, apply(w, &cmd, &res) == ERR_NOTFOUND, "a stranger's stop: %s", err_name(res.code));
    sc_stop(w, id, t);
    rv = sc_view(w, id);
    CHECK(w,
          rv.state == RENTAL_ENDED && rv.end_reason == END_STOPPED && rv.billed_us == 5407 * SEC &&
              rv.cost == 45358722 && rv.discount == 0,
          "rental: %s/%s billed %lld cost %lld discount %lld; expected 5407 s, 45358722, 0",
          state_str(rv.state), end_reason_name(rv.end_reason), (long long)rv.billed_us,
          (long long)rv.cost, (long long)rv.discount);
    CHECK(w, sc_balance(w, t) == 954641278, "wallet %lld, expected 954.641278",
          (long long)sc_balance(w, t));
    CHECK(w, engine_account_balance(w->e, ACCT_REVENUE) == 45358722, "revenue %lld",
          (long long)engine_account_balance(w->e, ACCT_REVENUE));
    /* a quote for the same thing says the same */
    CHECK(w,
          engine_quote(w->e, t, model_names[A100], 2, TERM_ON_DEMAND, 0, NULL, 5407 * SEC, w->now,
                       &q, detail, sizeof(detail)) == 0 &&
              q.total == 45358722 && q.hourly_total == 30200000,
          "quote total %lld hourly_total %lld", (long long)q.total, (long long)q.hourly_total);
    scenario_end(w);
}

/* 25% off 15.10 is 11.325 an hour; 5.00 off an hour at 15.10 leaves 10.10. */
static void test_scenario_coupons(void **state)
{
    struct world *w = scenario_new("coupons");
    struct command cmd = {.type = CMD_COUPON_CREATE};
    struct cmd_rental_create c = {0};
    struct rental_view a, b;
    struct result res;
    uint32_t t;
    uint64_t ida, idb;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 8);
    t = sc_tenant(w, 1000 * CNY);
    cmd.u.coupon_create =
        (struct cmd_coupon_create){.code = "SAVE25", .percent_off_bp = 2500, .term = -1};
    CHECK(w, apply(w, &cmd, &res) == 0, "coupon: %s", res.detail);
    cmd.u.coupon_create = (struct cmd_coupon_create){
        .code = "FIVE", .amount_off = 5 * CNY, .max_redemptions = 1, .term = -1};
    CHECK(w, apply(w, &cmd, &res) == 0, "coupon: %s", res.detail);
    c = (struct cmd_rental_create){
        .tenant = t, .gpu_model = model_names[A100], .gpu_count = 1, .coupon = "SAVE25"};
    ida = sc_rent(w, &c);
    c.coupon = "FIVE";
    idb = sc_rent(w, &c);
    sc_ready(w, ida);
    sc_ready(w, idb);
    sc_wait(w, 3600);
    sc_stop(w, ida, t);
    sc_stop(w, idb, t);
    a = sc_view(w, ida);
    b = sc_view(w, idb);
    CHECK(w,
          a.hourly_price == 11325000 && a.billed_us == HOUR && a.cost == 11325000 &&
              a.discount == 3775000,
          "25%% off: hourly %lld billed %lld cost %lld discount %lld", (long long)a.hourly_price,
          (long long)a.billed_us, (long long)a.cost, (long long)a.discount);
    CHECK(w,
          b.hourly_price == PRICE_A100 && b.cost == 10100000 && b.amount_off_used == 5 * CNY &&
              b.discount == 5 * CNY,
          "5.00 off: hourly %lld cost %lld amount_off_used %lld discount %lld",
          (long long)b.hourly_price, (long long)b.cost, (long long)b.amount_off_used,
          (long long)b.discount);
    CHECK(w, engine_account_balance(w->e, ACCT_DISCOUNTS) == -8775000,
          "discounts account %lld, expected -8.775",
          (long long)engine_account_balance(w->e, ACCT_DISCOUNTS));
    /* FIVE is used up */
    c.coupon = "FIVE";
    cmd.type = CMD_RENTAL_CREATE;
    cmd.u.rental_create = c;
    CHECK(w, apply(w, &cmd, &res) == ERR_INVALID, "a used-up coupon: %s", err_name(res.code));
    scenario_end(w);
}

/*
 * Running from 0; the host's last heartbeat is at 100 s, it is down at 160 s and back at 250 s;
 * stopped at 400 s: billed 100 + 150 = 250 s, floor(15.10 x 250 / 3600) = 1.048611.
 */
static void test_scenario_host_gap(void **state)
{
    struct world *w = scenario_new("host down and back: the gap is not billed");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    struct host_view hv;
    uint32_t t, host;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    host = sc_host(w, A100, 1);
    t = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){.tenant = t, .gpu_model = model_names[A100], .gpu_count = 1};
    id = sc_rent(w, &c);
    sc_ready(w, id);
    sc_wait(w, 100);
    w->hosts[0].alive = false;
    w->hosts[0].revive_at = INT64_MAX;
    sc_wait(w, 250);
    CHECK(w, engine_host(w->e, host, &hv) == 0 && hv.state == HOST_DOWN, "host not down");
    rv = sc_view(w, id);
    CHECK(w, rv.state == RENTAL_RUNNING && !rv.billing && rv.billed_us == 100 * SEC,
          "while down: %s billing %d billed %lld", state_str(rv.state), rv.billing,
          (long long)rv.billed_us);
    w->hosts[0].alive = true;
    w->hosts[0].alive_since = w->now;
    heartbeat(w, host);
    sc_wait(w, 400);
    sc_stop(w, id, t);
    rv = sc_view(w, id);
    CHECK(w, rv.billed_us == 250 * SEC && rv.cost == 1048611, "billed %lld cost %lld",
          (long long)rv.billed_us, (long long)rv.cost);
    scenario_end(w);
}

/* Last heartbeat at 100 s, never back: ended host_failed at 100 s after lost_after (300 s). */
static void test_scenario_host_lost(void **state)
{
    struct world *w = scenario_new("host lost");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 1);
    t = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){.tenant = t, .gpu_model = model_names[A100], .gpu_count = 1};
    id = sc_rent(w, &c);
    sc_ready(w, id);
    sc_wait(w, 100);
    w->hosts[0].alive = false;
    w->hosts[0].revive_at = INT64_MAX;
    sc_wait(w, 399);
    CHECK(w, sc_view(w, id).state == RENTAL_RUNNING, "ended before lost_after");
    sc_wait(w, 1000);
    rv = sc_view(w, id);
    CHECK(w,
          rv.state == RENTAL_ENDED && rv.end_reason == END_HOST_FAILED &&
              rv.ended_at == w->t0 + 100 * SEC && rv.billed_us == 100 * SEC && rv.cost == 419444,
          "%s/%s ended_at +%llds billed %lld cost %lld", state_str(rv.state),
          end_reason_name(rv.end_reason), (long long)((rv.ended_at - w->t0) / SEC),
          (long long)rv.billed_us, (long long)rv.cost);
    CHECK(w, sc_balance(w, t) == 100 * CNY - 419444, "wallet %lld", (long long)sc_balance(w, t));
    scenario_end(w);
}

/* Never reported running: failed_to_start at start_timeout (120 s), never charged. */
static void test_scenario_start_timeout(void **state)
{
    struct world *w = scenario_new("start timeout");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 8);
    t = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){.tenant = t, .gpu_model = model_names[A100], .gpu_count = 4};
    id = sc_rent(w, &c);
    sc_wait(w, 300);
    rv = sc_view(w, id);
    CHECK(w,
          rv.state == RENTAL_ENDED && rv.end_reason == END_FAILED_TO_START &&
              rv.ended_at == w->t0 + 120 * SEC && rv.cost == 0 && rv.billed_us == 0,
          "%s/%s ended_at +%llds cost %lld", state_str(rv.state), end_reason_name(rv.end_reason),
          (long long)((rv.ended_at - w->t0) / SEC), (long long)rv.cost);
    CHECK(w, sc_balance(w, t) == 100 * CNY, "wallet %lld", (long long)sc_balance(w, t));
    scenario_end(w);
}

/* A restart bumps the epoch; reports of the old epoch change nothing. */
static void test_scenario_epochs(void **state)
{
    struct world *w = scenario_new("restart and stale epochs");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 8);
    t = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){.tenant = t,
                                   .gpu_model = model_names[A100],
                                   .gpu_count = 1,
                                   .has_workload = true,
                                   .restart = RESTART_ALWAYS};
    id = sc_rent(w, &c);
    sc_ready(w, id);
    sc_wait(w, 60);
    CHECK(w, sc_view(w, id).epoch == 1, "epoch %u", sc_view(w, id).epoch);
    trk(w, id)->ready_at = INT64_MAX; /* the restarted workload is slow to come up */
    sc_report(w, id, 1, REPORT_EXITED, 3);
    rv = sc_view(w, id);
    CHECK(w, rv.state == RENTAL_STARTING && rv.epoch == 2 && !rv.billing,
          "after the exit: %s epoch %u billing %d", state_str(rv.state), rv.epoch, rv.billing);
    sc_report(w, id, 1, REPORT_RUNNING, 0);
    CHECK(w, sc_view(w, id).state == RENTAL_STARTING, "a stale running report started it");
    sc_report(w, id, 2, REPORT_RUNNING, 0);
    CHECK(w, sc_view(w, id).state == RENTAL_RUNNING, "the current epoch's report did not");
    sc_report(w, id, 1, REPORT_EXITED, 0);
    sc_report(w, id, 1, REPORT_FAILED, 9);
    rv = sc_view(w, id);
    CHECK(w, rv.state == RENTAL_RUNNING && rv.epoch == 2, "stale exits: %s epoch %u",
          state_str(rv.state), rv.epoch);
    /* billed: 0..60 s, then again from the second start (60 s) to 120 s */
    sc_wait(w, 120);
    sc_stop(w, id, t);
    rv = sc_view(w, id);
    CHECK(w, rv.billed_us == 120 * SEC && rv.cost == money_prorate(PRICE_A100, 120 * SEC),
          "billed %lld cost %lld", (long long)rv.billed_us, (long long)rv.cost);
    scenario_end(w);
}

/* The workload exits while still starting, under restart=always: it restarts, and the event
 * says it went from starting (it never ran). */
static void test_scenario_exit_while_starting(void **state)
{
    struct world *w = scenario_new("exit while starting");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 8);
    t = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){.tenant = t,
                                   .gpu_model = model_names[A100],
                                   .gpu_count = 1,
                                   .has_workload = true,
                                   .restart = RESTART_ALWAYS};
    id = sc_rent(w, &c);
    sc_wait(w, 20);
    sc_report(w, id, 1, REPORT_EXITED, 1);
    rv = sc_view(w, id);
    CHECK(w, rv.state == RENTAL_STARTING && rv.epoch == 2 && rv.cost == 0, "%s epoch %u cost %lld",
          state_str(rv.state), rv.epoch, (long long)rv.cost);
    sc_ready(w, id);
    CHECK(w, sc_view(w, id).state == RENTAL_RUNNING, "not running");
    scenario_end(w);
}

/* A repeated transfer id returns the first result and moves nothing. */
static void test_scenario_credit_replay(void **state)
{
    struct world *w = scenario_new("top-up replay");
    struct command cmd = {.type = CMD_CREDIT};
    struct result first, res;
    uint32_t t;

    (void)state;
    t = sc_tenant(w, 0);
    cmd.u.credit = (struct cmd_credit){t, 100 * CNY, "wire", "bank-1"};
    CHECK(w, apply(w, &cmd, &first) == 0 && first.amount == 100 * CNY && !first.replayed,
          "first top-up: %s balance %lld", first.detail, (long long)first.amount);
    check_all(w, false);
    cmd.u.credit = (struct cmd_credit){t, 50 * CNY, "wire", NULL};
    CHECK(w, apply(w, &cmd, &res) == 0 && res.amount == 150 * CNY, "second top-up");
    check_all(w, false);
    cmd.u.credit = (struct cmd_credit){t, 100 * CNY, "wire again", "bank-1"};
    snapshot(w, &snap_before);
    CHECK(w,
          apply(w, &cmd, &res) == 0 && res.replayed && res.amount == 100 * CNY &&
              res.id == first.id,
          "replay: code %s replayed %d amount %lld id %llu", err_name(res.code), res.replayed,
          (long long)res.amount, (unsigned long long)res.id);
    CHECK(w, engine_drain_events(w->e, evbuf, EVBUF) == 0, "the replay emitted events");
    expect_unchanged(w, "a replayed top-up");
    cmd.u.credit = (struct cmd_credit){t, 70 * CNY, "wire", "bank-1"};
    CHECK(w, apply(w, &cmd, &res) == ERR_CONFLICT, "the same id for another amount: %s",
          err_name(res.code));
    CHECK(w, sc_balance(w, t) == 150 * CNY, "wallet %lld", (long long)sc_balance(w, t));
    scenario_end(w);
}

/*
 * A day package (300.00) with auto_renew, running from 0 and stopped at 25 h: the first day is
 * earned, the second renews at 24 h and is stopped after one hour of it, so the tenant pays
 * 300.00 + 300.00 x 1/24 = 312.50 and gets 287.50 back. Billing is confirmed by heartbeats, so
 * the split between the days may move by one heartbeat interval (20 s of a day: 0.069444).
 */
#define HEARTBEAT_OF_A_DAY 69445
static void test_scenario_package_renewal(void **state)
{
    struct world *w = scenario_new("package renewal, then stopped early");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 1);
    t = sc_tenant(w, 1000 * CNY);
    c = (struct cmd_rental_create){.tenant = t,
                                   .gpu_model = model_names[A100],
                                   .gpu_count = 1,
                                   .term = TERM_DAY,
                                   .auto_renew = true};
    id = sc_rent(w, &c);
    sc_ready(w, id);
    CHECK(w, sc_balance(w, t) == 700 * CNY, "paid %lld",
          (long long)(1000 * CNY - sc_balance(w, t)));
    sc_wait(w, 24 * 3600 + 60);
    rv = sc_view(w, id);
    CHECK(w,
          rv.state == RENTAL_RUNNING && rv.ends_at == w->t0 + 48 * HOUR &&
              sc_balance(w, t) >= 400 * CNY && sc_balance(w, t) <= 400 * CNY + HEARTBEAT_OF_A_DAY,
          "after renewal: %s ends_at +%llds wallet %lld", state_str(rv.state),
          (long long)((rv.ends_at - w->t0) / SEC), (long long)sc_balance(w, t));
    sc_wait(w, 25 * 3600);
    sc_stop(w, id, t);
    rv = sc_view(w, id);
    CHECK(w,
          rv.cost >= 312500000 - HEARTBEAT_OF_A_DAY && rv.cost <= 312500000 + HEARTBEAT_OF_A_DAY &&
              sc_balance(w, t) == 1000 * CNY - rv.cost,
          "stopped one hour into the second day: cost %lld wallet %lld, expected 312.50 and "
          "687.50",
          (long long)rv.cost, (long long)sc_balance(w, t));
    scenario_end(w);
}

/*
 * Four hosts go silent together for 600 s (past lost_after): a mass silence. When they all
 * report again, nothing has ended, and the silent time is not billed.
 */
static void test_scenario_mass_silence(void **state)
{
    struct world *w = scenario_new("mass silence, then every host back");
    struct cmd_rental_create c = {0};
    uint64_t ids[4];
    uint32_t t;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    for (int i = 0; i < 4; i++)
        sc_host(w, A100, 1);
    t = sc_tenant(w, 1000 * CNY);
    c = (struct cmd_rental_create){.tenant = t, .gpu_model = model_names[A100], .gpu_count = 1};
    for (int i = 0; i < 4; i++) {
        ids[i] = sc_rent(w, &c);
        sc_ready(w, ids[i]);
    }
    sc_wait(w, 100);
    wlog(w, "the control plane hears nothing for 600 s");
    advance(w, w->t0 + 700 * SEC, false);
    check_all(w, false);
    CHECK(w, w->mass_silence, "no mass-silence alert");
    for (int i = 0; i < 4; i++)
        CHECK(w, sc_view(w, ids[i]).state == RENTAL_RUNNING, "rental %llu ended during silence",
              (unsigned long long)ids[i]);
    heartbeat_all(w); /* every agent gets through again, one after another */
    check_all(w, false);
    for (int i = 0; i < 4; i++) {
        struct rental_view rv = sc_view(w, ids[i]);

        CHECK(w, rv.state == RENTAL_RUNNING && rv.billing,
              "rental %llu on host %u is %s/%s after its host came back",
              (unsigned long long)ids[i], rv.host, state_str(rv.state),
              end_reason_name(rv.end_reason));
    }
    sc_wait(w, 760);
    for (int i = 0; i < 4; i++) {
        sc_stop(w, ids[i], t);
        CHECK(w, sc_view(w, ids[i]).billed_us == 160 * SEC, "rental %llu billed %lld",
              (unsigned long long)ids[i], (long long)sc_view(w, ids[i]).billed_us);
    }
    scenario_end(w);
}

/*
 * Billing rounds per settlement: a spot bid of 0.99999 against a list price of 1.00 gives a
 * discount of 0.00001 an hour, less than one micro-unit per settlement, so some settlements
 * charge one micro-unit more than the list price grew. Over 2 h: list 2.000000, net 1.999980,
 * discount 0.000020 - and the discount transfers must add up to exactly that.
 */
static void test_scenario_discount_rounding(void **state)
{
    struct world *w = scenario_new("discount below a micro-unit per settlement");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, CNY, CNY / 2, 0);
    sc_host(w, A100, 1);
    t = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){.tenant = t,
                                   .gpu_model = model_names[A100],
                                   .gpu_count = 1,
                                   .term = TERM_SPOT,
                                   .max_hourly = 999990};
    id = sc_rent(w, &c);
    sc_ready(w, id);
    sc_wait(w, 2 * 3600);
    sc_stop(w, id, t);
    rv = sc_view(w, id);
    CHECK(w, rv.cost == 1999980 && rv.discount == 20 && trk(w, id)->discounted == 20,
          "cost %lld discount %lld, discount transfers %lld; expected 1999980, 20 and 20",
          (long long)rv.cost, (long long)rv.discount, (long long)trk(w, id)->discounted);
    CHECK(w, engine_account_balance(w->e, ACCT_DISCOUNTS) == -20, "discounts account %lld",
          (long long)engine_account_balance(w->e, ACCT_DISCOUNTS));
    scenario_end(w);
}

/*
 * One A100. Tenant X runs on it; tenant Y waits for it (queued) while its wallet runs dry on
 * an H100; tenant Z waits behind Y. When X stops, Y cannot pay: its queued rental ends
 * insufficient_balance and Z's is placed, with the queue's counts intact.
 */
static void test_scenario_queue_unaffordable(void **state)
{
    struct world *w = scenario_new("an unaffordable queued rental leaves the queue intact");
    struct cmd_rental_create c = {0};
    struct engine_stats st;
    uint32_t x, y, z;
    uint64_t a, r, b, d;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_price(w, H100, PRICE_A100, 0, 0);
    sc_host(w, A100, 1);
    sc_host(w, H100, 1);
    x = sc_tenant(w, 100 * CNY);
    y = sc_tenant(w, 20 * CNY);
    z = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){.tenant = x, .gpu_model = model_names[A100], .gpu_count = 1};
    a = sc_rent(w, &c);
    sc_ready(w, a);
    c.tenant = y;
    c.gpu_model = model_names[H100];
    r = sc_rent(w, &c);
    sc_ready(w, r);
    c.gpu_model = model_names[A100];
    c.queue = true;
    b = sc_rent(w, &c);
    c.tenant = z;
    d = sc_rent(w, &c);
    CHECK(w, sc_view(w, b).state == RENTAL_PENDING && sc_view(w, d).state == RENTAL_PENDING,
          "not queued");
    sc_wait(w, 2 * 3600); /* 20.00 at 15.10/h lasts 1 h 19 min */
    CHECK(w,
          sc_view(w, r).state == RENTAL_ENDED &&
              sc_view(w, r).end_reason == END_INSUFFICIENT_BALANCE && sc_balance(w, y) == 0,
          "y's H100 rental: %s/%s, wallet %lld", state_str(sc_view(w, r).state),
          end_reason_name(sc_view(w, r).end_reason), (long long)sc_balance(w, y));
    sc_stop(w, a, x);
    CHECK(w,
          sc_view(w, b).state == RENTAL_ENDED &&
              sc_view(w, b).end_reason == END_INSUFFICIENT_BALANCE,
          "y's queued rental is %s/%s", state_str(sc_view(w, b).state),
          end_reason_name(sc_view(w, b).end_reason));
    CHECK(w, sc_view(w, d).state == RENTAL_STARTING, "z's queued rental is %s",
          state_str(sc_view(w, d).state));
    engine_stats(w->e, &st);
    CHECK(w, st.pending_now == 0, "stats.pending_now %u", st.pending_now);
    scenario_end(w);
}

/*
 * max_duration 110 s from a start at 0: the rental expires at 110 s, even though the next
 * heartbeat (120 s) reaches the engine before any tick past 110 s. Billing is confirmed by
 * heartbeats, so it is billed to 110 s (0.461388) or to the last heartbeat before it, 100 s
 * (0.419444); never past 110 s.
 */
static void test_scenario_max_duration(void **state)
{
    struct world *w = scenario_new("max_duration expires on time");
    struct cmd_rental_create c = {0};
    struct rental_view rv;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 1);
    t = sc_tenant(w, 100 * CNY);
    c = (struct cmd_rental_create){
        .tenant = t, .gpu_model = model_names[A100], .gpu_count = 1, .max_duration = 110 * SEC};
    id = sc_rent(w, &c);
    sc_ready(w, id);
    sc_wait(w, 200);
    rv = sc_view(w, id);
    CHECK(w,
          rv.state == RENTAL_ENDED && rv.end_reason == END_EXPIRED &&
              rv.ended_at == w->t0 + 110 * SEC &&
              ((rv.billed_us == 110 * SEC && rv.cost == 461388) ||
               (rv.billed_us == 100 * SEC && rv.cost == 419444)),
          "%s/%s ended_at +%llds billed %lld cost %lld; expected expired at +110 s, billed 110 "
          "s for 461388 or 100 s for 419444",
          state_str(rv.state), end_reason_name(rv.end_reason),
          (long long)((rv.ended_at - w->t0) / SEC), (long long)rv.billed_us, (long long)rv.cost);
    scenario_end(w);
}

/* A month after the tenant's last charge, a refused rental must not reset month_spent. */
static void test_scenario_refusal_changes_nothing(void **state)
{
    struct world *w = scenario_new("a refused command changes nothing, a month later");
    struct cmd_rental_create c = {0};
    struct command cmd = {.type = CMD_RENTAL_CREATE};
    struct tenant_view tv;
    struct result res;
    uint32_t t;
    uint64_t id;

    (void)state;
    sc_price(w, A100, PRICE_A100, SPOT_A100, DAY_A100);
    sc_host(w, A100, 1);
    t = sc_tenant(w, 20 * CNY);
    c = (struct cmd_rental_create){.tenant = t, .gpu_model = model_names[A100], .gpu_count = 1};
    id = sc_rent(w, &c);
    sc_ready(w, id);
    sc_wait(w, 3600);
    sc_stop(w, id, t);
    CHECK(w, engine_tenant(w->e, t, &tv) == 0 && tv.month_spent == PRICE_A100, "month_spent %lld",
          (long long)tv.month_spent);
    w->hosts[0].alive = false;
    w->hosts[0].revive_at = INT64_MAX;
    advance(w, w->t0 + 31 * 86400 * SEC, false); /* April */
    check_all(w, false);
    cmd.u.rental_create = c; /* 4.90 left, an hour needs 15.10 */
    CHECK(w, apply(w, &cmd, &res) == ERR_FUNDS, "expected insufficient funds: %s (%s)",
          err_name(res.code), res.detail);
    scenario_end(w);
}

/* The same seed twice gives the same events, field for field. */
static void test_determinism(void **state)
{
    (void)state;
    for (uint64_t seed = 9001; seed <= 9003; seed++) {
        uint64_t a = run_seed(seed, 1500, false);
        uint64_t b = run_seed(seed, 1500, false);

        assert_true(a == b);
    }
}

static int free_snapshots(void **state)
{
    (void)state;
    free(snap_before.items);
    free(snap_after.items);
    memset(&snap_before, 0, sizeof(snap_before));
    memset(&snap_after, 0, sizeof(snap_after));
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_random_seeds, teardown_world),
        cmocka_unit_test_teardown(test_determinism, teardown_world),
        cmocka_unit_test_teardown(test_scenario_on_demand_bill, teardown_world),
        cmocka_unit_test_teardown(test_scenario_coupons, teardown_world),
        cmocka_unit_test_teardown(test_scenario_host_gap, teardown_world),
        cmocka_unit_test_teardown(test_scenario_host_lost, teardown_world),
        cmocka_unit_test_teardown(test_scenario_start_timeout, teardown_world),
        cmocka_unit_test_teardown(test_scenario_epochs, teardown_world),
        cmocka_unit_test_teardown(test_scenario_exit_while_starting, teardown_world),
        cmocka_unit_test_teardown(test_scenario_credit_replay, teardown_world),
        cmocka_unit_test_teardown(test_scenario_package_renewal, teardown_world),
        cmocka_unit_test_teardown(test_scenario_mass_silence, teardown_world),
        cmocka_unit_test_teardown(test_scenario_discount_rounding, teardown_world),
        cmocka_unit_test_teardown(test_scenario_queue_unaffordable, teardown_world),
        cmocka_unit_test_teardown(test_scenario_max_duration, teardown_world),
        cmocka_unit_test_teardown(test_scenario_refusal_changes_nothing, teardown_world),
    };

    return cmocka_run_group_tests(tests, NULL, free_snapshots);
}
