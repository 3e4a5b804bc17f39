/*
 * cmd_keys.c - `gpurent keys ls|create|revoke|rotate`: API keys, for a tenant (its own) and
 * for the operator (every key, or one tenant's with --tenant).
 */
#include "../common/compat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "table.h"

static int keys_ls(struct cli *cli)
{
    static const char *const heads[] = {"ID",   "PREFIX",  "ROLE",      "TENANT",
                                        "HOST", "CREATED", "LAST USED", NULL};
    static const char *const fields[] = {"id",      "prefix",     "role",        "tenant_id",
                                         "host_id", "created_at", "last_used_at"};
    const struct cli_value *tenant = cli_opt(cli, "--tenant");
    char path[CLI_PATH_MAX] = "/v1/keys";
    int rc;

    if (tenant->set && (rc = cli_query_add(cli, path, "tenant_id", tenant->text)) != 0)
        return rc;
    return cli_list_table(cli, path, heads, fields);
}

/* The reply of a create or a rotate: the new key, shown once. */
static int print_new_key(struct cli *cli, json_t *reply, const char *what)
{
    char id[CLI_TEXT_MAX], old[CLI_TEXT_MAX];
    const char *key = json_string_value(json_object_get(reply, "api_key"));

    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    cli_field(reply, "id", id);
    if (cli->quiet) {
        printf("%s %s\n", id, key ? key : "-");
    } else {
        if (cli_field(reply, "replaces", old) != NULL)
            printf("%s %s (replaces %s, revoked now)\n", what, id, old);
        else
            printf("%s %s\n", what, id);
        printf("api key: %s\n", key ? key : "-");
        printf("the key is shown only now: store it (GPURENT_API_KEY)\n");
    }
    json_decref(reply);
    return 0;
}

static int keys_create(struct cli *cli)
{
    const struct cli_value *tenant = cli_opt(cli, "--tenant");
    json_t *body = json_object(), *reply = NULL;
    int rc;

    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    if (tenant->set)
        json_object_set_new(body, "tenant_id", json_string(tenant->text));
    rc = cli_call(cli, "POST", "/v1/keys", body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    return print_new_key(cli, reply, "created key");
}

static int keys_revoke(struct cli *cli)
{
    char path[CLI_PATH_MAX];
    json_t *reply = NULL;
    int rc;

    rc = cli_path(cli, path, "/v1/keys/", cli->args[0], "");
    if (rc == 0)
        rc = cli_call(cli, "DELETE", path, NULL, NULL, &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        json_decref(reply);
        return cli_print_raw(cli);
    }
    printf("revoked %s: it is refused from the next request on\n", cli->args[0]);
    json_decref(reply);
    return 0;
}

static int keys_rotate(struct cli *cli)
{
    char path[CLI_PATH_MAX];
    json_t *body = json_object(), *reply = NULL;
    int rc;

    if (body == NULL) {
        fprintf(stderr, "gpurent: out of memory\n");
        return CLI_EXIT_FAIL;
    }
    rc = cli_path(cli, path, "/v1/keys/", cli->args[0], "/rotate");
    if (rc == 0)
        rc = cli_call(cli, "POST", path, body, NULL, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    return print_new_key(cli, reply, "new key");
}

static const struct cli_option tenant_options[] = {
    {"--tenant", OPT_TEXT, "TENANT_ID", "(admin) a tenant's keys, or a key for that tenant", 0, 0},
    {NULL},
};

const struct cli_command cli_keys_commands[] = {
    {.noun = "keys",
     .verb = "ls",
     .fn = keys_ls,
     .summary = "list live API keys (a tenant's own; the operator's: all, or --tenant)",
     .options = tenant_options},
    {.noun = "keys",
     .verb = "create",
     .fn = keys_create,
     .summary = "create another API key (shown once)",
     .options = tenant_options},
    {.noun = "keys",
     .verb = "revoke",
     .fn = keys_revoke,
     .summary = "revoke an API key",
     .args = "KEY_ID",
     .min_args = 1,
     .max_args = 1},
    {.noun = "keys",
     .verb = "rotate",
     .fn = keys_rotate,
     .summary = "replace an API key: a new secret now, the old one revoked at once",
     .args = "KEY_ID",
     .min_args = 1,
     .max_args = 1},
    {0},
};
