#include "../common/compat.h"

#include <string.h>

#include "../common/err.h"
#include "money.h"

int money_parse(int64_t *out, const char *s)
{
    const char *p = s;
    bool negative = false;
    int64_t whole = 0;
    int64_t frac = 0;
    int frac_digits = 0;
    int int_digits = 0;

    if (s == NULL)
        return ERR_INVALID;
    if (*p == '-') {
        negative = true;
        p++;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > MONEY_MAX / MONEY_UNIT)
            return ERR_OVERFLOW;
        whole = whole * 10 + (*p - '0');
        int_digits++;
    }
    if (int_digits == 0)
        return ERR_INVALID;
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (++frac_digits > 6)
                return ERR_INVALID;
            frac = frac * 10 + (*p - '0');
        }
        if (frac_digits == 0)
            return ERR_INVALID;
    }
    if (*p != '\0')
        return ERR_INVALID;
    for (int i = frac_digits; i < 6; i++)
        frac *= 10;
    if (whole > (MONEY_MAX - frac) / MONEY_UNIT)
        return ERR_OVERFLOW;
    *out = negative ? -(whole * MONEY_UNIT + frac) : whole * MONEY_UNIT + frac;
    return 0;
}

char *money_format(char *buf, int64_t v)
{
    char digits[8];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t whole = mag / (uint64_t)MONEY_UNIT;
    uint64_t frac = mag % (uint64_t)MONEY_UNIT;
    int len = 6;
    char *p = buf;

    for (int i = 5; i >= 0; i--) {
        digits[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    while (len > 2 && digits[len - 1] == '0')
        len--;
    digits[len] = '\0';
    if (v < 0)
        *p++ = '-';
    /* 20 digits of uint64 + '.' + 6 + sign + NUL fit in MONEY_STR_MAX */
    {
        char tmp[24];
        int n = 0;
        do {
            tmp[n++] = (char)('0' + whole % 10);
            whole /= 10;
        } while (whole > 0);
        while (n > 0)
            *p++ = tmp[--n];
    }
    *p++ = '.';
    memcpy(p, digits, (size_t)len + 1);
    return buf;
}

int money_add(int64_t *out, int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_add_overflow(a, b, &r) || r > MONEY_MAX || r < -MONEY_MAX)
        return ERR_OVERFLOW;
    *out = r;
    return 0;
}

int money_sub(int64_t *out, int64_t a, int64_t b)
{
    int64_t r;

    if (__builtin_sub_overflow(a, b, &r) || r > MONEY_MAX || r < -MONEY_MAX)
        return ERR_OVERFLOW;
    *out = r;
    return 0;
}

int money_mul(int64_t *out, int64_t a, int64_t n)
{
    int64_t r;

    if (__builtin_mul_overflow(a, n, &r) || r > MONEY_MAX || r < -MONEY_MAX)
        return ERR_OVERFLOW;
    *out = r;
    return 0;
}

int64_t money_prorate(int64_t rate_per_hour, int64_t elapsed_us)
{
    __int128 r;

    if (rate_per_hour <= 0 || elapsed_us <= 0)
        return 0;
    r = (__int128)rate_per_hour * elapsed_us / USEC_PER_HOUR;
    return r > INT64_MAX ? INT64_MAX : (int64_t)r; /* saturate; callers' amounts stay far below */
}

int64_t money_affordable_us(int64_t rate_per_hour, int64_t amount)
{
    /* largest t with rate*t/H < amount+1, i.e. rate*t <= (amount+1)*H - 1 */
    __int128 limit = ((__int128)amount + 1) * USEC_PER_HOUR - 1;
    __int128 t;

    if (amount < 0)
        return 0;
    t = limit / rate_per_hour;
    /* a tiny rate against a large amount affords more than int64 holds: saturate, not wrap */
    return t > INT64_MAX ? INT64_MAX : (int64_t)t;
}

int64_t money_scale(int64_t amount, int64_t num, int64_t den)
{
    __int128 p = (__int128)amount * num;
    __int128 q = p / den;

    if (p % den != 0 && (p < 0) != (den < 0))
        q -= 1; /* floor, not truncation, for negative amounts */
    return (int64_t)q;
}

int64_t money_discount_bp(int64_t amount, uint32_t bp)
{
    if (bp >= 10000)
        return 0;
    return money_scale(amount, 10000 - (int64_t)bp, 10000);
}
