/*
 * timeutil.h - time as int64 microseconds since the Unix epoch (UTC), and its text forms.
 *
 * Pure functions: nothing here reads the clock (the caller passes `now`). RFC 3339 is the
 * wire format ("2026-11-25T08:00:00Z"); calendar months are what budgets and invoices use.
 */
#ifndef GPURENT_TIMEUTIL_H
#define GPURENT_TIMEUTIL_H

#include "compat.h"

#define TIME_STR_MAX 48

/* Format t (µs) as RFC 3339 UTC with whole seconds ("2026-11-25T08:00:00Z"). Returns buf. */
char *time_format(char *buf, int64_t t);

/*
 * Parse RFC 3339 UTC: "YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+hh:mm|-hh:mm)", or a bare date
 * "YYYY-MM-DD" (midnight UTC). Returns 0 and sets *out, or ERR_INVALID.
 */
int time_parse(int64_t *out, const char *s);

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);

/* Month index (year * 12 + month - 1) of the calendar month containing t. */
int64_t time_month_index(int64_t t);

/* The first microsecond of a month index. */
int64_t time_month_start(int64_t month_index);

#endif
