#include "compat.h"

#include <stdio.h>
#include <string.h>

#include "err.h"
#include "timeutil.h"

#define USEC        INT64_C(1000000)
#define DAY_SECONDS INT64_C(86400)

int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil */
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

char *time_format(char *buf, int64_t t)
{
    int64_t secs = floor_div(t, USEC);
    int64_t days = floor_div(secs, DAY_SECONDS);
    int64_t rem = secs - days * DAY_SECONDS;
    int64_t y;
    unsigned m, d;

    civil_from_days(days, &y, &m, &d);
    snprintf(buf, TIME_STR_MAX, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    return buf;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ERR_INVALID;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int time_parse(int64_t *out, const char *s)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t len;
    const char *p;

    if (s == NULL)
        return ERR_INVALID;
    len = strlen(s);
    if (len < 10 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return ERR_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return ERR_INVALID;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return ERR_INVALID;
    p = s + 10;
    if (*p != '\0') {
        if ((*p != 'T' && *p != 't') || strlen(p) < 9 || digits(p + 1, 2, &h) || p[3] != ':' ||
            digits(p + 4, 2, &mi) || p[6] != ':' || digits(p + 7, 2, &sec))
            return ERR_INVALID;
        if (h > 23 || mi > 59 || sec > 59)
            return ERR_INVALID;
        p += 9;
        if (*p == '.') {
            int n = 0;
            p++;
            while (*p >= '0' && *p <= '9') {
                if (n < 6) {
                    frac = frac * 10 + (*p - '0');
                }
                n++;
                p++;
            }
            if (n == 0 || n > 9)
                return ERR_INVALID;
            for (; n < 6; n++)
                frac *= 10;
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om;
            if (strlen(p) != 6 || digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) ||
                oh > 23 || om > 59)
                return ERR_INVALID;
            off = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
            p += 6;
        } else {
            return ERR_INVALID;
        }
        if (*p != '\0')
            return ERR_INVALID;
    }
    *out = ((time_days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY_SECONDS + h * 3600 + mi * 60 +
             sec - off) *
            USEC) +
           frac;
    return 0;
}

int64_t time_month_index(int64_t t)
{
    int64_t y;
    unsigned m, d;

    civil_from_days(floor_div(floor_div(t, USEC), DAY_SECONDS), &y, &m, &d);
    return y * 12 + (m - 1);
}

int64_t time_month_start(int64_t month_index)
{
    int64_t y = floor_div(month_index, 12);
    unsigned m = (unsigned)(month_index - y * 12) + 1;

    return time_days_from_civil(y, m, 1) * DAY_SECONDS * USEC;
}
