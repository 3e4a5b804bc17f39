/*
 * test_money.c - exact money: parsing, formatting, checked arithmetic and the proration rule
 * that quotes and bills share.
 *
 * Every expected value is written out; the randomised properties use a fixed-seed generator
 * so a failure reproduces exactly.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "engine/money.h"

#define SENTINEL  INT64_C(0x5a5a5a5a5a5a5a5a)
#define RATE_7_60 INT64_C(7600000) /* 7.60 per hour */

/* splitmix64: a tiny deterministic generator, so random properties reproduce exactly */
struct rng {
    uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9E3779B97F4A7C15));

    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* uniform-ish in [lo, hi], hi - lo < 2^64 - 1 (unsigned arithmetic: no signed overflow) */
static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;

    return (int64_t)((uint64_t)lo + rng_next(r) % span);
}

/* spread over magnitudes: a random bit length, then a random value of that length, >= 1 */
static int64_t rng_magnitude(struct rng *r, int max_bits)
{
    int bits = (int)rng_range(r, 1, max_bits);
    uint64_t v = rng_next(r) >> (64 - bits);

    return v == 0 ? 1 : (int64_t)v;
}

/* ---- money_parse ---------------------------------------------------------------------- */

struct parse_ok {
    const char *text;
    int64_t value;
};

static void test_parse_accepts(void **state)
{
    static const struct parse_ok cases[] = {
        {"15.10", INT64_C(15100000)},
        {"0.000001", INT64_C(1)},
        {"-1.5", INT64_C(-1500000)},
        {"0", INT64_C(0)},
        {"-0", INT64_C(0)},
        {"0.0", INT64_C(0)},
        {"-0.000000", INT64_C(0)},
        {"7", INT64_C(7000000)},
        {"7.6", INT64_C(7600000)},
        {"7.60", INT64_C(7600000)},
        {"7.600000", INT64_C(7600000)},
        {"007.50", INT64_C(7500000)},
        {"0.1", INT64_C(100000)},
        {"0.12", INT64_C(120000)},
        {"0.123", INT64_C(123000)},
        {"0.1234", INT64_C(123400)},
        {"0.12345", INT64_C(123450)},
        {"0.123456", INT64_C(123456)},
        {"0.002111", INT64_C(2111)},
        {"-0.000001", INT64_C(-1)},
        {"123456.789012", INT64_C(123456789012)},
        {"-123456.789012", INT64_C(-123456789012)},
        {"1000000", INT64_C(1000000000000)},
        {"4611686018427", INT64_C(4611686018427000000)},
        {"4611686018427.387904", MONEY_MAX},
        {"-4611686018427.387904", -MONEY_MAX},
        {"4611686018427.387903", MONEY_MAX - 1},
        {"00000000000000000000000000000001.5", INT64_C(1500000)},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int64_t v = SENTINEL;
        int rc = money_parse(&v, cases[i].text);

        if (rc != 0 || v != cases[i].value)
            fail_msg("money_parse(\"%s\"): rc %d value %lld, want %lld", cases[i].text, rc,
                     (long long)v, (long long)cases[i].value);
    }
}

static void test_parse_rejects_grammar(void **state)
{
    static const char *const bad[] = {
        "",          "-",    ".5",  "-.5",  "5.",        "-5.",        "1.2345678",
        "0.0000000", "+1",   "1e3", "1E3",  " 1",        "1 ",         "\t1",
        "1\n",       "0x10", "1,5", "--1",  "-+1",       "1.2.3",      "1..2",
        "1.-5",      "1-",   "abc", "1.5 ", "1. 5",      "- 1",        "1.5e1",
        ".",         "-.",   "1.a", "a1",   "\xd9\xa1",  "inf",        "nan",
        "1.000000a", "12_3", "1/2", "1.5.", "0.1234567", "-1.2345678",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int64_t v = SENTINEL;
        int rc = money_parse(&v, bad[i]);

        if (rc != ERR_INVALID || v != SENTINEL)
            fail_msg("money_parse(\"%s\"): rc %d value %lld, want ERR_INVALID and untouched",
                     bad[i], rc, (long long)v);
    }
}

static void test_parse_rejects_null(void **state)
{
    int64_t v = SENTINEL;

    (void)state;
    assert_int_equal(money_parse(&v, NULL), ERR_INVALID);
    assert_int_equal(v, SENTINEL);
}

static void test_parse_overflow(void **state)
{
    static const char *const big[] = {
        "4611686018427.387905",
        "-4611686018427.387905",
        "4611686018428",
        "-4611686018428",
        "4611686018427.9",
        "9223372036854.775807",
        "-9223372036854.775808",
        "9223372036854.775808",
        "18446744073709.551616",
        "99999999999999999999999999999999999999",
        "-99999999999999999999999999999999999999.999999",
        "46116860184280",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(big); i++) {
        int64_t v = SENTINEL;
        int rc = money_parse(&v, big[i]);

        if (rc != ERR_OVERFLOW || v != SENTINEL)
            fail_msg("money_parse(\"%s\"): rc %d value %lld, want ERR_OVERFLOW and untouched",
                     big[i], rc, (long long)v);
    }
}

/* ---- money_format --------------------------------------------------------------------- */

static void test_format_exact(void **state)
{
    static const struct parse_ok cases[] = {
        {"7.60", INT64_C(7600000)},
        {"0.002111", INT64_C(2111)},
        {"-1.50", INT64_C(-1500000)},
        {"0.00", INT64_C(0)},
        {"0.000001", INT64_C(1)},
        {"-0.000001", INT64_C(-1)},
        {"0.00001", INT64_C(10)},
        {"0.0001", INT64_C(100)},
        {"0.001", INT64_C(1000)},
        {"0.01", INT64_C(10000)},
        {"0.10", INT64_C(100000)},
        {"1.00", INT64_C(1000000)},
        {"-1.00", INT64_C(-1000000)},
        {"15.10", INT64_C(15100000)},
        {"1.23", INT64_C(1230000)},
        {"1.234", INT64_C(1234000)},
        {"1.2345", INT64_C(1234500)},
        {"1.23456", INT64_C(1234560)},
        {"1.234567", INT64_C(1234567)},
        {"1.000001", INT64_C(1000001)},
        {"10.00", INT64_C(10000000)},
        {"100.05", INT64_C(100050000)},
        {"182.397888", INT64_C(182397888)},
        {"999999.999999", INT64_C(999999999999)},
        {"123000.00", INT64_C(123000000000)},
        {"4611686018427.387904", MONEY_MAX},
        {"-4611686018427.387904", -MONEY_MAX},
        {"9223372036854.775807", INT64_MAX},
        {"-9223372036854.775808", INT64_MIN},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char buf[MONEY_STR_MAX];

        memset(buf, 'X', sizeof(buf));
        assert_ptr_equal(money_format(buf, cases[i].value), buf);
        assert_string_equal(buf, cases[i].text);
        assert_true(strlen(buf) < MONEY_STR_MAX);
    }
}

static void test_format_canonicalises_parsed_text(void **state)
{
    static const char *const pairs[][2] = {
        {"15.1", "15.10"},       {"007.500", "7.50"}, {"-0", "0.00"},
        {"-0.000000", "0.00"},   {"3", "3.00"},       {"0.120000", "0.12"},
        {"0.000010", "0.00001"}, {"-2.5", "-2.50"},   {"1.200300", "1.2003"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
        int64_t v = SENTINEL;
        char buf[MONEY_STR_MAX];

        assert_int_equal(money_parse(&v, pairs[i][0]), 0);
        assert_string_equal(money_format(buf, v), pairs[i][1]);
    }
}

static void test_format_parse_round_trip(void **state)
{
    struct rng r = {UINT64_C(20261125)};

    (void)state;
    for (int i = 0; i < 200000; i++) {
        char buf[MONEY_STR_MAX];
        int64_t v, back = SENTINEL;

        switch (i % 4) {
        case 0:
            v = rng_range(&r, -MONEY_MAX, MONEY_MAX);
            break;
        case 1:
            v = rng_range(&r, -10000000, 10000000); /* around +-10 units */
            break;
        case 2:
            v = rng_magnitude(&r, 62) * (rng_next(&r) & 1 ? 1 : -1);
            break;
        default:
            v = rng_range(&r, -1000, 1000) * MONEY_UNIT + rng_range(&r, 0, 3) * 100000;
            break;
        }
        money_format(buf, v);
        if (money_parse(&back, buf) != 0 || back != v)
            fail_msg("round trip of %lld through \"%s\" gave %lld", (long long)v, buf,
                     (long long)back);
    }
}

/* ---- checked arithmetic --------------------------------------------------------------- */

static void test_add(void **state)
{
    int64_t v = SENTINEL;

    (void)state;
    assert_int_equal(money_add(&v, 1, 2), 0);
    assert_int_equal(v, 3);
    assert_int_equal(money_add(&v, -7600000, 2111), 0);
    assert_int_equal(v, -7597889);
    assert_int_equal(money_add(&v, MONEY_MAX, 0), 0);
    assert_int_equal(v, MONEY_MAX);
    assert_int_equal(money_add(&v, MONEY_MAX, -MONEY_MAX), 0);
    assert_int_equal(v, 0);
    assert_int_equal(money_add(&v, MONEY_MAX - 1, 1), 0);
    assert_int_equal(v, MONEY_MAX);
    assert_int_equal(money_add(&v, -MONEY_MAX + 1, -1), 0);
    assert_int_equal(v, -MONEY_MAX);

    v = SENTINEL;
    assert_int_equal(money_add(&v, MONEY_MAX, 1), ERR_OVERFLOW);
    assert_int_equal(money_add(&v, -MONEY_MAX, -1), ERR_OVERFLOW);
    assert_int_equal(money_add(&v, MONEY_MAX, MONEY_MAX), ERR_OVERFLOW);
    assert_int_equal(money_add(&v, INT64_MAX, 1), ERR_OVERFLOW);  /* int64 wraps */
    assert_int_equal(money_add(&v, INT64_MIN, -1), ERR_OVERFLOW); /* int64 wraps */
    assert_int_equal(money_add(&v, INT64_MIN, 0), ERR_OVERFLOW);  /* fits int64, not money */
    assert_int_equal(money_add(&v, INT64_MAX, INT64_MIN), 0);
    assert_int_equal(v, -1);
    v = SENTINEL;
    assert_int_equal(money_add(&v, INT64_MAX, 0), ERR_OVERFLOW);
    assert_int_equal(v, SENTINEL);
}

static void test_sub(void **state)
{
    int64_t v = SENTINEL;

    (void)state;
    assert_int_equal(money_sub(&v, 5, 7), 0);
    assert_int_equal(v, -2);
    assert_int_equal(money_sub(&v, 100000000, 7600000), 0);
    assert_int_equal(v, 92400000);
    assert_int_equal(money_sub(&v, -MONEY_MAX, 0), 0);
    assert_int_equal(v, -MONEY_MAX);
    assert_int_equal(money_sub(&v, 0, MONEY_MAX), 0);
    assert_int_equal(v, -MONEY_MAX);
    assert_int_equal(money_sub(&v, MONEY_MAX, MONEY_MAX), 0);
    assert_int_equal(v, 0);

    v = SENTINEL;
    assert_int_equal(money_sub(&v, -MONEY_MAX, 1), ERR_OVERFLOW);
    assert_int_equal(money_sub(&v, MONEY_MAX, -1), ERR_OVERFLOW);
    assert_int_equal(money_sub(&v, MONEY_MAX, -MONEY_MAX), ERR_OVERFLOW);
    assert_int_equal(money_sub(&v, 0, INT64_MIN), ERR_OVERFLOW); /* int64 wraps */
    assert_int_equal(money_sub(&v, INT64_MIN, 1), ERR_OVERFLOW); /* int64 wraps */
    assert_int_equal(money_sub(&v, -1, MONEY_MAX), ERR_OVERFLOW);
    assert_int_equal(v, SENTINEL);
}

static void test_mul(void **state)
{
    int64_t v = SENTINEL;

    (void)state;
    assert_int_equal(money_mul(&v, RATE_7_60, 8), 0);
    assert_int_equal(v, 60800000);
    assert_int_equal(money_mul(&v, -3, 4), 0);
    assert_int_equal(v, -12);
    assert_int_equal(money_mul(&v, 123456789, 0), 0);
    assert_int_equal(v, 0);
    assert_int_equal(money_mul(&v, MONEY_MAX / 2, 2), 0);
    assert_int_equal(v, MONEY_MAX);
    assert_int_equal(money_mul(&v, MONEY_MAX, -1), 0);
    assert_int_equal(v, -MONEY_MAX);
    assert_int_equal(money_mul(&v, INT64_C(1) << 31, INT64_C(1) << 31), 0);
    assert_int_equal(v, MONEY_MAX);
    assert_int_equal(money_mul(&v, MONEY_MAX, 1), 0);
    assert_int_equal(v, MONEY_MAX);

    v = SENTINEL;
    assert_int_equal(money_mul(&v, MONEY_MAX / 2 + 1, 2), ERR_OVERFLOW);
    assert_int_equal(money_mul(&v, -(MONEY_MAX / 2 + 1), 2), ERR_OVERFLOW);
    assert_int_equal(money_mul(&v, INT64_C(1) << 32, INT64_C(1) << 31), ERR_OVERFLOW);
    assert_int_equal(money_mul(&v, INT64_MAX, 2), ERR_OVERFLOW);  /* int64 wraps */
    assert_int_equal(money_mul(&v, INT64_MIN, -1), ERR_OVERFLOW); /* int64 wraps */
    assert_int_equal(money_mul(&v, INT64_MAX, 1), ERR_OVERFLOW);  /* fits int64, not money */
    assert_int_equal(money_mul(&v, INT64_C(3037000500), INT64_C(3037000500)), ERR_OVERFLOW);
    assert_int_equal(v, SENTINEL);
}

/* ---- money_prorate -------------------------------------------------------------------- */

static void test_prorate_vectors_7_60(void **state)
{
    (void)state;
    assert_int_equal(money_prorate(RATE_7_60, 1 * USEC_PER_SEC), 2111);
    assert_int_equal(money_prorate(RATE_7_60, 59 * USEC_PER_SEC), 124555);
    assert_int_equal(money_prorate(RATE_7_60, 3600 * USEC_PER_SEC), 7600000);
    assert_int_equal(money_prorate(RATE_7_60, 86399 * USEC_PER_SEC), 182397888);
    assert_int_equal(money_prorate(RATE_7_60, 86400 * USEC_PER_SEC), 182400000);
    assert_int_equal(money_prorate(RATE_7_60, USEC_PER_HOUR), RATE_7_60);
    assert_int_equal(money_prorate(RATE_7_60, 1), 0);
    assert_int_equal(money_prorate(RATE_7_60, 473), 0);
    assert_int_equal(money_prorate(RATE_7_60, 474), 1);
    /* 1000 days of 365 days */
    assert_int_equal(money_prorate(RATE_7_60, INT64_C(31536000000000000)), INT64_C(66576000000000));
}

static void test_prorate_edges(void **state)
{
    (void)state;
    assert_int_equal(money_prorate(0, USEC_PER_HOUR), 0);
    assert_int_equal(money_prorate(RATE_7_60, 0), 0);
    assert_int_equal(money_prorate(-RATE_7_60, USEC_PER_HOUR), 0);
    assert_int_equal(money_prorate(RATE_7_60, -USEC_PER_HOUR), 0);
    assert_int_equal(money_prorate(1, USEC_PER_HOUR - 1), 0);
    assert_int_equal(money_prorate(1, USEC_PER_HOUR), 1);
    assert_int_equal(money_prorate(3600, USEC_PER_SEC - 1), 0);
    assert_int_equal(money_prorate(3600, USEC_PER_SEC), 1);
    assert_int_equal(money_prorate(MONEY_MAX, USEC_PER_HOUR), MONEY_MAX);
    assert_int_equal(money_prorate(MONEY_MAX, 1), 1281023894); /* floor(2^62 / 3.6e9) */
    assert_int_equal(money_prorate(MONEY_MAX, USEC_PER_HOUR / 2), MONEY_MAX / 2);
    /* rate * elapsed is far beyond int64 here: the 128-bit product must be used */
    assert_int_equal(money_prorate(INT64_C(1000000000000), INT64_C(1000000000000000)),
                     INT64_C(277777777777777777));
}

/* floor definition checked independently: p*H <= rate*t < (p+1)*H, and monotonic in t */
static void test_prorate_is_floor(void **state)
{
    struct rng r = {42};

    (void)state;
    for (int i = 0; i < 200000; i++) {
        int64_t rate = rng_magnitude(&r, 40);
        int64_t t = rng_magnitude(&r, 50);
        int64_t p = money_prorate(rate, t);
        __int128 prod = (__int128)rate * t;

        if ((__int128)p * USEC_PER_HOUR > prod || ((__int128)p + 1) * USEC_PER_HOUR <= prod)
            fail_msg("prorate(%lld, %lld) = %lld is not the floor", (long long)rate, (long long)t,
                     (long long)p);
        assert_true(money_prorate(rate, t + 1) >= p);
    }
}

/* one hour of per-second settlements: cumulative differences bill exactly 7.60, while
 * pro-rating each second on its own would lose 400 micro-units */
static void test_prorate_per_second_settlement(void **state)
{
    int64_t sum = 0, naive = 0;

    (void)state;
    for (int64_t s = 0; s < 3600; s++) {
        int64_t due = money_prorate(RATE_7_60, (s + 1) * USEC_PER_SEC) -
                      money_prorate(RATE_7_60, s * USEC_PER_SEC);
        assert_true(due == 2111 || due == 2112);
        sum += due;
        naive += money_prorate(RATE_7_60, USEC_PER_SEC);
    }
    assert_int_equal(sum, 7600000);
    assert_int_equal(naive, 7599600);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Settling at arbitrary cut points of the same duration always sums to the one-shot charge,
 * each settlement is within one micro-unit of the segment's own floor, and never negative. */
static void test_prorate_random_splits_sum_to_total(void **state)
{
    static const int64_t fixed_rates[] = {RATE_7_60,         1, 2111, 3600, 999999, MONEY_UNIT,
                                          INT64_C(123456789)};
    struct rng r = {UINT64_C(0xC0FFEE)};
    int64_t cuts[66];

    (void)state;
    for (int trial = 0; trial < 20000; trial++) {
        int64_t rate = trial % 3 == 0 ? fixed_rates[(size_t)trial / 3 % ARRAY_SIZE(fixed_rates)]
                                      : rng_range(&r, 1, INT64_C(1000000000000));
        int64_t total = rng_range(&r, 0, 90 * 24 * 3600 * USEC_PER_SEC);
        int n = (int)rng_range(&r, 0, 64);
        int64_t sum = 0, naive = 0;

        cuts[0] = 0;
        for (int i = 1; i <= n; i++)
            cuts[i] = rng_range(&r, 0, total);
        cuts[n + 1] = total;
        qsort(cuts, (size_t)n + 2, sizeof(cuts[0]), cmp_i64);
        for (int i = 0; i <= n; i++) {
            int64_t due = money_prorate(rate, cuts[i + 1]) - money_prorate(rate, cuts[i]);
            int64_t own = money_prorate(rate, cuts[i + 1] - cuts[i]);

            if (due < 0 || due < own || due > own + 1)
                fail_msg("rate %lld segment [%lld, %lld): due %lld, own floor %lld",
                         (long long)rate, (long long)cuts[i], (long long)cuts[i + 1],
                         (long long)due, (long long)own);
            sum += due;
            naive += own;
        }
        if (sum != money_prorate(rate, total))
            fail_msg("rate %lld total %lld in %d cuts: sum %lld, one-shot %lld", (long long)rate,
                     (long long)total, n, (long long)sum, (long long)money_prorate(rate, total));
        assert_true(naive <= sum && sum <= naive + n);
    }
}

/* ---- money_affordable_us -------------------------------------------------------------- */

static void test_affordable_vectors(void **state)
{
    (void)state;
    assert_int_equal(money_affordable_us(RATE_7_60, 0), 473);
    assert_int_equal(money_affordable_us(RATE_7_60, 1), 947);
    assert_int_equal(money_affordable_us(RATE_7_60, RATE_7_60), INT64_C(3600000473));
    assert_int_equal(money_affordable_us(RATE_7_60, 2111), 1000421);
    assert_int_equal(money_affordable_us(1, 0), USEC_PER_HOUR - 1);
    assert_int_equal(money_affordable_us(1, 1), 2 * USEC_PER_HOUR - 1);
    assert_int_equal(money_affordable_us(USEC_PER_HOUR, 5), 5);
    assert_int_equal(money_affordable_us(MONEY_MAX, 0), 0);
    assert_int_equal(money_affordable_us(MONEY_MAX, MONEY_MAX), USEC_PER_HOUR);
    assert_int_equal(money_affordable_us(RATE_7_60, -1), 0);
    /* the rental funded with exactly one hour of money runs the hour and 473 us more:
     * the first charged micro-unit beyond the balance falls due at 3600000474 us */
    assert_int_equal(money_prorate(RATE_7_60, INT64_C(3600000473)), RATE_7_60);
    assert_int_equal(money_prorate(RATE_7_60, INT64_C(3600000474)), RATE_7_60 + 1);
}

/* far more time than int64 counts: saturate at INT64_MAX rather than wrap negative */
static void test_affordable_saturates(void **state)
{
    (void)state;
    assert_int_equal(money_affordable_us(1, MONEY_MAX), INT64_MAX);
    assert_int_equal(money_affordable_us(1, INT64_C(10000000000)), INT64_MAX);
    assert_int_equal(money_affordable_us(1000, MONEY_MAX), INT64_MAX);
    /* the largest amount at rate 1 that still fits: floor((a+1)*H - 1) <= INT64_MAX */
    assert_int_equal(money_affordable_us(1, INT64_C(2562047787)), INT64_C(9223372036799999999));
    assert_int_equal(money_affordable_us(1, INT64_C(2562047788)), INT64_MAX);
    assert_int_equal(money_prorate(1, INT64_MAX), INT64_C(2562047788));
}

static void test_affordable_is_exact_inverse(void **state)
{
    struct rng r = {UINT64_C(7600000)};

    (void)state;
    for (int i = 0; i < 200000; i++) {
        int64_t rate = i % 5 == 0 ? RATE_7_60 : rng_magnitude(&r, 48);
        /* amounts up to 2e9 hours' worth keep the answer inside int64 */
        __int128 cap = (__int128)rate * 2000000000;
        int64_t max_amount = cap > MONEY_MAX ? MONEY_MAX : (int64_t)cap;
        int64_t amount = i % 7 == 0 ? rng_range(&r, 0, 100) : rng_range(&r, 0, max_amount);
        int64_t t = money_affordable_us(rate, amount);

        if (t < 0 || t == INT64_MAX || money_prorate(rate, t) > amount ||
            money_prorate(rate, t + 1) <= amount)
            fail_msg("affordable(%lld, %lld) = %lld: prorate there %lld, one later %lld",
                     (long long)rate, (long long)amount, (long long)t,
                     (long long)money_prorate(rate, t), (long long)money_prorate(rate, t + 1));
    }
}

/* ---- money_scale and money_discount_bp ------------------------------------------------ */

static void test_scale(void **state)
{
    (void)state;
    assert_int_equal(money_scale(10, 1, 3), 3);
    assert_int_equal(money_scale(-10, 1, 3), -4); /* floor, not truncation */
    assert_int_equal(money_scale(10, -1, 3), -4);
    assert_int_equal(money_scale(-10, -1, 3), 3);
    assert_int_equal(money_scale(-9, 1, 3), -3);
    assert_int_equal(money_scale(1, 1, 2), 0);
    assert_int_equal(money_scale(-1, 1, 2), -1);
    assert_int_equal(money_scale(0, 5, 7), 0);
    assert_int_equal(money_scale(7, 2, 2), 7);
    assert_int_equal(money_scale(RATE_7_60, 1, 4), 1900000);
    assert_int_equal(money_scale(100, 0, 9), 0);
    assert_int_equal(money_scale(-100, 0, 9), 0);
    /* 128-bit intermediates */
    assert_int_equal(money_scale(MONEY_MAX, MONEY_MAX, MONEY_MAX), MONEY_MAX);
    assert_int_equal(money_scale(-MONEY_MAX, MONEY_MAX, MONEY_MAX), -MONEY_MAX);
    assert_int_equal(money_scale(INT64_MAX, 3, 4), INT64_C(6917529027641081855));
    assert_int_equal(money_scale(-INT64_MAX, 3, 4), INT64_C(-6917529027641081856));
    assert_int_equal(money_scale(INT64_MAX, INT64_MAX, INT64_MAX), INT64_MAX);
}

static void test_scale_is_floor(void **state)
{
    struct rng r = {99};

    (void)state;
    for (int i = 0; i < 200000; i++) {
        int64_t amount = rng_range(&r, -MONEY_MAX, MONEY_MAX);
        int64_t den = rng_magnitude(&r, 40);
        int64_t num = rng_range(&r, -den, den); /* |result| <= |amount| fits */
        int64_t q = money_scale(amount, num, den);
        __int128 p = (__int128)amount * num;

        if ((__int128)q * den > p || ((__int128)q + 1) * den <= p)
            fail_msg("scale(%lld, %lld, %lld) = %lld is not the floor", (long long)amount,
                     (long long)num, (long long)den, (long long)q);
    }
}

static void test_discount_bp(void **state)
{
    (void)state;
    assert_int_equal(money_discount_bp(1000000, 0), 1000000);
    assert_int_equal(money_discount_bp(1000000, 10000), 0);
    assert_int_equal(money_discount_bp(1000000, 2500), 750000);
    assert_int_equal(money_discount_bp(RATE_7_60, 1500), 6460000);
    assert_int_equal(money_discount_bp(999, 1), 998);
    assert_int_equal(money_discount_bp(1, 5000), 0);
    assert_int_equal(money_discount_bp(3, 5000), 1);
    assert_int_equal(money_discount_bp(1, 9999), 0);
    assert_int_equal(money_discount_bp(10000, 9999), 1);
    assert_int_equal(money_discount_bp(0, 1234), 0);
    assert_int_equal(money_discount_bp(-1000, 1), -1000); /* floor(-999.9) */
    assert_int_equal(money_discount_bp(-1000000, 2500), -750000);
    assert_int_equal(money_discount_bp(MONEY_MAX, 1), INT64_C(4611224849825545165));
    assert_int_equal(money_discount_bp(MONEY_MAX, 0), MONEY_MAX);
    assert_int_equal(money_discount_bp(1000000, 10001), 0);
    assert_int_equal(money_discount_bp(1000000, UINT32_MAX), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_parse_rejects_grammar),
        cmocka_unit_test(test_parse_rejects_null),
        cmocka_unit_test(test_parse_overflow),
        cmocka_unit_test(test_format_exact),
        cmocka_unit_test(test_format_canonicalises_parsed_text),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_mul),
        cmocka_unit_test(test_prorate_vectors_7_60),
        cmocka_unit_test(test_prorate_edges),
        cmocka_unit_test(test_prorate_is_floor),
        cmocka_unit_test(test_prorate_per_second_settlement),
        cmocka_unit_test(test_prorate_random_splits_sum_to_total),
        cmocka_unit_test(test_affordable_vectors),
        cmocka_unit_test(test_affordable_saturates),
        cmocka_unit_test(test_affordable_is_exact_inverse),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_scale_is_floor),
        cmocka_unit_test(test_discount_bp),
    };

    return cmocka_run_group_tests_name("money", tests, NULL, NULL);
}
