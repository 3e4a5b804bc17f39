/*
 * cli.h - the `gpurent <noun> <verb>` client commands (offers, rentals, balance, usage, and
 * the operator's tenants, credits, prices, hosts, coupons, economics, whatif).
 *
 * Every command is one REST call (or a few) through src/client/: the server is found by
 * --url or GPURENT_URL (default http://127.0.0.1:8080), the key by --key or GPURENT_API_KEY.
 * Output is a human table by default and the server's JSON with --json.
 *
 * Exit status: 0 success; 1 the server refused or could not be reached ("gpurent: 404 not
 * found: unknown rental" on stderr); 2 a usage error.
 */
#ifndef GPURENT_CLI_H
#define GPURENT_CLI_H

#include "../common/compat.h"

#include <stdio.h>

/* Run a CLI command: argv[0] is the noun ("rentals"), then the verb and options. */
int cli_main(int argc, char **argv);

/* Print a noun's help (its verbs) to f: 0, or 2 when the noun is not a CLI noun. */
int cli_help(FILE *f, const char *noun);

/* Is name one of the CLI's nouns? */
bool cli_is_noun(const char *name);

#endif
