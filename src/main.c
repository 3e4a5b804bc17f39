/*
 * main.c - the `gpurent` binary: one dispatch table of subcommands.
 *
 * Exit status: 0 success, 1 the command failed (a bad scenario, an engine error), 2 a usage
 * error (unknown subcommand or option, a missing or malformed argument).
 */
#include "common/compat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "sim/report.h"
#include "sim/scenario.h"
#include "demo.h"
#include "server/server.h"
#include "sim/sim.h"

#ifndef GPURENT_VERSION
#define GPURENT_VERSION "0.1.0"
#endif

#define EXIT_USAGE 2

struct subcommand {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the subcommand's name */
    const char *help;                 /* one line for `gpurent help` */
    const char *usage;                /* the full usage, for `gpurent help NAME`; NULL for
                                         the CLI nouns, whose help cli_help prints */
};

static int cmd_simulate(int argc, char **argv);
static int cmd_serve(int argc, char **argv);
static int cmd_agent(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct subcommand subcommands[] = {
    {"simulate", cmd_simulate, "run the engine on a virtual clock: fleet + prices + demand",
     "usage: gpurent simulate SCENARIO_DIR [--days N] [--seed S] [--json] [--timing]\n"
     "\n"
     "Run the platform's engine on a virtual clock over a scenario directory (fleet.json,\n"
     "prices.json, demand.csv or demand.json, optional scenario.json) and print the\n"
     "business report: utilization, revenue, realized price, margin, payback, queueing.\n"
     "\n"
     "  --days N    simulate N days (1-3660) instead of the scenario's\n"
     "  --seed S    seed the demand generator with S (0-9223372036854775807)\n"
     "  --json      print the report as one JSON object\n"
     "  --timing    print the wall-clock time taken to stderr\n"
     "\n"
     "The formats are in docs/simulator.md.\n"},
    {"serve", cmd_serve, "run the control plane: REST API, store, scheduler, billing",
     "usage: gpurent serve [--listen ADDR:PORT] [--data-dir DIR] [--demo] [options]\n"
     "\n"
     "Run `gpurent serve --help` for every option.\n"},
    {"agent", cmd_agent, "run the host agent on a GPU server: register, heartbeat, run workloads",
     "usage: gpurent agent --server URL --join-token T [--data-dir D] [options]\n"
     "\n"
     "Run `gpurent agent --help` for every option.\n"},
    /* the CLI client's nouns (src/cli/): each is `gpurent NOUN [VERB] [options]` */
    {"offers", cli_main, "what can be rented now, and at what price", NULL},
    {"rentals", cli_main, "rent GPUs; list, show and stop rentals; quotes", NULL},
    {"balance", cli_main, "your balance, burn rate and runway", NULL},
    {"quote", cli_main, "the exact price of a rental before creating it", NULL},
    {"usage", cli_main, "your line items for a period", NULL},
    {"invoice", cli_main, "your invoice for a calendar month", NULL},
    {"tenants", cli_main, "(admin) create, list and change tenants", NULL},
    {"keys", cli_main, "list, create, revoke and rotate API keys", NULL},
    {"credits", cli_main, "(admin) top up a tenant's balance", NULL},
    {"prices", cli_main, "(admin) set and list prices", NULL},
    {"hosts", cli_main, "(admin) list, drain and undrain hosts; cost bases; join tokens", NULL},
    {"coupons", cli_main, "(admin) create and list coupons", NULL},
    {"economics", cli_main, "(admin) utilization, revenue, margin, payback", NULL},
    {"whatif", cli_main, "(admin) the business case of one GPU, by hand", NULL},
    {"help", cmd_help, "show this help, or a subcommand's: gpurent help simulate",
     "usage: gpurent help [SUBCOMMAND]\n"},
    {"version", cmd_version, "print the version", "usage: gpurent version\n"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: gpurent <subcommand> [options]\n\nsubcommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].help);
    fprintf(f, "\nRun 'gpurent help SUBCOMMAND' for a subcommand's options.\n");
}

static const struct subcommand *find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(subcommands); i++) {
        if (strcmp(subcommands[i].name, name) == 0)
            return &subcommands[i];
    }
    return NULL;
}

static int usage_error(const struct subcommand *sc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `gpurent: NAME: message` and the subcommand's usage on stderr; the usage exit status. */
static int usage_error(const struct subcommand *sc, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "gpurent: %s: ", sc->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", sc->usage);
    return EXIT_USAGE;
}

/* Digits only, no sign, within [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s == NULL || *s == '\0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* `--name VALUE` or `--name=VALUE`: the value, advancing *i; NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static bool is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);

    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int cmd_simulate(int argc, char **argv)
{
    const struct subcommand *self = find("simulate");
    struct sim_options opt = {0};
    struct scenario sc;
    struct report rep;
    struct timespec t0;
    const char *dir = NULL;
    bool json = false, timing = false;
    char err[SCENARIO_ERR_MAX + 256];
    double load_s;
    int rc, status = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(self->usage, stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--timing") == 0) {
            timing = true;
        } else if (is_option(a, "--days")) {
            const char *val = option_value(argc, argv, &i, "--days");

            if (val == NULL)
                return usage_error(self, "%s needs a value", "--days");
            if (parse_u64(val, 1, SCENARIO_MAX_DAYS, &v) != 0)
                return usage_error(self,
                                   "--days: expected a whole number of days from 1 to "
                                   "3660, got '%s'",
                                   val);
            opt.days = (uint32_t)v;
        } else if (is_option(a, "--seed")) {
            const char *val = option_value(argc, argv, &i, "--seed");

            if (val == NULL)
                return usage_error(self, "%s needs a value", "--seed");
            if (parse_u64(val, 0, INT64_MAX, &v) != 0)
                return usage_error(self, "--seed: expected a non-negative integer, got '%s'", val);
            opt.has_seed = true;
            opt.seed = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error(self, "unknown option '%s'", a);
        } else if (dir != NULL) {
            return usage_error(self, "unexpected argument '%s' (one SCENARIO_DIR only)", a);
        } else {
            dir = a;
        }
    }
    if (dir == NULL)
        return usage_error(self, "missing SCENARIO_DIR");

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = scenario_load(&sc, dir, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "gpurent: %s\n", err);
        return 1;
    }
    load_s = seconds_since(&t0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = sim_run(&sc, &opt, &rep, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "gpurent: %s: %s\n", dir, err);
        scenario_release(&sc);
        return 1;
    }
    if (timing)
        fprintf(stderr,
                "gpurent: simulate: loaded in %.3f s, ran in %.3f s (%llu commands, %llu "
                "events)\n",
                load_s, seconds_since(&t0), (unsigned long long)rep.commands,
                (unsigned long long)rep.events);
    rc = json ? report_write_json(stdout, &rep) : report_write_text(stdout, &rep);
    if (rc != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "gpurent: cannot write the report: %s\n", strerror(errno));
        status = 1;
    }
    report_release(&rep);
    scenario_release(&sc);
    return status;
}

static int cmd_help(int argc, char **argv)
{
    const struct subcommand *sc;

    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "routes") == 0) /* not in the help: for tests and tools */
        return serve_routes_main(argc - 1, argv + 1);
    sc = find(argv[1]);
    if (sc == NULL) {
        fprintf(stderr, "gpurent: help: unknown subcommand '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (sc->usage == NULL)
        return cli_help(stdout, sc->name);
    fputs(sc->usage, stdout);
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("gpurent %s\n", GPURENT_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    const struct subcommand *sc;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(1, argv + 1);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    if (strcmp(argv[1], "routes") == 0) /* not in the help: for tests and tools */
        return serve_routes_main(argc - 1, argv + 1);
    sc = find(argv[1]);
    if (sc == NULL) {
        fprintf(stderr, "gpurent: unknown subcommand '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    return sc->fn(argc - 1, argv + 1);
}

/* `gpurent serve`: the server, with the demo fleet wired in from here (above the server). */
static int cmd_serve(int argc, char **argv)
{
    static const struct serve_hooks hooks = {demo_start, demo_stop};

    return serve_main(argc, argv, &hooks);
}

/* `gpurent agent`: the host agent (src/agent/). */
static int cmd_agent(int argc, char **argv)
{
    return agent_main(argc, argv);
}
