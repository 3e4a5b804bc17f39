/*
 * fuzz_time.c - RFC 3339 times (common/timeutil.h), as every `from`, `to`, `valid_until`
 * and `purchased_at` of the API and the scenario files reads them.
 *
 * An accepted text gives a time that time_format writes back as text that parses to the
 * same second (time_format drops the fraction), and whose calendar month holds it. The
 * first 8 bytes, read as an int64 time within years 1..9998, check the same round trip from
 * the other side.
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

#define USEC INT64_C(1000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *text, int64_t t)
{
    fprintf(stderr, "fuzz_time: %s: \"%s\" (%lld)\n", what, text, (long long)t);
    abort();
}

static int64_t floor_second(int64_t t)
{
    return t / USEC * USEC - (t % USEC < 0 ? USEC : 0);
}

static void check_time(int64_t t, const char *from)
{
    char buf[TIME_STR_MAX];
    int64_t back = 0, month;

    time_format(buf, t);
    if (time_parse(&back, buf) != 0 || back != floor_second(t))
        fail("time_format does not parse back", from, t);
    month = time_month_index(t);
    if (time_month_start(month) > t || time_month_start(month + 1) <= t)
        fail("the month does not hold the time", from, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 0001-01-01 and 9998-12-31: formats with 4-digit years either side of any offset */
    const int64_t lo = (time_days_from_civil(1, 1, 1) + 1) * 86400 * USEC;
    const int64_t hi = time_days_from_civil(9998, 12, 31) * 86400 * USEC;
    char *s = malloc(size + 1);
    int64_t t = 0;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (time_parse(&t, s) == 0 && t >= lo && t <= hi)
        check_time(t, s);
    free(s);
    if (size >= 8) {
        memcpy(&t, data, 8);
        if (t >= lo && t <= hi)
            check_time(t, "(binary)");
    }
    return 0;
}
