#include "../common/compat.h"

#include <string.h>

#include "../common/err.h"
#include "money.h"
#include "types.h"

static const char *const term_names[TERM_COUNT] = {"on_demand", "spot", "day", "week", "month"};
static const char *const state_names[] = {"pending", "starting", "running", "ended"};
static const char *const end_names[END_REASON_COUNT] = {
    "",       "stopped", "expired", "preempted",       "host_failed", "insufficient_balance",
    "budget", "idle",    "exited",  "failed_to_start", "admin"};
static const char *const host_names[] = {"ready", "draining", "down"};
static const char *const gpu_names[] = {"free", "allocated", "unavailable"};
static const char *const restart_names[] = {"never", "on_failure", "always"};
static const char *const kind_names[XFER_KIND_COUNT] = {
    "topup",     "charge", "discount",          "package",
    "recognize", "refund", "discount_reversal", "adjustment"};

int64_t term_length_us(enum term t)
{
    switch (t) {
    case TERM_DAY:
        return 86400 * USEC_PER_SEC;
    case TERM_WEEK:
        return 7 * 86400 * USEC_PER_SEC;
    case TERM_MONTH:
        return 30 * 86400 * USEC_PER_SEC;
    default:
        return 0;
    }
}

enum priority term_priority(enum term t)
{
    if (TERM_IS_PACKAGE(t))
        return PRIO_PACKAGE;
    return t == TERM_SPOT ? PRIO_SPOT : PRIO_ON_DEMAND;
}

static int parse_name(int *out, const char *s, const char *const *names, int n)
{
    if (s == NULL)
        return ERR_INVALID;
    for (int i = 0; i < n; i++) {
        if (names[i][0] != '\0' && strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return ERR_INVALID;
}

const char *term_name(enum term t)
{
    return (unsigned)t < TERM_COUNT ? term_names[t] : "?";
}

int term_parse(enum term *out, const char *s)
{
    int v;
    int rc = parse_name(&v, s, term_names, TERM_COUNT);

    if (rc == 0)
        *out = (enum term)v;
    return rc;
}

const char *rental_state_name(enum rental_state s)
{
    return (unsigned)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

int rental_state_parse(enum rental_state *out, const char *s)
{
    int v;
    int rc = parse_name(&v, s, state_names, (int)ARRAY_SIZE(state_names));

    if (rc == 0)
        *out = (enum rental_state)v;
    return rc;
}

const char *end_reason_name(enum end_reason r)
{
    return (unsigned)r < END_REASON_COUNT ? end_names[r] : "?";
}

const char *host_state_name(enum host_state s)
{
    return (unsigned)s < ARRAY_SIZE(host_names) ? host_names[s] : "?";
}

const char *gpu_state_name(enum gpu_state s)
{
    return (unsigned)s < ARRAY_SIZE(gpu_names) ? gpu_names[s] : "?";
}

const char *restart_policy_name(enum restart_policy p)
{
    return (unsigned)p < ARRAY_SIZE(restart_names) ? restart_names[p] : "?";
}

int restart_policy_parse(enum restart_policy *out, const char *s)
{
    int v;
    int rc = parse_name(&v, s, restart_names, (int)ARRAY_SIZE(restart_names));

    if (rc == 0)
        *out = (enum restart_policy)v;
    return rc;
}

const char *transfer_kind_name(enum transfer_kind k)
{
    return (unsigned)k < XFER_KIND_COUNT ? kind_names[k] : "?";
}
