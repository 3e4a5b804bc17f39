/*
 * fuzz_server.h - a real `gpurent serve` in process, without sockets, for the fuzz targets
 * that send it requests (fuzz_api, fuzz_heartbeat).
 *
 * It is what serve_main builds (a core with its engine thread over a SQLite file, the
 * reporting reader, the keyring with an admin key, the idempotency table, the API records),
 * in a scratch directory of its own: /dev/shm when there is one (no disk writes), else
 * $TMPDIR or /tmp. Requests go through http_handle_local: the real route table, key and role
 * checks, body checks and handlers. Every input gets a fresh server (fuzz_server_open) so
 * that an input's outcome depends on nothing before it.
 *
 * Secrets. Keys, join tokens and key ids are random, so an input cannot spell them: the
 * fixture keeps every key ("gpr_..."), join token ("gjt_...") and key id ("key_...") that a
 * reply contains, in order of appearance (slot 0 is the admin key), and fuzz_server_request
 * replaces "$0".."$9", "$a".."$f" in the request's path, query, header values and body with
 * the secret in that slot (an empty slot stays as is).
 */
#ifndef GPURENT_FUZZ_SERVER_H
#define GPURENT_FUZZ_SERVER_H

#include "common/compat.h"

#include "server/auth.h"
#include "server/http.h"
#include "server/server.h"

#define FUZZ_SECRETS_MAX 16

struct fuzz_server {
    struct server srv;
    char secrets[FUZZ_SECRETS_MAX][KEY_TEXT_MAX + 16];
    unsigned secret_count;
    bool open;
};

/* Start a fresh server (an empty database) with an admin key in slot 0. Aborts on failure:
 * a fixture that cannot start is not a finding about the input. */
void fuzz_server_open(struct fuzz_server *fs);

/*
 * Stop it, then open its database again as a restart would (replaying the command log,
 * loading keys and idempotency replies) and stop that too: a state the server acknowledged
 * must come back. Aborts when it does not. Removes the database.
 */
void fuzz_server_close(struct fuzz_server *fs);

/*
 * Send one request, after replacing the secrets' slots, and check the reply's shape (a
 * status the API uses; JSON bodies parse; a problem's "status" is the HTTP status; no 5xx):
 * aborts when it is wrong. Keeps the reply's secrets. Returns the status; *body (may be NULL)
 * gets the reply's text (owned: free).
 */
struct fuzz_request {
    const char *method;
    const char *target; /* path?query, percent-encoded as a client would send it */
    const struct http_field *headers;
    size_t header_count;
    const char *body;
    size_t body_len;
};
int fuzz_server_request(struct fuzz_server *fs, const struct fuzz_request *rq, char **body);

/*
 * The text form of requests that the seeds are written in, split from a fuzz input:
 *
 *   METHOD TARGET            e.g. "POST /v1/tenants?x=1"
 *   Name: value              headers, up to an empty line
 *
 *   body                     the rest
 *
 * Requests are separated by a line "%%". fuzz_script_next takes the next one from
 * *cursor (a NUL-terminated copy of the input, cut in place): true and *rq filled (pointing
 * into the copy and headers[max]), or false at the end.
 */
#define FUZZ_SEPARATOR "\n%%\n"
bool fuzz_script_next(char **cursor, struct fuzz_request *rq, struct http_field *headers,
                      size_t max);

/* Send every request of script (the text form; at most max). */
void fuzz_server_script(struct fuzz_server *fs, const char *script, int max);

/*
 * A fresh server holding a fleet to start from (fuzz_heartbeat, fuzz_query), as
 * tests/fuzz/fleet.txt builds it: prices for A100-80G and H100, coupon WELCOME, tenants
 * tnt_9wdvsq5zmmz0n and tnt_3rvqkebz99y1a with credit (keys in $1 and $3, key ids in $2 and
 * $4), a join token ($5), host hst_9wdvsq5zmmz0n with 4 A100-80G GPUs (GPU-0..GPU-3, agent
 * key $6, key id $7) and a cost basis, and rentals rnt_9wdvsq5zmmz0n (on demand, 2 GPUs,
 * workload and idle_stop rule, running at epoch 1), rnt_3rvqkebz99y1a (spot, 1 GPU, placed)
 * and rnt_dn9kd5hyxyx1z (stopped). Built once per process, then copied for each input (a
 * fresh copy of its database, replayed as a restart does): close it with fuzz_server_close.
 */
void fuzz_server_open_fleet(struct fuzz_server *fs);

/* The engine's invariants hold (engine_check): aborts when not. */
void fuzz_server_check(struct fuzz_server *fs);

#endif
