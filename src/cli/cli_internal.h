/*
 * cli_internal.h - what the CLI's command files share: the command table's types, the
 * parsed command line, and helpers for requests, errors and output.
 *
 * Every command is a row {noun, verb, fn, summary, options...}; cli.c parses the command line
 * against the row (options are typed, so a bad amount or count is a usage error before
 * any request), builds the client, and calls fn. fn returns the exit status: 0, 1 when the
 * server or the connection failed (the message is on stderr), 2 for a usage error.
 */
#ifndef GPURENT_CLI_INTERNAL_H
#define GPURENT_CLI_INTERNAL_H

#include "../common/compat.h"

#include <jansson.h>
#include <stdio.h>

#include "../client/client.h"

#define CLI_EXIT_OK     0
#define CLI_EXIT_FAIL   1
#define CLI_EXIT_USAGE  2
#define CLI_OPTIONS_MAX 24
#define CLI_ARGS_MAX    4096 /* positional arguments (rentals stop ID...) */
#define CLI_PATH_MAX    1024
#define CLI_TEXT_MAX    128 /* a JSON scalar formatted for display (longer is cut) */

/* The type of an option's value; parsing checks it and reports a usage error. */
enum cli_opt_kind {
    OPT_FLAG,    /* present or not */
    OPT_TEXT,    /* any non-empty text */
    OPT_MONEY,   /* an amount: money_parse's grammar, >= 0 ("3", "3.00", "0.000001") */
    OPT_COUNT,   /* a whole number within [min, max] */
    OPT_NUMBER,  /* a decimal number (ratios, watts, years) within [min, max] */
    OPT_SECONDS, /* a duration: 90, 90s, 15m, 2h, 7d -> seconds */
    OPT_TIME,    /* RFC 3339 or YYYY-MM-DD, passed on as written */
    OPT_MULTI,   /* text, repeatable */
};

struct cli_option {
    const char *name; /* "--model" */
    enum cli_opt_kind kind;
    const char *meta; /* "MODEL": the value's name in the usage */
    const char *help; /* one line */
    double min, max;  /* OPT_COUNT and OPT_NUMBER bounds (both 0: any non-negative) */
};

/* A parsed option. */
struct cli_value {
    bool set;
    const char *text;  /* as written (borrowed from argv); the last one for OPT_MULTI */
    int64_t money;     /* OPT_MONEY: micro-units */
    uint64_t count;    /* OPT_COUNT */
    double number;     /* OPT_NUMBER */
    int64_t seconds;   /* OPT_SECONDS */
    const char **list; /* OPT_MULTI: every value in order (owned by struct cli) */
    size_t list_len;
};

struct cli;

struct cli_command {
    const char *noun;
    const char *verb; /* NULL: the noun alone is the command ("gpurent balance") */
    int (*fn)(struct cli *cli);
    const char *summary;              /* one line, for the noun's help */
    const char *args;                 /* positional synopsis ("RENTAL_ID"), or NULL */
    unsigned min_args, max_args;      /* how many positional arguments */
    const char *rest;                 /* "COMMAND [ARG...]" when `-- ...` is accepted */
    const struct cli_option *options; /* terminated by {NULL}; may be NULL */
    const char *details;              /* more text for --help, or NULL */
};

/* The command being run: its parsed line, its client, its last reply. */
struct cli {
    const struct cli_command *cmd;
    struct client *client;
    bool json;         /* --json: print the server's JSON */
    bool quiet;        /* -q: print only ids */
    const char **args; /* the positional arguments (owned array, borrowed strings) */
    unsigned nargs;
    char **rest; /* after `--`; borrowed from argv */
    int nrest;
    struct cli_value values[CLI_OPTIONS_MAX]; /* by the index of cmd->options */
    char *raw;                                /* owned: the last reply's text */
    bool api_key_set;
};

/* Each noun's rows, terminated by {NULL} (cmd_*.c). */
extern const struct cli_command cli_offers_commands[];
extern const struct cli_command cli_rentals_commands[];
extern const struct cli_command cli_balance_commands[];
extern const struct cli_command cli_usage_commands[];
extern const struct cli_command cli_quote_commands[];
extern const struct cli_command cli_invoice_commands[];
extern const struct cli_command cli_tenants_commands[];
extern const struct cli_command cli_credits_commands[];
extern const struct cli_command cli_prices_commands[];
extern const struct cli_command cli_hosts_commands[];
extern const struct cli_command cli_coupons_commands[];
extern const struct cli_command cli_economics_commands[];
extern const struct cli_command cli_whatif_commands[];
extern const struct cli_command cli_keys_commands[];

/* The value of an option of the running command (by name; it must be in its table). */
const struct cli_value *cli_opt(const struct cli *cli, const char *name);

/* A usage error: "gpurent: NOUN VERB: message" and the command's usage on stderr; 2. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Send a request (body borrowed, may be NULL) and parse the JSON reply into *reply (owned
 * by the caller; NULL when the body was empty). The reply's text is kept for
 * cli_print_raw. On failure prints "gpurent: MESSAGE" on stderr and returns 1; else 0.
 * idempotency_key may be NULL.
 */
int cli_call(struct cli *cli, const char *method, const char *path, const json_t *body,
             const char *idempotency_key, json_t **reply);
/* GET path and every further page (following next_cursor); *data is one array of all the
 * items (owned). Returns 0 or 1 like cli_call. With --json, only the first page is fetched
 * and *data is its "data". */
int cli_list(struct cli *cli, const char *path, json_t **data);
/* GET path (every page) and print one table row per item: heads (NULL-terminated, as
 * table_init takes them) over the items' fields, one field per head; -q prints the first
 * field only, --json the server's reply. Returns 0 or 1 like cli_call. */
int cli_list_table(struct cli *cli, const char *path, const char *const *heads,
                   const char *const *fields);
/* Print the last reply's text as the server sent it (for --json). Returns 0 or 1. */
int cli_print_raw(struct cli *cli);

/* path = prefix + escape(id) + suffix, in buf of CLI_PATH_MAX: 0, or a usage error (2). */
int cli_path(struct cli *cli, char *buf, const char *prefix, const char *id, const char *suffix);
/* Append "name=escape(value)" to a query string in buf (CLI_PATH_MAX), with '?' or '&'. */
int cli_query_add(struct cli *cli, char *buf, const char *name, const char *value);

/* A JSON value for display, written into buf (CLI_TEXT_MAX bytes): strings as they are,
 * integers, reals (%.4g), true/false as yes/no. Returns buf, or NULL for null, absent or
 * nested values (tables print "-"). */
const char *cli_text(const json_t *v, char *buf);
/* The display text of obj[key]. */
const char *cli_field(const json_t *obj, const char *key, char *buf);
/* seconds as "3h 05m", "2d 04h", "45s"; NULL for a non-number. */
const char *cli_duration(const json_t *v, char *buf);
/* A ratio (0.463) as a percentage ("46.3%"); NULL for a non-number. */
const char *cli_percent(const json_t *v, char *buf);

/* Money option values back to wire text: "3" -> "3.00". buf holds 32 bytes. */
const char *cli_money_text(int64_t v, char *buf);

/* A JSON number from a double: an integer when it is one, else a real. New reference. */
json_t *cli_json_number(double v);

/* A set option's value as the API takes it (new reference): money as a decimal string
 * ("3.00"), counts and durations (seconds) as integers, numbers as reals, text as strings,
 * flags as true. */
json_t *cli_opt_json(const struct cli *cli, const char *name);

#endif
