/*
 * cli.c - the CLI's noun table, its command-line parser and the helpers its commands share.
 */
#include "../common/compat.h"

#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/timeutil.h"
#include "../engine/money.h"
#include "cli_internal.h"
#include "table.h"

#define LIST_PAGES_MAX 1000 /* a list longer than this many pages is cut (and said so) */

struct cli_noun {
    const char *name;
    const struct cli_command *commands; /* terminated by {NULL} */
    const char *summary;
};

static const struct cli_noun nouns[] = {
    {"offers", cli_offers_commands, "what can be rented now, and at what price"},
    {"rentals", cli_rentals_commands, "rent GPUs, list, show and stop rentals, get quotes"},
    {"balance", cli_balance_commands, "the tenant's balance, burn rate and runway"},
    {"quote", cli_quote_commands, "the exact price of a rental before creating it"},
    {"usage", cli_usage_commands, "the tenant's line items for a period"},
    {"invoice", cli_invoice_commands, "the tenant's invoice for a calendar month"},
    {"tenants", cli_tenants_commands, "(admin) create, list and change tenants"},
    {"keys", cli_keys_commands, "list, create, revoke and rotate API keys"},
    {"credits", cli_credits_commands, "(admin) top up a tenant's prepaid balance"},
    {"prices", cli_prices_commands, "(admin) set and list the price list"},
    {"hosts", cli_hosts_commands, "(admin) list, drain and undrain hosts, their cost, join tokens"},
    {"coupons", cli_coupons_commands, "(admin) create and list coupons"},
    {"economics", cli_economics_commands, "(admin) utilization, revenue, margin and payback"},
    {"whatif", cli_whatif_commands, "(admin) the business case of one GPU, by hand"},
};

static const char global_help[] =
    "global options:\n"
    "  --url URL                the server (default: $GPURENT_URL, else " CLIENT_DEFAULT_URL ")\n"
    "  --key KEY                the API key (default: $GPURENT_API_KEY)\n"
    "  --json                   print the server's JSON reply instead of a table\n"
    "  -q, --quiet              print only the ids of what was created or listed\n"
    "  --timeout SECONDS        give up on a request after SECONDS (default 30)\n"
    "  -h, --help               this help\n";

static const struct cli_noun *find_noun(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(nouns); i++) {
        if (strcmp(nouns[i].name, name) == 0)
            return &nouns[i];
    }
    return NULL;
}

bool cli_is_noun(const char *name)
{
    return find_noun(name) != NULL;
}

static bool single_command(const struct cli_noun *n)
{
    return n->commands[0].verb == NULL;
}

static void command_name(const struct cli_command *cmd, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", cmd->noun, cmd->verb ? " " : "", cmd->verb ? cmd->verb : "");
}

/* "usage: gpurent rentals stop RENTAL_ID... [options]" */
static void print_synopsis(FILE *f, const struct cli_command *cmd)
{
    char name[64];

    command_name(cmd, name, sizeof(name));
    fprintf(f, "usage: gpurent %s", name);
    if (cmd->args != NULL)
        fprintf(f, " %s", cmd->args);
    fprintf(f, " [options]");
    if (cmd->rest != NULL)
        fprintf(f, " [-- %s]", cmd->rest);
    fprintf(f, "\n");
}

static void print_usage(FILE *f, const struct cli_command *cmd)
{
    print_synopsis(f, cmd);
    fprintf(f, "\n%s\n", cmd->summary);
    if (cmd->options != NULL && cmd->options[0].name != NULL) {
        fprintf(f, "\noptions:\n");
        for (const struct cli_option *o = cmd->options; o->name != NULL; o++) {
            char left[64];

            snprintf(left, sizeof(left), "%s%s%s", o->name, o->kind == OPT_FLAG ? "" : " ",
                     o->kind == OPT_FLAG ? "" : o->meta);
            fprintf(f, "  %-24s %s\n", left, o->help);
        }
    }
    if (cmd->details != NULL)
        fprintf(f, "\n%s", cmd->details);
    fprintf(f, "\n%s", global_help);
}

static void print_noun_help(FILE *f, const struct cli_noun *n)
{
    if (single_command(n)) {
        print_usage(f, &n->commands[0]);
        return;
    }
    fprintf(f, "usage: gpurent %s <verb> [options]\n\n%s\n\nverbs:\n", n->name, n->summary);
    for (const struct cli_command *c = n->commands; c->noun != NULL; c++)
        fprintf(f, "  %-10s %s\n", c->verb, c->summary);
    fprintf(f, "\nRun 'gpurent %s VERB --help' for a verb's options.\n", n->name);
}

int cli_help(FILE *f, const char *noun)
{
    const struct cli_noun *n = find_noun(noun);

    if (n == NULL)
        return CLI_EXIT_USAGE;
    print_noun_help(f, n);
    return 0;
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
    char name[64];
    va_list ap;

    command_name(cli->cmd, name, sizeof(name));
    fprintf(stderr, "gpurent: %s: ", name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    print_synopsis(stderr, cli->cmd);
    fprintf(stderr, "Run 'gpurent %s --help' for the options.\n", name);
    return CLI_EXIT_USAGE;
}

static size_t option_index(const struct cli *cli, const char *name)
{
    const struct cli_option *o = cli->cmd->options;

    for (size_t i = 0; o != NULL && o[i].name != NULL; i++) {
        if (strcmp(o[i].name, name) == 0)
            return i;
    }
    fprintf(stderr, "gpurent: internal error: option %s is not in the table\n", name);
    abort();
}

const struct cli_value *cli_opt(const struct cli *cli, const char *name)
{
    return &cli->values[option_index(cli, name)];
}

json_t *cli_opt_json(const struct cli *cli, const char *name)
{
    size_t i = option_index(cli, name);
    const struct cli_value *v = &cli->values[i];
    char m[MONEY_STR_MAX];

    switch (cli->cmd->options[i].kind) {
    case OPT_MONEY:
        return json_string(money_format(m, v->money));
    case OPT_COUNT:
        return json_integer((json_int_t)v->count);
    case OPT_SECONDS:
        return json_integer(v->seconds);
    case OPT_NUMBER:
        return json_real(v->number);
    case OPT_FLAG:
        return json_true();
    case OPT_TEXT:
    case OPT_TIME:
    case OPT_MULTI:
        break;
    }
    return json_string(v->text);
}

/* Digits only, no sign. */
static int parse_digits(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* 90, 90s, 15m, 2h, 7d -> seconds (> 0). */
static int parse_seconds(const char *s, int64_t *out)
{
    char digits[24];
    size_t n = strlen(s);
    uint64_t v, unit = 1;

    if (n == 0 || n >= sizeof(digits))
        return -1;
    memcpy(digits, s, n + 1);
    switch (digits[n - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        unit = 0;
    }
    if (unit != 0)
        digits[n - 1] = '\0';
    else
        unit = 1;
    if (parse_digits(digits, &v) != 0 || v == 0 || v > (uint64_t)INT32_MAX * 100 / unit)
        return -1;
    *out = (int64_t)(v * unit);
    return 0;
}

static int parse_value(struct cli *cli, const struct cli_option *o, struct cli_value *v,
                       const char *text)
{
    char *end;

    if (*text == '\0' && o->kind != OPT_FLAG)
        return cli_usage_error(cli, "%s: the value is empty", o->name);
    v->text = text;
    switch (o->kind) {
    case OPT_FLAG:
    case OPT_TEXT:
    case OPT_MULTI:
        break;
    case OPT_MONEY:
        if (money_parse(&v->money, text) != 0 || v->money < 0)
            return cli_usage_error(cli, "%s: expected an amount like 3.00, got '%s'", o->name,
                                   text);
        break;
    case OPT_COUNT:
        if (parse_digits(text, &v->count) != 0 || (double)v->count < o->min ||
            (o->max > 0 && (double)v->count > o->max))
            return cli_usage_error(cli, "%s: expected a whole number from %.0f to %.0f, got '%s'",
                                   o->name, o->min, o->max > 0 ? o->max : (double)UINT32_MAX, text);
        break;
    case OPT_NUMBER:
        errno = 0;
        v->number = strtod(text, &end);
        if (errno != 0 || *end != '\0' || end == text || !isfinite(v->number) ||
            v->number < o->min || (o->max > 0 && v->number > o->max))
            return cli_usage_error(cli, "%s: expected a number from %g to %g, got '%s'", o->name,
                                   o->min, o->max > 0 ? o->max : 1e15, text);
        break;
    case OPT_SECONDS:
        if (parse_seconds(text, &v->seconds) != 0)
            return cli_usage_error(
                cli, "%s: expected a duration like 3600, 90s, 15m, 2h or 7d, got '%s'", o->name,
                text);
        break;
    case OPT_TIME: {
        int64_t t;

        if (time_parse(&t, text) != 0)
            return cli_usage_error(cli,
                                   "%s: expected a date (2026-11-01) or an RFC 3339 time, got '%s'",
                                   o->name, text);
        break;
    }
    }
    if (o->kind == OPT_MULTI) {
        const char **l = realloc(v->list, (v->list_len + 1) * sizeof(*l));

        if (l == NULL) {
            fprintf(stderr, "gpurent: out of memory\n");
            return CLI_EXIT_FAIL;
        }
        l[v->list_len++] = text;
        v->list = l;
    }
    v->set = true;
    return 0;
}

/* `--name VALUE` or `--name=VALUE` at argv[*i]: 1 when it is this option (value in *val,
 * NULL when missing), else 0. */
static int match_option(int argc, char **argv, int *i, const char *name, bool takes_value,
                        const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];

    *val = NULL;
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = takes_value ? a + n + 1 : NULL;
        return takes_value ? 1 : 0;
    }
    if (a[n] != '\0')
        return 0;
    if (takes_value && *i + 1 < argc)
        *val = argv[++*i];
    return 1;
}

/* The parsed line into cli; 0, or an exit status (help printed: -1 for "exit 0"). */
static int parse_line(struct cli *cli, int argc, char **argv, int first, const char **url,
                      const char **key, long *timeout_ms)
{
    const struct cli_option *opts = cli->cmd->options;

    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *val;
        bool matched = false;
        int rc;

        if (strcmp(a, "--") == 0) {
            if (cli->cmd->rest == NULL)
                return cli_usage_error(cli, "unexpected '--': this command runs nothing");
            cli->rest = argv + i + 1;
            cli->nrest = argc - i - 1;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout, cli->cmd);
            return -1;
        }
        if (strcmp(a, "--json") == 0) {
            cli->json = true;
            continue;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            cli->quiet = true;
            continue;
        }
        if (match_option(argc, argv, &i, "--url", true, &val)) {
            if (val == NULL || *val == '\0')
                return cli_usage_error(cli, "--url needs a value");
            *url = val;
            continue;
        }
        if (match_option(argc, argv, &i, "--key", true, &val)) {
            if (val == NULL)
                return cli_usage_error(cli, "--key needs a value");
            *key = val;
            continue;
        }
        if (match_option(argc, argv, &i, "--timeout", true, &val)) {
            int64_t s;

            if (val == NULL || parse_seconds(val, &s) != 0 || s > 3600)
                return cli_usage_error(cli, "--timeout: expected 1 to 3600 seconds");
            *timeout_ms = (long)s * 1000;
            continue;
        }
        for (size_t k = 0; opts != NULL && opts[k].name != NULL; k++) {
            bool takes = opts[k].kind != OPT_FLAG;

            if (!match_option(argc, argv, &i, opts[k].name, takes, &val))
                continue;
            if (takes && val == NULL)
                return cli_usage_error(cli, "%s needs a value (%s)", opts[k].name, opts[k].meta);
            rc = parse_value(cli, &opts[k], &cli->values[k], takes ? val : "");
            if (rc != 0)
                return rc;
            matched = true;
            break;
        }
        if (matched)
            continue;
        if (a[0] == '-' && a[1] != '\0')
            return cli_usage_error(cli, "unknown option '%s'", a);
        if (cli->nargs >= cli->cmd->max_args || cli->nargs >= CLI_ARGS_MAX)
            return cli_usage_error(cli, "unexpected argument '%s'", a);
        cli->args[cli->nargs++] = a;
    }
    if (cli->nargs < cli->cmd->min_args)
        return cli_usage_error(cli, "missing %s", cli->cmd->args ? cli->cmd->args : "argument");
    return 0;
}

int cli_main(int argc, char **argv)
{
    const struct cli_noun *noun = find_noun(argv[0]);
    const char *url = getenv("GPURENT_URL"), *key = getenv("GPURENT_API_KEY");
    const struct cli_command *cmd = NULL;
    struct cli cli = {0};
    long timeout_ms = 0;
    int first, rc;

    if (noun == NULL) {
        fprintf(stderr, "gpurent: unknown command '%s'\n", argv[0]);
        return CLI_EXIT_USAGE;
    }
    if (single_command(noun)) {
        cmd = &noun->commands[0];
        first = 1;
    } else {
        if (argc < 2) {
            fprintf(stderr, "gpurent: %s: missing verb\n", noun->name);
            print_noun_help(stderr, noun);
            return CLI_EXIT_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
            print_noun_help(stdout, noun);
            return 0;
        }
        for (const struct cli_command *c = noun->commands; c->noun != NULL; c++) {
            if (strcmp(c->verb, argv[1]) == 0)
                cmd = c;
        }
        if (cmd == NULL) {
            fprintf(stderr, "gpurent: %s: unknown verb '%s'\n", noun->name, argv[1]);
            print_noun_help(stderr, noun);
            return CLI_EXIT_USAGE;
        }
        first = 2;
    }
    cli.cmd = cmd;
    cli.args = calloc((size_t)argc, sizeof(*cli.args));
    if (cli.args == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    rc = parse_line(&cli, argc, argv, first, &url, &key, &timeout_ms);
    if (rc != 0) {
        rc = rc < 0 ? 0 : rc;
        goto out;
    }
    if (url == NULL || *url == '\0')
        url = CLIENT_DEFAULT_URL;
    cli.api_key_set = key != NULL && *key != '\0';
    if (client_new(&cli.client, url, key) != 0) {
        fprintf(stderr, "gpurent: %s\n", client_errmsg());
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    client_set_timeout_ms(cli.client, timeout_ms);
    rc = cmd->fn(&cli);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "gpurent: cannot write the output: %s\n", strerror(errno));
        rc = CLI_EXIT_FAIL;
    }
out:
    for (size_t i = 0; i < CLI_OPTIONS_MAX; i++)
        free(cli.values[i].list);
    free(cli.args);
    free(cli.raw);
    client_free(cli.client);
    return rc;
}

int cli_call(struct cli *cli, const char *method, const char *path, const json_t *body,
             const char *idempotency_key, json_t **reply)
{
    struct client_opts opts = {.idempotency_key = idempotency_key};
    char *text = NULL, *raw = NULL;
    json_error_t jerr;
    size_t len = 0;
    int status = 0, rc;

    *reply = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL) {
            fprintf(stderr, "gpurent: out of memory\n");
            return CLI_EXIT_FAIL;
        }
    }
    rc = client_request_text(cli->client, method, path, text, &opts, &status, &raw, &len);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "gpurent: %s\n", client_errmsg());
        if (status == 401 && !cli->api_key_set)
            fprintf(stderr, "gpurent: no API key: set GPURENT_API_KEY or pass --key\n");
        if (status == 0 && rc == ERR_IO)
            fprintf(stderr, "gpurent: is the server running? (GPURENT_URL or --url: %s)\n",
                    client_base_url(cli->client));
        free(raw);
        return CLI_EXIT_FAIL;
    }
    free(cli->raw);
    cli->raw = raw;
    if (len > 0) {
        *reply = json_loadb(raw, len, 0, &jerr);
        if (*reply == NULL) {
            fprintf(stderr, "gpurent: %s %s: the reply is not JSON (%s)\n", method, path,
                    jerr.text);
            return CLI_EXIT_FAIL;
        }
    }
    return 0;
}

int cli_print_raw(struct cli *cli)
{
    size_t n = cli->raw ? strlen(cli->raw) : 0;

    if (n > 0) {
        fwrite(cli->raw, 1, n, stdout);
        if (cli->raw[n - 1] != '\n')
            fputc('\n', stdout);
    }
    return 0;
}

int cli_list(struct cli *cli, const char *path, json_t **data)
{
    char page_path[CLI_PATH_MAX];
    json_t *all = json_array(), *reply = NULL;
    int rc = CLI_EXIT_FAIL;

    *data = NULL;
    if (all == NULL)
        goto out;
    snprintf(page_path, sizeof(page_path), "%s", path);
    for (int page = 0; page < LIST_PAGES_MAX; page++) {
        const char *cursor;
        json_t *items;

        rc = cli_call(cli, "GET", page_path, NULL, NULL, &reply);
        if (rc != 0)
            goto out;
        rc = CLI_EXIT_FAIL;
        items = json_object_get(reply, "data");
        if (json_is_array(reply))
            items = reply; /* tolerate a bare array */
        if (!json_is_array(items)) {
            fprintf(stderr, "gpurent: GET %s: the reply has no \"data\" list\n", path);
            goto out;
        }
        if (json_array_extend(all, items) != 0)
            goto out;
        cursor = json_string_value(json_object_get(reply, "next_cursor"));
        if (cli->json || cursor == NULL || *cursor == '\0')
            break;
        snprintf(page_path, sizeof(page_path), "%s", path);
        if (cli_query_add(cli, page_path, "cursor", cursor) != 0)
            goto out;
        json_decref(reply);
        reply = NULL;
    }
    *data = all;
    all = NULL;
    rc = 0;
out:
    json_decref(reply);
    json_decref(all);
    return rc;
}

int cli_path(struct cli *cli, char *buf, const char *prefix, const char *id, const char *suffix)
{
    char esc[CLI_PATH_MAX / 2];

    if (client_escape(esc, sizeof(esc), id) != 0 ||
        (size_t)snprintf(buf, CLI_PATH_MAX, "%s%s%s", prefix, esc, suffix) >= CLI_PATH_MAX)
        return cli_usage_error(cli, "the id '%.40s...' is too long", id);
    return 0;
}

int cli_query_add(struct cli *cli, char *buf, const char *name, const char *value)
{
    char esc[CLI_PATH_MAX / 2];
    size_t n = strlen(buf);

    if (client_escape(esc, sizeof(esc), value) != 0 ||
        (size_t)snprintf(buf + n, CLI_PATH_MAX - n, "%c%s=%s", strchr(buf, '?') ? '&' : '?', name,
                         esc) >= CLI_PATH_MAX - n)
        return cli_usage_error(cli, "the value of %s is too long", name);
    return 0;
}

int cli_list_table(struct cli *cli, const char *path, const char *const *heads,
                   const char *const *fields)
{
    json_t *data = NULL, *item;
    struct table t;
    size_t i, n = 0;
    int rc;

    while (heads[n] != NULL)
        n++;
    rc = cli_list(cli, path, &data);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(data);
        return cli_print_raw(cli);
    }
    table_init(&t, heads);
    json_array_foreach(data, i, item)
    {
        char b[TABLE_COLS_MAX][CLI_TEXT_MAX];
        const char *row[TABLE_COLS_MAX];

        for (size_t f = 0; f < n && f < TABLE_COLS_MAX; f++)
            row[f] = cli_field(item, fields[f], b[f]);
        if (cli->quiet)
            printf("%s\n", row[0] ? row[0] : "-");
        else
            table_add(&t, row);
    }
    json_decref(data);
    rc = !cli->quiet && table_print(&t, stdout) != 0 ? CLI_EXIT_FAIL : 0;
    if (rc != 0)
        fprintf(stderr, "gpurent: out of memory\n");
    table_release(&t);
    return rc;
}

const char *cli_text(const json_t *v, char *buf)
{
    if (v == NULL) /* absent: json_typeof would read through NULL */
        return NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        snprintf(buf, CLI_TEXT_MAX, "%s", json_string_value(v));
        return buf;
    case JSON_INTEGER:
        snprintf(buf, CLI_TEXT_MAX, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        snprintf(buf, CLI_TEXT_MAX, "%.4g", json_real_value(v));
        return buf;
    case JSON_TRUE:
        return "yes";
    case JSON_FALSE:
        return "no";
    default:
        return NULL; /* null, absent, or a nested value */
    }
}

const char *cli_field(const json_t *obj, const char *key, char *buf)
{
    return cli_text(json_object_get(obj, key), buf);
}

const char *cli_duration(const json_t *v, char *buf)
{
    double d;
    int64_t s;

    if (!json_is_number(v))
        return NULL;
    d = json_number_value(v);
    if (!(d >= 0 && d < 1e15))
        return NULL;
    s = (int64_t)d;
    if (s >= 86400)
        snprintf(buf, CLI_TEXT_MAX, "%lldd %02lldh", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, CLI_TEXT_MAX, "%lldh %02lldm", (long long)(s / 3600),
                 (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, CLI_TEXT_MAX, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, CLI_TEXT_MAX, "%llds", (long long)s);
    return buf;
}

const char *cli_percent(const json_t *v, char *buf)
{
    if (!json_is_number(v))
        return NULL;
    snprintf(buf, CLI_TEXT_MAX, "%.1f%%", json_number_value(v) * 100.0);
    return buf;
}

const char *cli_money_text(int64_t v, char *buf)
{
    return money_format(buf, v);
}

json_t *cli_json_number(double v)
{
    if (v == floor(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}
