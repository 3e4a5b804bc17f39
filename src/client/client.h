/*
 * client.h - the libcurl client of gpurent's REST API (shared/API.md).
 *
 * The CLI and the host agent (`gpurent agent`, and the in-process agents of `serve --demo`)
 * talk to the control plane through this module only; <curl/curl.h> is included nowhere
 * else. A `struct client` holds a base URL, an API key, a timeout and a limit on the size
 * of a reply, and one CURL easy handle that is reused for every request, so connections are
 * kept alive between calls.
 *
 * Thread safety: one client may be shared by several threads; its requests are serialised
 * by a mutex (one connection, one request at a time). Threads that want parallel requests
 * use one client each. The detail of the last failure is thread-local (client_errmsg).
 *
 * Errors: client_request returns 0 only for a 2xx reply. Anything else is a negative ERR_*
 * code and a one-line message for humans, in the form the CLI prints after "gpurent: ":
 *   "404 not found: unknown rental"           (an RFC 9457 problem+json reply: its detail)
 *   "cannot reach http://127.0.0.1:8080: Couldn't connect to server"   (transport)
 */
#ifndef GPURENT_CLIENT_H
#define GPURENT_CLIENT_H

#include "../common/compat.h"

#include <jansson.h>

#define CLIENT_DEFAULT_URL        "http://127.0.0.1:8080"
#define CLIENT_DEFAULT_TIMEOUT_MS 30000              /* the whole request, connect included */
#define CLIENT_DEFAULT_REPLY_MAX  (16 * 1024 * 1024) /* larger replies fail with ERR_OVERFLOW */
#define CLIENT_ERRMSG_MAX         512

struct client;

/*
 * A new client for base_url ("http://host:port", an optional trailing '/' is dropped) with
 * an API key (NULL or "" = none; copied). 0 and *out (owned: client_free), or ERR_INVALID
 * (not an http:// or https:// URL) / ERR_NOMEM, with client_errmsg set.
 */
int client_new(struct client **out, const char *base_url, const char *api_key);
/* Free a client and close its connection. Accepts NULL. */
void client_free(struct client *c);

/* Replace the API key (NULL or "" = none; copied): 0 or ERR_NOMEM. */
int client_set_key(struct client *c, const char *api_key);
/* The whole-request timeout in milliseconds (0 = the default). */
void client_set_timeout_ms(struct client *c, long timeout_ms);
/* The largest reply body accepted, in bytes (0 = the default). */
void client_set_reply_max(struct client *c, size_t reply_max);
/* The base URL, without a trailing '/'. Borrowed: valid until client_free. */
const char *client_base_url(const struct client *c);

/* Extra request options; a zeroed struct means none. */
struct client_opts {
    const char *idempotency_key; /* sent as Idempotency-Key when not NULL */
    const char *accept;          /* Accept header; NULL = application/json */
    /* > 0: give the request up as soon as this fd is readable (the agent's self-pipe: a
       workload exited during a long-poll); the call then returns CLIENT_WOKEN, *status 0,
       and the connection is closed. The caller drains the fd. */
    int wake_fd;
};

/* What a request given up for its wake_fd returns (not an error: no ERR_* is positive). */
#define CLIENT_WOKEN 1

/*
 * Send METHOD base_url+path (path starts with '/', query included and already escaped:
 * see client_escape) with body (borrowed; NULL = no body) as application/json.
 *
 * On any HTTP reply *status is its status code, and *reply (when reply is not NULL) the
 * parsed JSON body (a new reference the caller json_decref's), or NULL when the body was
 * empty. A 2xx reply returns 0. Another status returns the code matching it (404
 * ERR_NOTFOUND, 402 ERR_FUNDS, 409 ERR_CONFLICT, other 4xx ERR_INVALID, 5xx ERR_IO) with
 * client_errmsg "STATUS title: detail" taken from the problem+json reply; *reply is still
 * set, so a caller may read the problem's fields.
 *
 * A request that got no reply (cannot connect, timeout) returns ERR_IO with *status 0; a
 * reply over the size limit ERR_OVERFLOW; a 2xx body that is not JSON ERR_INVALID.
 */
int client_request(struct client *c, const char *method, const char *path, const json_t *body,
                   int *status, json_t **reply);
/* client_request with options. opts may be NULL. */
int client_request_opts(struct client *c, const char *method, const char *path, const json_t *body,
                        const struct client_opts *opts, int *status, json_t **reply);

/*
 * The same exchange with text in and out, for replies that are not JSON (CSV, metrics):
 * body (NULL = none) is sent as application/json; *reply is the body, NUL-terminated
 * (malloc'd, the caller frees; "" when empty), *len its length. Returns as client_request.
 */
int client_request_text(struct client *c, const char *method, const char *path, const char *body,
                        const struct client_opts *opts, int *status, char **reply, size_t *len);

/* The message of this thread's last failed client call; "" when none. */
const char *client_errmsg(void);

/*
 * Percent-encode s for a path segment or query value (RFC 3986 unreserved characters
 * pass through) into buf of cap bytes: 0, or ERR_OVERFLOW when it does not fit.
 */
int client_escape(char *buf, size_t cap, const char *s);

#endif
