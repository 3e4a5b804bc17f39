/*
 * fuzz_money.c - money on the wire and in arithmetic (engine/money.h).
 *
 * The input as text goes to money_parse: an accepted amount is within +-MONEY_MAX and
 * money_format writes it back as text that parses to the same amount (the wire form is
 * exact). Its first 16 bytes, read as two int64, check the arithmetic against 128-bit
 * reference results: add/sub/mul refuse exactly what leaves +-MONEY_MAX, and
 * money_affordable_us is money_prorate's inverse (the largest time the amount pays for).
 */
#include "common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "engine/money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int64_t a, int64_t b)
{
    fprintf(stderr, "fuzz_money: %s (a=%lld b=%lld)\n", what, (long long)a, (long long)b);
    abort();
}

static void check_text(const char *s)
{
    char buf[MONEY_STR_MAX];
    int64_t v = 0, w = 0;

    if (money_parse(&v, s) != 0)
        return;
    if (v > MONEY_MAX || v < -MONEY_MAX)
        fail("parse beyond MONEY_MAX", v, 0);
    money_format(buf, v);
    if (money_parse(&w, buf) != 0 || w != v)
        fail("format does not parse back", v, w);
}

static bool in_range(__int128 r)
{
    return r <= MONEY_MAX && r >= -MONEY_MAX;
}

static void check_arithmetic(int64_t a, int64_t b)
{
    char buf[MONEY_STR_MAX];
    int64_t r = 0, w = 0;

    if (a <= MONEY_MAX && a >= -MONEY_MAX && (money_parse(&w, money_format(buf, a)) != 0 || w != a))
        fail("format does not parse back", a, w);
    if ((money_add(&r, a, b) == 0) != in_range((__int128)a + b) ||
        (in_range((__int128)a + b) && r != a + b))
        fail("money_add", a, b);
    if ((money_sub(&r, a, b) == 0) != in_range((__int128)a - b) ||
        (in_range((__int128)a - b) && r != a - b))
        fail("money_sub", a, b);
    if ((money_mul(&r, a, b) == 0) != in_range((__int128)a * b) ||
        (in_range((__int128)a * b) && r != a * b))
        fail("money_mul", a, b);
    if (a > 0 && b >= 0 && a <= MONEY_MAX && b <= MONEY_MAX) {
        /* amounts and rates are money (at most MONEY_MAX): far from prorate's saturation */
        int64_t t = money_affordable_us(a, b);
        if (t < 0 || money_prorate(a, t) > b || (t < INT64_MAX && money_prorate(a, t + 1) <= b))
            fail("money_affordable_us is not the largest time the amount pays for", a, b);
    }
    if (a >= 0 && b >= 0) {
        __int128 exact = (__int128)a * b / USEC_PER_HOUR;
        int64_t p = money_prorate(a, b);
        if (p != (exact > INT64_MAX ? INT64_MAX : (int64_t)exact))
            fail("money_prorate", a, b);
    }
    if (a <= MONEY_MAX && a >= -MONEY_MAX) {
        uint32_t bp = (uint32_t)((uint64_t)b % 10001);
        __int128 p = (__int128)a * (10000 - bp), q = p / 10000;
        if (p % 10000 != 0 && p < 0)
            q -= 1;
        if (money_discount_bp(a, bp) != (int64_t)q)
            fail("money_discount_bp", a, (int64_t)bp);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_text(s);
    free(s);
    if (size >= 16) {
        int64_t a, b;
        memcpy(&a, data, 8);
        memcpy(&b, data + 8, 8);
        check_arithmetic(a, b);
    }
    return 0;
}
