/*
 * table.h - the CLI's human output: aligned columns and key/value blocks.
 *
 * A table collects its rows first (cells are copied), then prints every column as wide as
 * its widest cell, two spaces apart; columns marked right-aligned suit money and counts.
 * A right-aligned column whose cells are all decimal numbers (or "-") is aligned on the
 * decimal point, as the API's money has 2 to 6 decimals ("182.40" over "0.07165 ").
 */
#ifndef GPURENT_CLI_TABLE_H
#define GPURENT_CLI_TABLE_H

#include "../common/compat.h"

#include <stdio.h>

#define TABLE_COLS_MAX 16

struct table {
    size_t cols;
    const char *heads[TABLE_COLS_MAX]; /* borrowed (string literals) */
    bool right[TABLE_COLS_MAX];        /* right-align this column */
    char **cells;                      /* owned; rows * cols strings, each owned */
    size_t rows, cap;
    bool oom; /* an allocation failed: table_print reports it */
};

/*
 * Start a table. heads is a NULL-terminated list of column titles; a title starting with
 * '>' is right-aligned (the '>' is not printed). At most TABLE_COLS_MAX columns.
 */
void table_init(struct table *t, const char *const *heads);
void table_release(struct table *t);

/* Append a row of t->cols cells (copied; NULL prints "-"). */
void table_add(struct table *t, const char *const *cells);

/* Print the heads and the rows: 0, or -1 when a row could not be stored (out of memory). */
int table_print(const struct table *t, FILE *f);

/* "  key:   value" lines for a record, keys padded to width. value NULL prints "-". */
void kv_print(FILE *f, int width, const char *key, const char *value);

#endif
