/*
 * test_common.c - the domain-free helpers: RFC 3339 time and calendar months, public ids,
 * the string hash map and the error-code names.
 *
 * Calendar results are checked against a naive day-by-day walk written here, not against
 * the algorithm under test; randomised checks use a fixed seed.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/hmap.h"
#include "common/ids.h"
#include "common/timeutil.h"

#define SENTINEL          INT64_C(0x5a5a5a5a5a5a5a5a)
#define USEC              INT64_C(1000000)
#define DAY_USEC          (INT64_C(86400) * USEC)
#define T_2026_11_25_0800 (INT64_C(1795593600) * USEC) /* 2026-11-25T08:00:00Z */

/* splitmix64, so random checks reproduce exactly */
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

static int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;

    return (int64_t)((uint64_t)lo + rng_next(r) % span);
}

static bool naive_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned naive_month_days(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && naive_leap(y) ? 29 : days[m - 1];
}

/* ---- time_format ---------------------------------------------------------------------- */

struct time_case {
    const char *text;
    int64_t t;
};

static void test_time_format_exact(void **state)
{
    static const struct time_case cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:00Z", 999999}, /* fractions are dropped */
        {"1970-01-01T00:00:01Z", USEC},
        {"1969-12-31T23:59:59Z", -1}, /* floor, not truncation toward zero */
        {"1969-12-31T23:59:59Z", -USEC},
        {"1969-12-31T23:59:58Z", -USEC - 1},
        {"2026-11-25T08:00:00Z", T_2026_11_25_0800},
        {"2026-11-25T08:00:00Z", T_2026_11_25_0800 + 999999},
        {"2026-11-25T07:59:59Z", T_2026_11_25_0800 - 1},
        {"2024-02-29T12:34:56Z", INT64_C(1709210096) * USEC},
        {"1999-12-31T23:59:59Z", INT64_C(946684799) * USEC},
        {"2000-01-01T00:00:00Z", INT64_C(946684800) * USEC},
        {"2000-03-01T00:00:00Z", INT64_C(11017) * DAY_USEC},
        {"9999-12-31T23:59:59Z", INT64_C(253402300799) * USEC},
        {"0000-01-01T00:00:00Z", INT64_C(-719528) * DAY_USEC},
        {"0001-01-01T00:00:00Z", INT64_C(-719162) * DAY_USEC},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char buf[TIME_STR_MAX];

        memset(buf, 'X', sizeof(buf));
        assert_ptr_equal(time_format(buf, cases[i].t), buf);
        assert_string_equal(buf, cases[i].text);
    }
}

/* ---- time_parse ----------------------------------------------------------------------- */

static void test_time_parse_accepts(void **state)
{
    static const struct time_case cases[] = {
        {"2026-11-25T08:00:00Z", T_2026_11_25_0800},
        {"2026-11-25t08:00:00z", T_2026_11_25_0800},
        {"2026-11-25T08:00:00+00:00", T_2026_11_25_0800},
        {"2026-11-25T08:00:00-00:00", T_2026_11_25_0800},
        {"2026-11-25T09:00:00+01:00", T_2026_11_25_0800},
        {"2026-11-25T13:30:00+05:30", T_2026_11_25_0800},
        {"2026-11-24T23:00:00-09:00", T_2026_11_25_0800}, /* offset crosses the date */
        {"2026-11-25T02:15:00-05:45", T_2026_11_25_0800},
        {"2026-11-26T07:59:00+23:59", T_2026_11_25_0800},
        {"2026-11-25T08:00:00.5Z", T_2026_11_25_0800 + 500000},
        {"2026-11-25T08:00:00.000001Z", T_2026_11_25_0800 + 1},
        {"2026-11-25T08:00:00.123456Z", T_2026_11_25_0800 + 123456},
        {"2026-11-25T08:00:00.1234567Z", T_2026_11_25_0800 + 123456},   /* beyond us: dropped */
        {"2026-11-25T08:00:00.999999999Z", T_2026_11_25_0800 + 999999}, /* truncated, no carry */
        {"2026-11-25T08:00:00.000000Z", T_2026_11_25_0800},
        {"2026-11-25T09:00:00.25+01:00", T_2026_11_25_0800 + 250000},
        {"2026-11-25", INT64_C(1795564800) * USEC},
        {"2026-11-25T00:00:00Z", INT64_C(1795564800) * USEC},
        {"1970-01-01", 0},
        {"1969-12-31T23:59:59.999999Z", -1},
        {"1970-01-01T00:00:00+01:00", -3600 * USEC},
        {"2024-02-29", INT64_C(19782) * DAY_USEC},
        {"2000-02-29", (INT64_C(11017) - 1) * DAY_USEC},
        {"2400-02-29T00:00:00Z", INT64_C(157113) * DAY_USEC},
        {"2026-12-31T23:59:59Z", (INT64_C(1798761600) - 1) * USEC},
        {"2026-01-31", INT64_C(20484) * DAY_USEC},
        {"2026-04-30", INT64_C(20573) * DAY_USEC},
        {"9999-12-31T23:59:59Z", INT64_C(253402300799) * USEC},
        {"0000-01-01", INT64_C(-719528) * DAY_USEC},
        {"0000-02-29", INT64_C(-719469) * DAY_USEC}, /* year 0 is a leap year */
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        int64_t t = SENTINEL;
        int rc = time_parse(&t, cases[i].text);

        if (rc != 0 || t != cases[i].t)
            fail_msg("time_parse(\"%s\"): rc %d t %lld, want %lld", cases[i].text, rc, (long long)t,
                     (long long)cases[i].t);
    }
}

static void test_time_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "2026",
        "2026-11",
        "2026-11-2",
        "26-11-25",
        "2026-1-25",
        "2026/11/25",
        "2026-11-25x",
        "2026-11-25 ",
        " 2026-11-25",
        "2026-11-25T",
        "2026-11-25 08:00:00Z", /* space separator is not accepted */
        "2026-11-25T08:00Z",
        "2026-11-25T08:00:00", /* no zone */
        "2026-11-25T08:00:00Zx",
        "2026-11-25T08:00:00Z ",
        "2026-11-25T08:00:00ZZ",
        "2026-11-25T08:00:00.Z",
        "2026-11-25T08:00:00.1234567890Z", /* more than 9 fraction digits */
        "2026-11-25T08:00:00,5Z",
        "2026-11-25T08:00:00.5",
        "2026-11-25T8:00:00Z",
        "2026-11-25T08:0:00Z",
        "2026-11-25T08-00-00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T23:60:00Z",
        "2026-11-25T23:59:60Z", /* no leap seconds */
        "2026-11-25T08:00:00+01",
        "2026-11-25T08:00:00+0100",
        "2026-11-25T08:00:00+1:00",
        "2026-11-25T08:00:00+01:00x",
        "2026-11-25T08:00:00+01:00Z",
        "2026-11-25T08:00:00+24:00",
        "2026-11-25T08:00:00+01:60",
        "2026-11-25T08:00:00 +01:00",
        "2026-11-25T08:00:00UTC",
        "2026-02-29", /* not a leap year */
        "1900-02-29", /* century, not a leap year */
        "2100-02-29",
        "2026-02-30",
        "2024-02-30",
        "2026-04-31",
        "2026-06-31",
        "2026-09-31",
        "2026-11-31",
        "2026-01-32",
        "2026-01-00",
        "2026-13-01",
        "2026-00-10",
        "2026-99-01",
        "-2026-11-25",
        "+2026-11-25",
        "20261125",
        "2026-11-25T08:00:00.-5Z",
        "2O26-11-25",
        "2026-1a-25",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int64_t t = SENTINEL;
        int rc = time_parse(&t, bad[i]);

        if (rc != ERR_INVALID || t != SENTINEL)
            fail_msg("time_parse(\"%s\"): rc %d t %lld, want ERR_INVALID and untouched", bad[i], rc,
                     (long long)t);
    }
    {
        int64_t t = SENTINEL;

        assert_int_equal(time_parse(&t, NULL), ERR_INVALID);
        assert_int_equal(t, SENTINEL);
    }
}

/* every day from 1600 to 2400 against a naive calendar walk: days_from_civil, the bare-date
 * parse, time_format, and the last second of the day */
static void test_time_calendar_walk(void **state)
{
    int64_t day = INT64_C(-135140); /* 1600-01-01 */

    (void)state;
    for (int64_t y = 1600; y <= 2400; y++) {
        for (unsigned m = 1; m <= 12; m++) {
            for (unsigned d = 1; d <= naive_month_days(y, m); d++, day++) {
                char want[64], buf[TIME_STR_MAX];
                int64_t t = SENTINEL;

                if (time_days_from_civil(y, m, d) != day)
                    fail_msg("days_from_civil(%lld, %u, %u) = %lld, want %lld", (long long)y, m, d,
                             (long long)time_days_from_civil(y, m, d), (long long)day);
                snprintf(want, sizeof(want), "%04lld-%02u-%02u", (long long)y, m, d);
                assert_int_equal(time_parse(&t, want), 0);
                assert_int_equal(t, day * DAY_USEC);
                snprintf(want, sizeof(want), "%04lld-%02u-%02uT23:59:59Z", (long long)y, m, d);
                assert_string_equal(time_format(buf, (day + 1) * DAY_USEC - 1), want);
                assert_int_equal(time_parse(&t, want), 0);
                assert_int_equal(t, (day + 1) * DAY_USEC - USEC);
            }
        }
    }
    assert_int_equal(day, INT64_C(157420)); /* 2401-01-01 */
}

static void test_time_round_trip(void **state)
{
    struct rng r = {1970};
    const int64_t lo = INT64_C(-62167219200) * USEC; /* 0000-01-01 */
    const int64_t hi = INT64_C(253402300799) * USEC; /* 9999-12-31T23:59:59Z */

    (void)state;
    for (int i = 0; i < 100000; i++) {
        int64_t t = rng_range(&r, lo, hi + 999999);
        int64_t whole = t - (((t % USEC) + USEC) % USEC);
        int64_t back = SENTINEL;
        char buf[TIME_STR_MAX];

        time_format(buf, t);
        if (time_parse(&back, buf) != 0 || back != whole)
            fail_msg("%lld -> \"%s\" -> %lld, want %lld", (long long)t, buf, (long long)back,
                     (long long)whole);
    }
}

/* ---- calendar months ------------------------------------------------------------------ */

static int64_t parsed(const char *s)
{
    int64_t t = SENTINEL;

    assert_int_equal(time_parse(&t, s), 0);
    return t;
}

static void test_time_month_vectors(void **state)
{
    (void)state;
    assert_int_equal(time_month_index(0), 1970 * 12);
    assert_int_equal(time_month_index(-1), 1969 * 12 + 11);
    assert_int_equal(time_month_index(T_2026_11_25_0800), 2026 * 12 + 10);
    assert_int_equal(time_month_index(parsed("2026-12-31T23:59:59.999999Z")), 2026 * 12 + 11);
    assert_int_equal(time_month_index(parsed("2027-01-01")), 2027 * 12);
    assert_int_equal(time_month_index(parsed("2024-02-29T23:59:59.999999Z")), 2024 * 12 + 1);
    assert_int_equal(time_month_index(parsed("2024-03-01")), 2024 * 12 + 2);
    assert_int_equal(time_month_index(parsed("2026-11-01T00:30:00+01:00")), 2026 * 12 + 9);

    assert_int_equal(time_month_start(2026 * 12 + 10), INT64_C(1793491200) * USEC);
    assert_int_equal(time_month_start(2026 * 12 + 10), parsed("2026-11-01"));
    assert_int_equal(time_month_start(2026 * 12 + 11), parsed("2026-12-01"));
    assert_int_equal(time_month_start(2026 * 12 + 12), parsed("2027-01-01"));
    assert_int_equal(time_month_start(2027 * 12), INT64_C(1798761600) * USEC);
    assert_int_equal(time_month_start(1970 * 12), 0);
    assert_int_equal(time_month_start(1969 * 12 + 11), -31 * DAY_USEC);
    assert_int_equal(time_month_start(2024 * 12 + 2) - time_month_start(2024 * 12 + 1),
                     29 * DAY_USEC);
    assert_int_equal(time_month_start(2026 * 12 + 2) - time_month_start(2026 * 12 + 1),
                     28 * DAY_USEC);
    assert_int_equal(time_month_start(0), INT64_C(-719528) * DAY_USEC);
    assert_int_equal(time_month_start(-1), (INT64_C(-719528) - 31) * DAY_USEC);
    assert_int_equal(time_month_index(time_month_start(-1)), -1);
    assert_int_equal(time_month_index(time_month_start(0) - 1), -1);
    assert_int_equal(time_month_index(time_month_start(0)), 0);
}

/* every month from 1600 to 2400: start, index of first and last microsecond, and length */
static void test_time_month_walk(void **state)
{
    int64_t start = INT64_C(-135140) * DAY_USEC; /* 1600-01-01 */

    (void)state;
    for (int64_t y = 1600; y <= 2400; y++) {
        for (unsigned m = 1; m <= 12; m++) {
            int64_t idx = y * 12 + (m - 1);
            int64_t next = start + (int64_t)naive_month_days(y, m) * DAY_USEC;

            if (time_month_start(idx) != start)
                fail_msg("month_start(%lld) = %lld, want %lld", (long long)idx,
                         (long long)time_month_start(idx), (long long)start);
            assert_int_equal(time_month_index(start), idx);
            assert_int_equal(time_month_index(start + DAY_USEC / 2), idx);
            assert_int_equal(time_month_index(next - 1), idx);
            assert_int_equal(time_month_index(start - 1), idx - 1);
            assert_int_equal(time_month_start(idx + 1), next);
            start = next;
        }
    }
}

/* ---- ids ------------------------------------------------------------------------------ */

static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

static void test_id_exact(void **state)
{
    static const struct {
        uint64_t n;
        const char *text;
    } cases[] = {
        {0, "rnt_0000000000000"},
        {1, "rnt_9wdvsq5zmmz0n"},
        {2, "rnt_3rvqkebz99y1a"},
        {UINT64_MAX, "rnt_63j468t0bb0zb"},
        {UINT64_C(1018231460777725123), "rnt_fzzzzzzzzzzzz"}, /* every code bit set */
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char buf[ID_STR_MAX];
        uint64_t n = 12345;

        memset(buf, 'X', sizeof(buf));
        assert_ptr_equal(id_format(buf, "rnt", cases[i].n), buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(strlen(buf), 17);
        assert_int_equal(id_parse(&n, "rnt", cases[i].text), 0);
        assert_int_equal(n, cases[i].n);
    }
}

static void test_id_round_trip(void **state)
{
    static const char *const prefixes[] = {"rnt", "usr", "gpu", "hst", "txn"};
    struct rng r = {UINT64_C(0x1D5)};

    (void)state;
    for (uint64_t i = 0; i < 300000; i++) {
        uint64_t n, back = 0;
        const char *prefix = prefixes[i % ARRAY_SIZE(prefixes)];
        char buf[ID_STR_MAX];

        if (i < 100000)
            n = i;
        else if (i < 100064)
            n = UINT64_C(1) << (i - 100000);
        else if (i < 100128)
            n = (UINT64_C(1) << (i - 100064)) - 1;
        else if (i < 100200)
            n = UINT64_MAX - (i - 100128);
        else
            n = rng_next(&r);
        id_format(buf, prefix, n);
        assert_int_equal(strlen(buf), 17);
        assert_memory_equal(buf, prefix, 3);
        assert_int_equal(buf[3], '_');
        if (id_parse(&back, prefix, buf) != 0 || back != n)
            fail_msg("%llu -> \"%s\" -> %llu", (unsigned long long)n, buf,
                     (unsigned long long)back);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_id_distinct(void **state)
{
    enum { N = 40000 };
    char(*ids)[ID_STR_MAX] = calloc(N, ID_STR_MAX);
    struct rng r = {7};
    size_t same_first = 0;

    (void)state;
    assert_non_null(ids);
    for (size_t i = 0; i < N; i++)
        id_format(ids[i], "rnt", i < N / 2 ? (uint64_t)i : rng_next(&r));
    /* neighbours do not look alike: the first code character mostly differs */
    for (size_t i = 1; i < N / 2; i++)
        same_first += ids[i][4] == ids[i - 1][4];
    assert_true(same_first < N / 20);
    qsort(ids, N, ID_STR_MAX, cmp_str);
    for (size_t i = 1; i < N; i++) {
        if (strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("duplicate id %s", ids[i]);
    }
    free(ids);
}

/* each position takes exactly the 32 alphabet characters (16 at the top, which holds one
 * bit beyond 64), and every accepted string is the canonical form of what it decodes to */
static void test_id_every_character(void **state)
{
    (void)state;
    for (int pos = 0; pos < 13; pos++) {
        for (int c = 0; c < 256; c++) {
            char s[ID_STR_MAX] = "rnt_0000000000000";
            char again[ID_STR_MAX];
            const char *in_alphabet = c != 0 ? strchr(alphabet, c) : NULL;
            bool want_ok = in_alphabet != NULL && (pos > 0 || in_alphabet - alphabet < 16);
            uint64_t n = 777;
            int rc;

            s[4 + pos] = (char)c;
            rc = id_parse(&n, "rnt", s);
            if (!want_ok) {
                if (rc != ERR_INVALID || n != 777)
                    fail_msg("\"%s\" (byte %d at %d) accepted", s, c, pos);
                continue;
            }
            if (rc != 0)
                fail_msg("\"%s\" rejected", s);
            assert_string_equal(id_format(again, "rnt", n), s);
        }
    }
}

static void test_id_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "rnt",
        "rnt_",
        "rnt_000000000000",   /* 12 characters */
        "rnt_00000000000000", /* 14 characters */
        "rnt_9wdvsq5zmmz0",
        "rnt_9wdvsq5zmmz0n0",
        "usr_9wdvsq5zmmz0n", /* another type's id */
        "RNT_9wdvsq5zmmz0n",
        "rn_9wdvsq5zmmz0nx",
        "rntt9wdvsq5zmmz0n",
        "rnt-9wdvsq5zmmz0n",
        "rnt 9wdvsq5zmmz0n",
        " rnt_9wdvsq5zmmz0n",
        "rnt_9wdvsq5zmmz0n ",
        "rnt_9wdvsq5zmmz0n\n",
        "rnt_9WDVSQ5ZMMZ0N", /* canonical ids are lower case */
        "rnt_9wdvsq5zmmz0N",
        "rnt_9wdvsq5zmmz0i", /* i, l, o, u are not in the alphabet */
        "rnt_9wdvsq5zmmz0l",
        "rnt_9wdvsq5zmmz0o",
        "rnt_9wdvsq5zmmz0u",
        "rnt_9wdvsq5zmm-0n",
        "rnt_g000000000000", /* top character beyond 15: a 65th bit */
        "rnt_z000000000000",
        "rnt_zzzzzzzzzzzzz",
        "rnt__9wdvsq5zmmz0",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint64_t n = 4242;
        int rc = id_parse(&n, "rnt", bad[i]);

        if (rc != ERR_INVALID || n != 4242)
            fail_msg("id_parse(\"%s\"): rc %d, want ERR_INVALID and untouched", bad[i], rc);
    }
    {
        uint64_t n = 4242;

        assert_int_equal(id_parse(&n, "rnt", NULL), ERR_INVALID);
        assert_int_equal(n, 4242);
        /* the same code under its own prefix is fine */
        assert_int_equal(id_parse(&n, "usr", "usr_9wdvsq5zmmz0n"), 0);
        assert_int_equal(n, 1);
    }
}

/* ---- hmap ----------------------------------------------------------------------------- */

static void test_hmap_basic(void **state)
{
    struct hmap m;
    uint32_t v = 99;

    (void)state;
    hmap_init(&m);
    assert_null(m.slots);
    assert_int_equal(m.capacity, 0);
    assert_int_equal(m.count, 0);
    assert_int_equal(hmap_get(&m, "a100", &v), ERR_NOTFOUND);
    assert_int_equal(hmap_get(&m, "", &v), ERR_NOTFOUND);
    assert_int_equal(v, 99);

    assert_int_equal(hmap_put(&m, "a100", 1), 0);
    assert_int_equal(hmap_put(&m, "h100", 2), 0);
    assert_int_equal(hmap_put(&m, "", 3), 0); /* the empty key is a key */
    assert_int_equal(hmap_put(&m, "zero", 0), 0);
    assert_int_equal(hmap_put(&m, "max", UINT32_MAX), 0);
    assert_int_equal(m.count, 5);

    assert_int_equal(hmap_get(&m, "a100", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(hmap_get(&m, "h100", &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(hmap_get(&m, "", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(hmap_get(&m, "zero", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(hmap_get(&m, "max", &v), 0);
    assert_int_equal(v, UINT32_MAX);

    v = 99;
    assert_int_equal(hmap_get(&m, "A100", &v), ERR_NOTFOUND); /* case matters */
    assert_int_equal(hmap_get(&m, "a10", &v), ERR_NOTFOUND);
    assert_int_equal(hmap_get(&m, "a1000", &v), ERR_NOTFOUND);
    assert_int_equal(hmap_get(&m, "a100 ", &v), ERR_NOTFOUND);
    assert_int_equal(v, 99);

    /* a duplicate is refused and the first value stays */
    assert_int_equal(hmap_put(&m, "a100", 7), ERR_EXISTS);
    assert_int_equal(hmap_put(&m, "", 7), ERR_EXISTS);
    assert_int_equal(m.count, 5);
    assert_int_equal(hmap_get(&m, "a100", &v), 0);
    assert_int_equal(v, 1);

    hmap_release(&m);
    assert_null(m.slots);
    assert_int_equal(m.capacity, 0);
    assert_int_equal(m.count, 0);
    assert_int_equal(hmap_get(&m, "a100", &v), ERR_NOTFOUND);
    /* usable again after release, and release of an empty map is fine */
    assert_int_equal(hmap_put(&m, "a100", 11), 0);
    assert_int_equal(hmap_get(&m, "a100", &v), 0);
    assert_int_equal(v, 11);
    hmap_release(&m);
    hmap_release(&m);
}

static void test_hmap_copies_keys(void **state)
{
    struct hmap m;
    char key[16] = "gpu-uuid-1";
    uint32_t v = 0;

    (void)state;
    hmap_init(&m);
    assert_int_equal(hmap_put(&m, key, 41), 0);
    strcpy(key, "gpu-uuid-2");
    assert_int_equal(hmap_get(&m, "gpu-uuid-1", &v), 0);
    assert_int_equal(v, 41);
    assert_int_equal(hmap_get(&m, key, &v), ERR_NOTFOUND);
    assert_int_equal(hmap_put(&m, key, 42), 0);
    assert_int_equal(hmap_get(&m, "gpu-uuid-2", &v), 0);
    assert_int_equal(v, 42);
    hmap_release(&m);
}

static void test_hmap_growth(void **state)
{
    enum { N = 50000 };
    struct hmap m;
    char key[32];
    uint32_t v;

    (void)state;
    hmap_init(&m);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "key-%u", i);
        assert_int_equal(hmap_put(&m, key, i * 7 + 3), 0);
        assert_int_equal(m.count, i + 1);
        /* capacity is a power of two and the table stays at most three quarters full */
        assert_int_equal(m.capacity & (m.capacity - 1), 0);
        assert_true(m.count * 4 <= m.capacity * 3);
    }
    assert_int_equal(m.capacity, 131072);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "key-%u", i);
        v = 0xdeadbeef;
        if (hmap_get(&m, key, &v) != 0 || v != i * 7 + 3)
            fail_msg("%s -> %u, want %u", key, v, i * 7 + 3);
    }
    for (uint32_t i = 0; i < N; i += 97) {
        snprintf(key, sizeof(key), "key-%u", i);
        assert_int_equal(hmap_put(&m, key, 1), ERR_EXISTS);
    }
    assert_int_equal(m.count, N);
    for (uint32_t i = N; i < 2 * N; i++) {
        snprintf(key, sizeof(key), "key-%u", i);
        v = 0xdeadbeef;
        assert_int_equal(hmap_get(&m, key, &v), ERR_NOTFOUND);
        assert_int_equal(v, 0xdeadbeef);
    }
    assert_int_equal(hmap_get(&m, "key-", &v), ERR_NOTFOUND);
    assert_int_equal(hmap_get(&m, "key-00", &v), ERR_NOTFOUND);
    assert_int_equal(hmap_get(&m, "", &v), ERR_NOTFOUND);
    /* values survived growth unchanged after the duplicate attempts */
    assert_int_equal(hmap_get(&m, "key-0", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(hmap_get(&m, "key-49999", &v), 0);
    assert_int_equal(v, 49999u * 7 + 3);
    hmap_release(&m);
}

/* ---- err_name ------------------------------------------------------------------------- */

static void test_err_name(void **state)
{
    (void)state;
    assert_string_equal(err_name(ERR_OK), "ok");
    assert_string_equal(err_name(ERR_INVALID), "invalid");
    assert_string_equal(err_name(ERR_NOTFOUND), "not_found");
    assert_string_equal(err_name(ERR_CONFLICT), "conflict");
    assert_string_equal(err_name(ERR_NOCAPACITY), "no_capacity");
    assert_string_equal(err_name(ERR_FUNDS), "insufficient_funds");
    assert_string_equal(err_name(ERR_OVERFLOW), "overflow");
    assert_string_equal(err_name(ERR_NOMEM), "out_of_memory");
    assert_string_equal(err_name(ERR_IO), "io_error");
    assert_string_equal(err_name(ERR_EXISTS), "exists");
    assert_string_equal(err_name(1), "unknown");
    assert_string_equal(err_name(-10), "unknown");
    assert_string_equal(err_name(12345), "unknown");
    assert_string_equal(err_name(INT32_MIN), "unknown");
    /* the codes are the documented negative numbers */
    assert_int_equal(ERR_INVALID, -1);
    assert_int_equal(ERR_EXISTS, -9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format_exact),  cmocka_unit_test(test_time_parse_accepts),
        cmocka_unit_test(test_time_parse_rejects), cmocka_unit_test(test_time_calendar_walk),
        cmocka_unit_test(test_time_round_trip),    cmocka_unit_test(test_time_month_vectors),
        cmocka_unit_test(test_time_month_walk),    cmocka_unit_test(test_id_exact),
        cmocka_unit_test(test_id_round_trip),      cmocka_unit_test(test_id_distinct),
        cmocka_unit_test(test_id_every_character), cmocka_unit_test(test_id_rejects),
        cmocka_unit_test(test_hmap_basic),         cmocka_unit_test(test_hmap_copies_keys),
        cmocka_unit_test(test_hmap_growth),        cmocka_unit_test(test_err_name),
    };

    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
