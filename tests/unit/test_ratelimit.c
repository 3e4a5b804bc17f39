/*
 * test_ratelimit.c - token buckets (src/server/ratelimit.c) on a clock the test supplies:
 * bursts, refills, Retry-After, isolation between callers, the bounded table, parsing.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/ratelimit.h"

#define SEC 1000000LL

static void test_burst_then_refused(void **state)
{
    struct rate_limiter l;
    int passed = 0;
    (void)state;

    rate_init(&l, (struct rate_config){5 * SEC, 10}, 0);
    for (int i = 0; i < 1000; i++)
        passed += rate_take(&l, "key_a", 1000) == 0;
    assert_int_equal(passed, 10); /* exactly the bucket, at one instant */
    /* one token comes back 200 ms later (5 a second): Retry-After rounds up to 1 s */
    assert_int_equal(rate_take(&l, "key_a", 1000), 1);
    assert_int_equal(rate_take(&l, "key_a", 1000 + 199999), 1);
    assert_int_equal(rate_take(&l, "key_a", 1000 + 200000), 0);
    assert_int_equal(rate_take(&l, "key_a", 1000 + 200000), 1);
    /* another caller has its own bucket */
    assert_int_equal(rate_take(&l, "key_b", 1000), 0);
    rate_release(&l);
}

static void test_refill_is_exact_and_capped(void **state)
{
    struct rate_limiter l;
    int passed = 0;
    (void)state;

    rate_init(&l, (struct rate_config){2 * SEC, 4}, 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rate_take(&l, "k", 0), 0);
    /* 1.5 s at 2 a second: 3 tokens */
    for (int i = 0; i < 10; i++)
        passed += rate_take(&l, "k", 1500000) == 0;
    assert_int_equal(passed, 3);
    /* an hour later: capped at the burst, 4 */
    passed = 0;
    for (int i = 0; i < 10; i++)
        passed += rate_take(&l, "k", 3600 * SEC) == 0;
    assert_int_equal(passed, 4);
    /* a clock that steps back refills nothing and takes nothing away */
    assert_int_equal(rate_take(&l, "k", 10), 1);
    rate_release(&l);
}

static void test_slow_rates_and_retry_after(void **state)
{
    struct rate_limiter l;
    (void)state;

    /* one token in 1000 s */
    rate_init(&l, (struct rate_config){1000, 1}, 0);
    assert_int_equal(rate_take(&l, "k", 0), 0);
    assert_int_equal(rate_take(&l, "k", 0), 1000);
    assert_int_equal(rate_take(&l, "k", 400 * SEC), 600);
    assert_int_equal(rate_take(&l, "k", 1000 * SEC), 0);
    rate_release(&l);
}

static void test_disabled(void **state)
{
    struct rate_limiter l;
    (void)state;

    rate_init(&l, (struct rate_config){0, 0}, 0);
    assert_false(rate_enabled(&l));
    for (int i = 0; i < 100000; i++)
        assert_int_equal(rate_take(&l, "k", 0), 0);
    rate_release(&l);
}

static void test_table_is_bounded(void **state)
{
    struct rate_limiter l;
    char name[32];
    (void)state;

    rate_init(&l, (struct rate_config){1 * SEC, 2}, 8);
    /* 8 callers mid-burst fill the table: a ninth is refused, not tracked */
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "ip:%d", i);
        assert_int_equal(rate_take(&l, name, 0), 0);
    }
    assert_int_equal(rate_take(&l, "ip:new", 0), 1);
    assert_int_equal(l.count, 8);
    /* once their buckets are full again they are forgotten, and the newcomer gets in */
    assert_int_equal(rate_take(&l, "ip:new", 5 * SEC), 0);
    assert_int_equal(l.count, 1);
    /* a forgotten caller starts full: nothing was lost by forgetting it */
    assert_int_equal(rate_take(&l, "ip:0", 5 * SEC), 0);
    assert_int_equal(rate_take(&l, "ip:0", 5 * SEC), 0);
    assert_int_equal(rate_take(&l, "ip:0", 5 * SEC), 1);
    rate_release(&l);
}

static void test_parse(void **state)
{
    struct rate_config c;
    (void)state;

    assert_int_equal(rate_parse("100:200", &c), 0);
    assert_true(c.rate_micro == 100 * SEC && c.burst == 200);
    assert_int_equal(rate_parse("10", &c), 0);
    assert_true(c.rate_micro == 10 * SEC && c.burst == 20);
    assert_int_equal(rate_parse("0.001:100", &c), 0);
    assert_true(c.rate_micro == 1000 && c.burst == 100);
    assert_int_equal(rate_parse("0.25", &c), 0);
    assert_true(c.rate_micro == 250000 && c.burst == 1);
    assert_int_equal(rate_parse("0", &c), 0);
    assert_true(c.rate_micro == 0 && c.burst == 0);
    const char *bad[] = {"",   ":",         "x",     "1:",      "1:0",       "-1", "1.",
                         ".5", "1.0000001", "1:2:3", "1000001", "5:1000001", " 5", "5 "};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        if (rate_parse(bad[i], &c) != ERR_INVALID)
            fail_msg("rate_parse(\"%s\") accepted", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_refill_is_exact_and_capped),
        cmocka_unit_test(test_slow_rates_and_retry_after),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_table_is_bounded),
        cmocka_unit_test(test_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
