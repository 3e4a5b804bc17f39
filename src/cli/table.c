/*
 * table.c - aligned columns for the CLI's human output.
 */
#include "../common/compat.h"

#include "table.h"

#include <stdlib.h>
#include <string.h>

void table_init(struct table *t, const char *const *heads)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; heads[i] != NULL && i < TABLE_COLS_MAX; i++) {
        const char *h = heads[i];

        t->right[i] = h[0] == '>';
        t->heads[i] = t->right[i] ? h + 1 : h;
        t->cols++;
    }
}

void table_release(struct table *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

void table_add(struct table *t, const char *const *cells)
{
    if (t->oom)
        return;
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, cap * t->cols * sizeof(*p));

        if (p == NULL) {
            t->oom = true;
            return;
        }
        t->cells = p;
        t->cap = cap;
    }
    for (size_t i = 0; i < t->cols; i++) {
        char *s = strdup(cells[i] ? cells[i] : "-");

        if (s == NULL) {
            for (size_t j = 0; j < i; j++)
                free(t->cells[t->rows * t->cols + j]);
            t->oom = true;
            return;
        }
        t->cells[t->rows * t->cols + i] = s;
    }
    t->rows++;
}

/* A plain decimal number ("-2.50", "182.40", "16"): its length from the '.' (0 without one),
 * or -1 for any other text. */
static int decimal_tail(const char *s)
{
    const char *dot = NULL, *p = s;

    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p; p++) {
        if (*p == '.' && dot == NULL && p[1] != '\0')
            dot = p;
        else if (*p < '0' || *p > '9')
            return -1;
    }
    return dot ? (int)(p - dot) : 0;
}

/* Right-aligned columns whose cells are all decimal numbers (or "-") are aligned on the
 * decimal point: tail[i] is the longest ".ddd" of column i, or -1 when it is not such a
 * column. */
static void decimal_tails(const struct table *t, int *tail)
{
    for (size_t i = 0; i < t->cols; i++) {
        tail[i] = t->right[i] ? 0 : -1;
        for (size_t r = 0; r < t->rows && tail[i] >= 0; r++) {
            const char *c = t->cells[r * t->cols + i];
            int n = decimal_tail(c);

            if (n < 0 && strcmp(c, "-") != 0)
                tail[i] = -1;
            else if (n > tail[i])
                tail[i] = n;
        }
    }
}

/* The spaces after a cell that line its decimal point up with the column's. */
static int cell_pad(const int *tail, size_t col, const char *cell)
{
    int n = tail[col] > 0 ? decimal_tail(cell) : -1;

    return n < 0 ? 0 : tail[col] - n;
}

static void print_row(const struct table *t, FILE *f, const size_t *width, const int *tail,
                      const char *const *cells, bool head)
{
    for (size_t i = 0; i < t->cols; i++) {
        bool last = i + 1 == t->cols;
        int w = (int)width[i], pad = head ? 0 : cell_pad(tail, i, cells[i]);

        if (t->right[i])
            fprintf(f, "%*s%*s", w - pad, cells[i], pad, "");
        else if (last)
            fputs(cells[i], f); /* no trailing spaces */
        else
            fprintf(f, "%-*s", w, cells[i]);
        fputs(last ? "\n" : "  ", f);
    }
}

int table_print(const struct table *t, FILE *f)
{
    size_t width[TABLE_COLS_MAX] = {0};
    int tail[TABLE_COLS_MAX];

    if (t->oom)
        return -1;
    decimal_tails(t, tail);
    for (size_t i = 0; i < t->cols; i++) {
        width[i] = strlen(t->heads[i]);
        for (size_t r = 0; r < t->rows; r++) {
            const char *c = t->cells[r * t->cols + i];
            size_t n = strlen(c) + (size_t)cell_pad(tail, i, c);

            if (n > width[i])
                width[i] = n;
        }
    }
    print_row(t, f, width, tail, t->heads, true);
    for (size_t r = 0; r < t->rows; r++)
        print_row(t, f, width, tail, (const char *const *)&t->cells[r * t->cols], false);
    return 0;
}

void kv_print(FILE *f, int width, const char *key, const char *value)
{
    fprintf(f, "%-*s %s\n", width, key, value ? value : "-");
}
