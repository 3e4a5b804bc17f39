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

static void print_row(const struct table *t, FILE *f, const size_t *width, const char *const *cells)
{
    for (size_t i = 0; i < t->cols; i++) {
        bool last = i + 1 == t->cols;
        int w = (int)width[i];

        if (t->right[i])
            fprintf(f, "%*s", w, cells[i]);
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

    if (t->oom)
        return -1;
    for (size_t i = 0; i < t->cols; i++) {
        width[i] = strlen(t->heads[i]);
        for (size_t r = 0; r < t->rows; r++) {
            size_t n = strlen(t->cells[r * t->cols + i]);

            if (n > width[i])
                width[i] = n;
        }
    }
    print_row(t, f, width, t->heads);
    for (size_t r = 0; r < t->rows; r++)
        print_row(t, f, width, (const char *const *)&t->cells[r * t->cols]);
    return 0;
}

void kv_print(FILE *f, int width, const char *key, const char *value)
{
    fprintf(f, "%-*s %s\n", width, key, value ? value : "-");
}
