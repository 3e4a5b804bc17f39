/*
 * replay_main.c - the main of a fuzz target in the ordinary test suite (no libFuzzer):
 * feed LLVMFuzzerTestOneInput every file of the given directories (or the given files), in
 * name order, so that every seed and every past crash input runs in each build, sanitized
 * builds included.
 *
 *   replay CORPUS_DIR [MORE_DIR_OR_FILE...]
 *
 * The first directory must exist and hold at least one input (a replay of nothing would
 * pass without testing anything); the others may be missing or empty (regressions/<target>
 * appears with its first crash). A crash or a sanitizer report fails the run; the name of
 * the input is printed before it runs.
 */
#include "common/compat.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (1u << 20)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf;
    size_t n;

    if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size > INPUT_MAX) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    /* exactly the input's size, so that a read past its end is caught as under libFuzzer */
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Run every regular file of dir: the count, or -1. */
static int run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name), count = 0;

    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) < 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    int total = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [DIR_OR_FILE...]\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n;

        if (stat(argv[i], &st) != 0) {
            if (i == 1) {
                fprintf(stderr, "replay: no corpus %s\n", argv[i]);
                return 1;
            }
            continue;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) == 0 ? 1 : -1;
        if (n < 0 || (i == 1 && n == 0)) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], n < 0 ? "unreadable" : "empty");
            return 1;
        }
        total += n;
    }
    printf("replay: %d inputs, no failure\n", total);
    return 0;
}
