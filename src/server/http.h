/*
 * http.h - the HTTP edge: requests in, responses out, the route table.
 *
 * libmicrohttpd is included only by http.c. Handlers see a `struct request` (method, path
 * parameters, query, headers, the whole body — already limited in size — and the caller's
 * authenticated identity) and fill a `struct response`. Each route declares the roles that
 * may call it; the dispatcher checks the key and the role before the handler runs, so a
 * handler never sees an unauthenticated or wrong-role caller (401 / 403 are answered for it).
 */
#ifndef GPURENT_HTTP_H
#define GPURENT_HTTP_H

#include "../common/compat.h"

#include <stdarg.h>

#define HTTP_BODY_MAX       (1024 * 1024) /* larger bodies get 413 */
#define HTTP_JSON_DEPTH_MAX 32            /* deeper JSON gets 400 */
#define HTTP_PARAMS_MAX     4

/* Who may call a route (a bitmask). ROLE_PUBLIC routes need no key; it is a bit of its own,
 * not 0, so that every route states its roles: ROUTE() refuses 0 at compile time. */
enum role {
    ROLE_ADMIN = 1 << 0,
    ROLE_TENANT = 1 << 1,
    ROLE_AGENT = 1 << 2,
    ROLE_PUBLIC = 1 << 3, /* only ever alone: no key is asked for */
};
#define ROLE_ANY (ROLE_ADMIN | ROLE_TENANT | ROLE_AGENT)

struct server;             /* server.h */
struct http_local_request; /* below */

/* The authenticated caller. */
struct principal {
    enum role role;  /* 0 when no key was given (a public route) */
    uint32_t tenant; /* ROLE_TENANT: the tenant number */
    uint32_t host;   /* ROLE_AGENT: the host number */
    char key_id[32]; /* the key used ("key_..."), empty when none */
};

struct request {
    const char *method;                  /* "GET", "POST", ... */
    const char *path;                    /* without the query string */
    const char *params[HTTP_PARAMS_MAX]; /* the {name} segments of the route, in order */
    const char *body;                    /* NUL-terminated; "" when none */
    size_t body_len;
    struct principal who;
    struct server *srv;
    bool resumed;                           /* a parked request called again (see park) */
    void *conn;                             /* private: the connection, for query/header */
    const struct http_local_request *local; /* private: set instead of conn (below) */
};

/* A query-string argument or request header, or NULL. Borrowed for the request's life. */
const char *http_query(const struct request *req, const char *name);
const char *http_header(const struct request *req, const char *name);
/* The name of the first query-string argument that is not in allowed (NULL-terminated), or
   NULL when every one is. */
const char *http_query_unknown(const struct request *req, const char *const *allowed);

#define HTTP_HEADERS_MAX 4
struct response {
    int status;
    char *body;               /* malloc'd; freed by the dispatcher */
    const char *content_type; /* default application/json */
    const char *header_names[HTTP_HEADERS_MAX];
    char *header_values[HTTP_HEADERS_MAX]; /* malloc'd */
    int header_count;
    /* Long-poll: a handler that has nothing to say yet sets park (and no body): the
     * connection waits, holding no thread, until host's generation (core.h) differs from
     * park_gen or park_until (µs) passes; then the handler is called again with
     * req->resumed set, and must answer. */
    bool park;
    uint32_t park_host;
    uint64_t park_gen;
    int64_t park_until;
};

/* Set a JSON body: takes ownership of text (malloc'd). */
void http_reply(struct response *res, int status, char *text);
/* RFC 9457 problem+json: {"type","title","status","detail"}; title from the status. */
void http_problem(struct response *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The HTTP status for an ERR_* code (400, 404, 409, 402, 500, 503...). */
int http_status_for(int err);
/* Add a response header (value copied). */
void http_add_header(struct response *res, const char *name, const char *value);

typedef void (*http_handler_fn)(struct request *req, struct response *res);

struct route {
    const char *method;
    const char *pattern; /* "/v1/rentals/{id}/stop": {x} matches one non-empty segment */
    http_handler_fn handler;
    unsigned roles;      /* enum role bits; ROLE_PUBLIC (alone) = no key needed */
    const char *summary; /* one line, for docs and the openapi check */
    bool create;         /* a creation route: the stricter rate limit too */
};

/*
 * A route table entry. A route without declared roles does not compile: roles must be a
 * non-zero constant made of role bits, and ROLE_PUBLIC cannot be mixed with key roles.
 * CREATE_ROUTE marks a route that creates something (a tenant, a key, a rental...): it has
 * the stricter creation rate limit on top of the general one (ratelimit.h).
 */
#define ROUTE(method, pattern, handler, roles, summary)                                            \
    ROUTE_ENTRY(method, pattern, handler, roles, summary, false)
#define CREATE_ROUTE(method, pattern, handler, roles, summary)                                     \
    ROUTE_ENTRY(method, pattern, handler, roles, summary, true)
#define ROUTE_ENTRY(method, pattern, handler, roles, summary, create)                              \
    {                                                                                              \
        (method), (pattern), (handler),                                                            \
            (roles) + 0 * sizeof(struct {                                                          \
                          _Static_assert((roles) != 0,                                             \
                                         "route " method " " pattern ": declare its roles");       \
                          _Static_assert(((roles) & ~(ROLE_ANY | ROLE_PUBLIC)) == 0,               \
                                         "route " method " " pattern ": unknown role bits");       \
                          _Static_assert(!((roles)&ROLE_PUBLIC) || (roles) == ROLE_PUBLIC,         \
                                         "route " method " " pattern ": ROLE_PUBLIC goes alone");  \
                          int unused;                                                              \
                      }),                                                                          \
            (summary), (create)                                                                    \
    }

/* The route table (server/routes.c) and its length. */
extern const struct route http_routes[];
extern const size_t http_route_count;

/* Start serving on addr ("127.0.0.1:8080") with the given thread count. 0 or ERR_*. */
struct http_server;
int http_start(struct http_server **out, struct server *srv, const char *addr, unsigned threads,
               char *err, size_t cap);
/* The port actually bound (useful with port 0). */
unsigned http_port(const struct http_server *h);
void http_stop(struct http_server *h);
/* For core_on_host_change: a host's assignments changed, look at the parked long-polls. */
void http_host_changed(void *arg);

/* Depth of JSON nesting in text (strings skipped), for the depth limit. */
int http_json_depth(const char *text, size_t len);

/*
 * A request built in memory, without a connection (the fuzz targets, tests/fuzz/): it takes
 * the same path as one from the network (route match, key and role, size, content type, NUL
 * and depth checks, the handler), with what libmicrohttpd would have parsed given as is: the
 * percent-decoded path and the query's and headers' name/value pairs (names compared without
 * regard to case, the first of a name wins). A handler that parks is called again at once,
 * resumed. res is filled (status, body...); release it with http_response_release.
 */
struct http_field {
    const char *name, *value;
};
struct http_local_request {
    const char *method;
    const char *path;
    const struct http_field *query;
    size_t query_count;
    const struct http_field *headers;
    size_t header_count;
    const char *body; /* body_len bytes, need not be NUL-terminated */
    size_t body_len;
};
void http_handle_local(struct server *srv, const struct http_local_request *in,
                       struct response *res);
void http_response_release(struct response *res);

#endif
