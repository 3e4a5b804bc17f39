/*
 * test_records.c - the API layer's telemetry records: the latest report of each GPU and its
 * bounded history (a ring of TELEMETRY_HISTORY reports), read by time window.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/api/records.h"

static struct gpu_telemetry sample(int64_t at)
{
    struct gpu_telemetry t = {.at = at, .has_util = true, .util_pct = (double)(at % 101)};

    return t;
}

static void test_latest_and_history(void **state)
{
    struct api_records *r;
    struct gpu_telemetry got, buf[TELEMETRY_HISTORY];
    (void)state;

    assert_int_equal(api_records_new(&r), 0);
    assert_false(api_telemetry_get(r, "GPU-A", &got));
    assert_int_equal(api_telemetry_history(r, "GPU-A", 0, INT64_MAX, buf, TELEMETRY_HISTORY), 0);
    for (int64_t i = 1; i <= 3; i++)
        assert_int_equal(api_telemetry_put(r, "GPU-A", &(struct gpu_telemetry){.at = i * 10}), 0);
    assert_int_equal(api_telemetry_put(r, "GPU-B", &(struct gpu_telemetry){.at = 99}), 0);
    assert_true(api_telemetry_get(r, "GPU-A", &got));
    assert_int_equal(got.at, 30);
    /* oldest first; the window's ends are included; other GPUs are apart */
    assert_int_equal(api_telemetry_history(r, "GPU-A", 0, INT64_MAX, buf, TELEMETRY_HISTORY), 3);
    assert_int_equal(buf[0].at, 10);
    assert_int_equal(buf[2].at, 30);
    assert_int_equal(api_telemetry_history(r, "GPU-A", 20, 30, buf, TELEMETRY_HISTORY), 2);
    assert_int_equal(buf[0].at, 20);
    assert_int_equal(api_telemetry_history(r, "GPU-A", 11, 19, buf, TELEMETRY_HISTORY), 0);
    assert_int_equal(api_telemetry_history(r, "GPU-B", 0, INT64_MAX, buf, TELEMETRY_HISTORY), 1);
    assert_int_equal(buf[0].at, 99);
    api_records_free(r);
}

static void test_ring_keeps_the_newest(void **state)
{
    struct api_records *r;
    struct gpu_telemetry buf[TELEMETRY_HISTORY];
    const int64_t n = TELEMETRY_HISTORY + 280;
    (void)state;

    assert_int_equal(api_records_new(&r), 0);
    for (int64_t i = 0; i < n; i++) {
        struct gpu_telemetry t = sample(i);
        assert_int_equal(api_telemetry_put(r, "GPU-A", &t), 0);
    }
    /* the oldest 280 were overwritten */
    assert_int_equal(api_telemetry_history(r, "GPU-A", 0, INT64_MAX, buf, TELEMETRY_HISTORY),
                     TELEMETRY_HISTORY);
    for (int64_t k = 0; k < TELEMETRY_HISTORY; k++) {
        assert_int_equal(buf[k].at, 280 + k);
        assert_true(buf[k].util_pct == (double)((280 + k) % 101));
    }
    /* a window inside the ring */
    assert_int_equal(api_telemetry_history(r, "GPU-A", 500, 600, buf, TELEMETRY_HISTORY), 101);
    assert_int_equal(buf[0].at, 500);
    assert_int_equal(buf[100].at, 600);
    /* a window older than the ring: forgotten */
    assert_int_equal(api_telemetry_history(r, "GPU-A", 0, 279, buf, TELEMETRY_HISTORY), 0);
    /* a small buffer gets the newest of the window, oldest first */
    assert_int_equal(api_telemetry_history(r, "GPU-A", 0, INT64_MAX, buf, 10), 10);
    for (int64_t k = 0; k < 10; k++)
        assert_int_equal(buf[k].at, n - 10 + k);
    api_records_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest_and_history),
        cmocka_unit_test(test_ring_keeps_the_newest),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
