/*
 * money.h - exact money: int64 micro-units of the platform currency.
 *
 * 1 unit of currency = 1,000,000 micro-units. No floating point ever touches money.
 * On the wire money is a decimal string ("15.10", up to 6 decimals); money_parse accepts
 * exactly that grammar and money_format writes it back.
 *
 * Charges are computed by money_prorate, the single rule that quotes and bills share:
 * floor(rate_per_hour * elapsed / 1 hour), with elapsed in microseconds.
 */
#ifndef GPURENT_MONEY_H
#define GPURENT_MONEY_H

#include "../common/compat.h"

#define MONEY_UNIT    INT64_C(1000000)    /* micro-units per currency unit */
#define USEC_PER_SEC  INT64_C(1000000)    /* time is int64 microseconds */
#define USEC_PER_HOUR INT64_C(3600000000) /* microseconds in an hour */
#define MONEY_MAX     (INT64_C(1) << 62)  /* upper bound for any single amount */

/*
 * Parse a decimal string into micro-units. Grammar: optional '-', one or more digits,
 * optionally '.' and 1 to 6 digits. Nothing else (no '+', exponent, spaces, leading '.').
 * Returns 0 and sets *out, or ERR_INVALID (bad grammar, more than 6 decimals) or
 * ERR_OVERFLOW (magnitude above MONEY_MAX). *out is untouched on error.
 */
int money_parse(int64_t *out, const char *s);

/*
 * Write v as a decimal string with at least 2 decimals and no trailing zeros beyond
 * them: 7600000 -> "7.60", 2111 -> "0.002111", -1500000 -> "-1.50".
 * buf must hold MONEY_STR_MAX bytes. Returns buf.
 */
#define MONEY_STR_MAX 32
char *money_format(char *buf, int64_t v);

/* Checked arithmetic: 0 and *out set, or ERR_OVERFLOW (result beyond +-MONEY_MAX). */
int money_add(int64_t *out, int64_t a, int64_t b);
int money_sub(int64_t *out, int64_t a, int64_t b);
/* a * n for a count n (GPUs, terms); ERR_OVERFLOW when beyond MONEY_MAX. */
int money_mul(int64_t *out, int64_t a, int64_t n);

/*
 * The charge for running at rate_per_hour (micro-units per hour, >= 0) for elapsed_us
 * microseconds (>= 0): floor(rate_per_hour * elapsed_us / USEC_PER_HOUR), computed in
 * 128-bit; a result beyond int64 saturates at INT64_MAX (no real rate and time get there).
 */
int64_t money_prorate(int64_t rate_per_hour, int64_t elapsed_us);

/*
 * The inverse of money_prorate: the largest elapsed_us such that
 * money_prorate(rate_per_hour, elapsed_us) <= amount. rate_per_hour must be > 0,
 * amount >= 0. Saturates at INT64_MAX when the amount lasts longer than int64 can count.
 * Used to end a rental exactly when its funds run out.
 */
int64_t money_affordable_us(int64_t rate_per_hour, int64_t amount);

/*
 * floor(amount * num / den) in 128-bit, for pro-rata splits (den > 0, result must fit).
 */
int64_t money_scale(int64_t amount, int64_t num, int64_t den);

/* Apply a discount in basis points (0..10000): floor(amount * (10000 - bp) / 10000). */
int64_t money_discount_bp(int64_t amount, uint32_t bp);

#endif
