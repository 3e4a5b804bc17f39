/*
 * http.c - libmicrohttpd glue: accumulate the body (with a limit), match the route, check
 * the key and the role, call the handler, send its response.
 */
#include "../common/compat.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/err.h"
#include "core.h"
#include "http.h"
#include "ratelimit.h"
#include "server.h"
#include "web.h"

struct waiter {
    struct MHD_Connection *conn;
    struct req_ctx *ctx;
    uint32_t host;
    uint64_t gen;
    int64_t until;
};

/* A connection, for the request deadline: each request must arrive whole (headers and body)
 * within the idle timeout of the connection's start or of the previous response, or its
 * socket is shut down. libmicrohttpd's own timeout only counts silence, so a client that
 * trickles a byte now and then (slowloris) would otherwise hold a connection for ever. */
struct conn_state {
    struct conn_state *prev, *next;
    int fd;
    int64_t deadline; /* µs; 0 while the server has the request (handler, parked, reply) */
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct server *srv;
    /* live connections (conn_lock), their deadlines checked by the waker thread */
    pthread_mutex_t conn_lock;
    struct conn_state *conns;
    int64_t request_us, next_reap;
    /* parked long-polls, and the thread that resumes them */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond; /* a host changed, or stop */
    struct waiter *waiters;   /* owned */
    size_t waiter_count, waiter_cap;
    bool stopping, waker_started;
    pthread_t waker;
};

/* Per-request state between libmicrohttpd's calls. */
struct req_ctx {
    const struct route *route;           /* resolved on the first call */
    struct principal who;                /* the caller, checked on the first call */
    char pbuf[512];                      /* the path parameters' text */
    const char *params[HTTP_PARAMS_MAX]; /* into pbuf */
    char *body;
    size_t len, cap;
    bool too_large;
    bool answered; /* a response was queued on the first call */
    bool resumed;  /* parked, then resumed: call the handler again */
};

/* The first value of name among n fields (in-memory requests), or NULL. */
static const char *field(const struct http_field *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(f[i].name, name) == 0)
            return f[i].value;
    }
    return NULL;
}

const char *http_query(const struct request *req, const char *name)
{
    if (req->local != NULL)
        return field(req->local->query, req->local->query_count, name);
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool allowed_name(const char *const *allowed, const char *name)
{
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (strcmp(allowed[i], name) == 0)
            return true;
    }
    return false;
}

struct unknown_arg {
    const char *const *allowed;
    const char *found;
};

static enum MHD_Result find_unknown(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    struct unknown_arg *u = cls;

    (void)kind;
    (void)value;
    if (allowed_name(u->allowed, key))
        return MHD_YES;
    u->found = key;
    return MHD_NO;
}

const char *http_query_unknown(const struct request *req, const char *const *allowed)
{
    struct unknown_arg u = {.allowed = allowed, .found = NULL};

    if (req->local != NULL) {
        for (size_t i = 0; i < req->local->query_count; i++) {
            if (!allowed_name(allowed, req->local->query[i].name))
                return req->local->query[i].name;
        }
        return NULL;
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, find_unknown, &u);
    return u.found;
}

const char *http_header(const struct request *req, const char *name)
{
    if (req->local != NULL)
        return field(req->local->headers, req->local->header_count, name);
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static const char *status_title(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

int http_status_for(int err)
{
    switch (err) {
    case 0:
        return 200;
    case ERR_INVALID:
    case ERR_OVERFLOW:
        return 400;
    case ERR_NOTFOUND:
        return 404;
    case ERR_CONFLICT:
    case ERR_NOCAPACITY:
    case ERR_EXISTS:
        return 409;
    case ERR_FUNDS:
        return 402;
    case ERR_IO:
        return 503;
    default:
        return 500;
    }
}

void http_reply(struct response *res, int status, char *text)
{
    free(res->body);
    res->status = status;
    res->body = text;
    res->content_type = "application/json";
}

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when there is none. */
static size_t utf8_len(const unsigned char *s)
{
    uint32_t cp;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) { /* stops at the NUL: it is not a continuation byte */
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* JSON string escaping for the problem detail (no jansson at this edge). The detail may echo
 * a percent-decoded path (any bytes) or be cut inside a character: what is not UTF-8 becomes
 * U+FFFD, so the body stays JSON. */
static size_t escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    while (*s && n + 7 < cap) {
        unsigned char c = (unsigned char)*s;
        size_t len = utf8_len((const unsigned char *)s);
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else if (len == 0) {
            n += (size_t)snprintf(out + n, cap - n, "\\ufffd");
            len = 1;
        } else {
            memcpy(out + n, s, len);
            n += len;
        }
        s += len;
    }
    out[n] = '\0';
    return n;
}

void http_problem(struct response *res, int status, const char *fmt, ...)
{
    char detail[512], esc[1100];
    char *body;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    escape(esc, sizeof(esc), detail);
    if (asprintf(&body,
                 "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,\"detail\":\"%s\"}",
                 status_title(status), status, esc) < 0)
        body = NULL;
    http_reply(res, status, body);
    res->content_type = "application/problem+json";
}

void http_add_header(struct response *res, const char *name, const char *value)
{
    if (res->header_count >= HTTP_HEADERS_MAX)
        return;
    res->header_names[res->header_count] = name;
    res->header_values[res->header_count] = strdup(value);
    res->header_count++;
}

int http_json_depth(const char *text, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

/*
 * Match path against pattern, segment by segment; {name} matches one non-empty segment,
 * whose position goes into params (pointers into the copy in buf).
 */
static bool match(const char *pattern, const char *path, char *buf, size_t cap,
                  const char *params[HTTP_PARAMS_MAX])
{
    size_t np = 0, used = 0;
    const char *p = pattern, *q = path;

    while (*p && *q) {
        if (*p != '/' || *q != '/')
            return false;
        p++;
        q++;
        const char *pe = strchr(p, '/'), *qe = strchr(q, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ql = qe ? (size_t)(qe - q) : strlen(q);
        if (*p == '{') {
            if (ql == 0 || np == HTTP_PARAMS_MAX || used + ql + 1 > cap)
                return false;
            memcpy(buf + used, q, ql);
            buf[used + ql] = '\0';
            params[np++] = buf + used;
            used += ql + 1;
        } else if (pl != ql || strncmp(p, q, pl) != 0) {
            return false;
        }
        p += pl;
        q += ql;
    }
    return *p == '\0' && *q == '\0';
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct response *res)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    size_t len = res->body ? strlen(res->body) : 0;

    r = MHD_create_response_from_buffer(len, res->body ? res->body : (void *)"",
                                        res->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    res->body = NULL; /* owned by the response now */
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            res->content_type ? res->content_type : "application/json");
    for (int i = 0; i < res->header_count; i++) {
        MHD_add_response_header(r, res->header_names[i], res->header_values[i]);
        free(res->header_values[i]);
    }
    ret = MHD_queue_response(conn, (unsigned)res->status, r);
    MHD_destroy_response(r);
    return ret;
}

static bool is_json(const char *ct)
{
    size_t n = strlen("application/json");

    return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ---- rate limits (ratelimit.h): per key, or per client address on public routes ---------- */

/* 429 with Retry-After when the caller's bucket is empty: every request takes a token from
 * its caller's general bucket, and a creation route one more from the caller's creation
 * bucket. Admin keys are not limited (the operator's own scripts; an admin key can do
 * anything anyway). Checked before any of the body is read or the engine is touched. */
static bool rate_limited(struct server *srv, struct MHD_Connection *conn, const struct route *route,
                         const struct principal *who, struct response *res)
{
    char name[64], retry[24];
    int64_t now, wait;

    if (who->role == ROLE_ADMIN ||
        (!rate_enabled(&srv->rate_all) && !(route->create && rate_enabled(&srv->rate_create))))
        return false; /* (a zeroed struct server has both disabled) */
    if (who->key_id[0] != '\0') {
        snprintf(name, sizeof(name), "%s", who->key_id);
    } else {
        const union MHD_ConnectionInfo *ci =
            conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
        const struct sockaddr_in *sa =
            ci != NULL ? (const struct sockaddr_in *)(const void *)ci->client_addr : NULL;
        char ip[INET_ADDRSTRLEN] = "?";
        if (sa != NULL && sa->sin_family == AF_INET)
            inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
        snprintf(name, sizeof(name), "ip:%s", ip);
    }
    now = core_clock_now();
    wait = rate_take(&srv->rate_all, name, now);
    if (wait == 0 && route->create)
        wait = rate_take(&srv->rate_create, name, now);
    if (wait == 0)
        return false;
    snprintf(retry, sizeof(retry), "%lld", (long long)wait);
    http_problem(res, 429, "rate limit: too many %srequests for this %s; retry in %lld s",
                 route->create ? "creation " : "", who->key_id[0] ? "key" : "address",
                 (long long)wait);
    http_add_header(res, "Retry-After", retry);
    return true;
}

/*
 * Match the route and check the key and the role: on the request's first call, before any
 * of its body is read, so an unauthenticated caller can make the server buffer nothing; then
 * the rate limit (per key, or per conn's client address; conn is NULL for an in-memory
 * request). Returns the route, or NULL with the error response in res.
 */
static const struct route *resolve(struct server *srv, struct MHD_Connection *conn,
                                   const char *auth, const char *method, const char *url,
                                   struct req_ctx *ctx, struct response *res)
{
    const struct route *route = NULL;
    bool path_known = false;
    bool head = strcmp(method, "HEAD") == 0; /* HEAD is a GET without the body (RFC 9110) */
    char allow[64] = "";

    for (size_t i = 0; i < http_route_count; i++) {
        const char *params[HTTP_PARAMS_MAX] = {0};
        const char *m = http_routes[i].method;
        if (!match(http_routes[i].pattern, url, ctx->pbuf, sizeof(ctx->pbuf), params))
            continue;
        path_known = true;
        if (strcmp(m, method) == 0 || (head && strcmp(m, "GET") == 0)) {
            route = &http_routes[i];
            memcpy(ctx->params, params, sizeof(params));
            break;
        }
        /* the methods the path takes, for a 405's Allow header */
        size_t used = strlen(allow);
        snprintf(allow + used, sizeof(allow) - used, "%s%s%s", used ? ", " : "", m,
                 strcmp(m, "GET") == 0 ? ", HEAD" : "");
    }
    if (route == NULL) {
        if (path_known) {
            http_problem(res, 405, "method %s is not allowed on %s (allowed: %s)", method, url,
                         allow);
            http_add_header(res, "Allow", allow);
        } else {
            http_problem(res, 404, "no such route: %s %s", method, url);
        }
        return NULL;
    }
    /* the key first: an unauthenticated caller learns nothing about its request */
    if (route->roles != ROLE_PUBLIC) {
        int rc;
        /* the scheme is case-insensitive and may be followed by several spaces (RFC 9110
           11.1, 11.4): "bearer gpr_..." is the same credential */
        if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
            http_problem(res, 401, "missing API key: send Authorization: Bearer <key>");
            http_add_header(res, "WWW-Authenticate", "Bearer");
            return NULL;
        }
        auth += 7;
        while (*auth == ' ')
            auth++;
        rc = keyring_lookup(&srv->keys, auth, &ctx->who);
        if (rc < 0) {
            http_problem(res, 401,
                         rc == ERR_INVALID ? "malformed API key" : "unknown or revoked API key");
            http_add_header(res, "WWW-Authenticate", "Bearer");
            return NULL;
        }
        if (!(route->roles & (unsigned)ctx->who.role)) {
            http_problem(res, 403, "this route is not for %s keys",
                         ctx->who.role == ROLE_ADMIN    ? "admin"
                         : ctx->who.role == ROLE_TENANT ? "tenant"
                                                        : "agent");
            return NULL;
        }
    }
    if (rate_limited(srv, conn, route, &ctx->who, res))
        return NULL;
    return route;
}

/* conn, or local for an in-memory request (http_handle_local) */
static void dispatch(struct server *srv, struct MHD_Connection *conn,
                     const struct http_local_request *local, const char *method, const char *url,
                     struct req_ctx *ctx, struct response *res)
{
    const struct route *route = ctx->route;
    struct request req;

    memset(&req, 0, sizeof(req));
    req.resumed = ctx->resumed;
    memcpy(req.params, ctx->params, sizeof(req.params));
    req.who = ctx->who;
    req.method = method;
    req.path = url;
    req.srv = srv;
    req.conn = conn;
    req.local = local;
    req.body = ctx->body ? ctx->body : "";
    req.body_len = ctx->len;
    if (ctx->too_large) {
        http_problem(res, 413, "request body is larger than %d bytes", HTTP_BODY_MAX);
        return;
    }
    if (req.body_len > 0) {
        const char *coding = http_header(&req, "Content-Encoding");
        if (!is_json(http_header(&req, "Content-Type"))) {
            http_problem(res, 415, "the body must be application/json");
            return;
        }
        /* a compressed body would be parsed as if it were JSON text (RFC 9110 15.5.16) */
        if (coding != NULL && strcasecmp(coding, "identity") != 0) {
            http_problem(res, 415, "Content-Encoding %.40s is not supported: send the body as is",
                         coding);
            http_add_header(res, "Accept-Encoding", "identity");
            return;
        }
        if (memchr(req.body, '\0', req.body_len) != NULL) {
            http_problem(res, 400, "the body contains a NUL byte");
            return;
        }
        if (http_json_depth(req.body, req.body_len) > HTTP_JSON_DEPTH_MAX) {
            http_problem(res, 400, "JSON nesting deeper than %d levels", HTTP_JSON_DEPTH_MAX);
            return;
        }
    }
    route->handler(&req, res);
    if (res->status == 0)
        http_problem(res, 500, "the handler gave no response");
}

/* Park the connection (suspended: it holds no thread) until its host changes or its time is
 * up; the waker resumes it and libmicrohttpd calls on_request again. 0, or -1 to answer now. */
static int park(struct http_server *h, struct MHD_Connection *conn, struct req_ctx *ctx,
                struct response *res)
{
    int rc = -1;

    free(res->body);
    res->body = NULL;
    pthread_mutex_lock(&h->wait_lock);
    if (!h->stopping && h->waiter_count == h->waiter_cap) {
        size_t cap = h->waiter_cap ? h->waiter_cap * 2 : 64;
        struct waiter *w = realloc(h->waiters, cap * sizeof(*w));
        if (w != NULL) {
            h->waiters = w;
            h->waiter_cap = cap;
        }
    }
    if (!h->stopping && h->waiter_count < h->waiter_cap) {
        ctx->resumed = true; /* set before anyone can resume it */
        MHD_suspend_connection(conn);
        h->waiters[h->waiter_count++] =
            (struct waiter){conn, ctx, res->park_host, res->park_gen, res->park_until};
        pthread_cond_signal(&h->wait_cond);
        rc = 0;
    }
    pthread_mutex_unlock(&h->wait_lock);
    if (rc < 0) /* could not park: answer at once (the handler is asked again) */
        http_problem(res, 503, "the server is stopping");
    return rc;
}

/* ---- the request deadline (struct conn_state) ------------------------------------------ */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *h = cls;
    struct conn_state *cs = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (h->request_us <= 0) /* no timeout set: no deadline either */
            return;
        cs = calloc(1, sizeof(*cs));
        if (cs == NULL || ci == NULL) { /* not watched: the idle timeout still applies */
            free(cs);
            return;
        }
        cs->fd = ci->connect_fd;
        __atomic_store_n(&cs->deadline, core_clock_now() + h->request_us, __ATOMIC_RELAXED);
        pthread_mutex_lock(&h->conn_lock);
        cs->next = h->conns;
        if (h->conns != NULL)
            h->conns->prev = cs;
        h->conns = cs;
        pthread_mutex_unlock(&h->conn_lock);
        *socket_context = cs;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && cs != NULL) {
        /* libmicrohttpd closes the socket after this: once unlinked, the fd is never used */
        pthread_mutex_lock(&h->conn_lock);
        if (cs->prev != NULL)
            cs->prev->next = cs->next;
        else
            h->conns = cs->next;
        if (cs->next != NULL)
            cs->next->prev = cs->prev;
        pthread_mutex_unlock(&h->conn_lock);
        free(cs);
        *socket_context = NULL;
    }
}

/* Set (now + the timeout) or clear (0) the deadline of conn's current request. */
static void set_deadline(struct http_server *h, struct MHD_Connection *conn, bool armed)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn_state *cs = ci != NULL ? ci->socket_context : NULL;

    if (cs != NULL)
        __atomic_store_n(&cs->deadline, armed ? core_clock_now() + h->request_us : 0,
                         __ATOMIC_RELAXED);
}

/* Shut down the sockets of requests past their deadline (libmicrohttpd then sees the
 * connection end and closes it in its own thread). At most twice a second. */
static void reap_late_requests(struct http_server *h, int64_t now)
{
    if (now < h->next_reap)
        return;
    h->next_reap = now + 500000;
    pthread_mutex_lock(&h->conn_lock);
    for (struct conn_state *cs = h->conns; cs != NULL; cs = cs->next) {
        int64_t d = __atomic_load_n(&cs->deadline, __ATOMIC_RELAXED);
        if (d != 0 && now > d) {
            shutdown(cs->fd, SHUT_RDWR);
            __atomic_store_n(&cs->deadline, 0, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&h->conn_lock);
}

/* The waker: resume parked connections whose host changed or whose time is up. */
static void *waker_main(void *arg)
{
    struct http_server *h = arg;

    pthread_mutex_lock(&h->wait_lock);
    for (;;) {
        int64_t now = core_clock_now(), next = now + 1000000;
        struct timespec ts;
        size_t i = 0;

        reap_late_requests(h, now);
        if (h->next_reap < next)
            next = h->next_reap;
        while (i < h->waiter_count) {
            struct waiter *w = &h->waiters[i];
            if (h->stopping || now >= w->until ||
                core_host_generation(h->srv->core, w->host) != w->gen) {
                MHD_resume_connection(w->conn);
                h->waiters[i] = h->waiters[--h->waiter_count];
                continue;
            }
            if (w->until < next)
                next = w->until;
            i++;
        }
        if (h->stopping)
            break;
        ts.tv_sec = next / 1000000;
        ts.tv_nsec = (long)(next % 1000000) * 1000;
        pthread_cond_timedwait(&h->wait_cond, &h->wait_lock, &ts);
    }
    pthread_mutex_unlock(&h->wait_lock);
    return NULL;
}

void http_host_changed(void *arg)
{
    struct http_server *h = arg;

    pthread_mutex_lock(&h->wait_lock);
    pthread_cond_signal(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
}

/* A file of the web console (web.h): no key, an ETag (If-None-Match gets a 304). */
static enum MHD_Result send_asset(struct MHD_Connection *conn, const struct web_asset *a)
{
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = inm != NULL && strstr(inm, a->etag) != NULL;
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(fresh ? 0 : a->len, fresh ? (void *)"" : (void *)a->data,
                                        MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", a->content_type);
    MHD_add_response_header(r, "ETag", a->etag);
    for (size_t i = 0; web_headers[i] != NULL; i += 2)
        MHD_add_response_header(r, web_headers[i], web_headers[i + 1]);
    ret = MHD_queue_response(conn, fresh ? 304 : 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *h = cls;
    struct req_ctx *ctx = *con_cls;
    struct response res;
    (void)version;

    if (ctx == NULL) {
        const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        ctx = calloc(1, sizeof(*ctx));
        if (ctx == NULL)
            return MHD_NO;
        *con_cls = ctx;
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
            const struct web_asset *a = web_asset_find(url); /* the console, not the API */
            if (a != NULL) {
                ctx->answered = true;
                return send_asset(conn, a);
            }
        }
        memset(&res, 0, sizeof(res));
        ctx->route = resolve(h->srv, conn,
                             MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
                             method, url, ctx, &res);
        if (ctx->route != NULL && length != NULL && strtoull(length, NULL, 10) > HTTP_BODY_MAX)
            http_problem(&res, 413, "request body is larger than %d bytes", HTTP_BODY_MAX);
        if (res.status != 0) {    /* answered before reading a byte of the body */
            ctx->answered = true; /* the deadline stays: a body trickled after is cut */
            return send_response(conn, &res);
        }
        return MHD_YES;
    }
    if (ctx->answered) { /* whatever still arrives is dropped unread */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        if (!ctx->too_large && ctx->len + n > HTTP_BODY_MAX) {
            ctx->too_large = true;
            free(ctx->body);
            ctx->body = NULL;
            ctx->len = ctx->cap = 0;
        }
        if (!ctx->too_large) {
            if (ctx->len + n + 1 > ctx->cap) {
                size_t cap = ctx->cap ? ctx->cap : 1024;
                char *b;
                while (cap < ctx->len + n + 1)
                    cap *= 2;
                b = realloc(ctx->body, cap);
                if (b == NULL)
                    return MHD_NO;
                ctx->body = b;
                ctx->cap = cap;
            }
            memcpy(ctx->body + ctx->len, upload_data, n);
            ctx->len += n;
            ctx->body[ctx->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    memset(&res, 0, sizeof(res));
    if (ctx->resumed && ctx->route == NULL) /* resumed by a stop before it was resolved */
        return MHD_NO;
    set_deadline(h, conn, false); /* the whole request is in: the server's turn */
    if (h->srv->log_level >= 2) {
        int64_t t0 = core_clock_now();
        dispatch(h->srv, conn, NULL, method, url, ctx, &res);
        fprintf(stderr, "gpurent: %s %s %d %lldus\n", method, url, res.status,
                (long long)(core_clock_now() - t0));
    } else {
        dispatch(h->srv, conn, NULL, method, url, ctx, &res);
    }
    if (res.park && !ctx->resumed && park(h, conn, ctx, &res) == 0)
        return MHD_YES;
    return send_response(conn, &res);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *ctx = *con_cls;
    (void)toe;

    set_deadline(cls, conn, true); /* the next request on this connection, if any */

    if (ctx != NULL) {
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static void stop_waker(struct http_server *h)
{
    if (!h->waker_started)
        return;
    pthread_mutex_lock(&h->wait_lock);
    h->stopping = true;
    pthread_cond_signal(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
    pthread_join(h->waker, NULL);
    h->waker_started = false;
}

int http_start(struct http_server **out, struct server *srv, const char *addr, unsigned threads,
               char *err, size_t cap)
{
    struct http_server *h;
    struct sockaddr_in sin;
    char host[64];
    const char *colon = strrchr(addr, ':');
    long port;
    char *end;

    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
        snprintf(err, cap, "listen address \"%s\": expected HOST:PORT", addr);
        return ERR_INVALID;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535 || colon[1] == '\0') {
        snprintf(err, cap, "listen address \"%s\": bad port", addr);
        return ERR_INVALID;
    }
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sin.sin_addr) !=
        1) {
        snprintf(err, cap, "listen address \"%s\": bad IPv4 address", addr);
        return ERR_INVALID;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return ERR_NOMEM;
    h->srv = srv;
    h->request_us = (int64_t)srv->idle_timeout_s * 1000000;
    pthread_mutex_init(&h->conn_lock, NULL);
    pthread_mutex_init(&h->wait_lock, NULL);
    pthread_cond_init(&h->wait_cond, NULL);
    if (pthread_create(&h->waker, NULL, waker_main, h) != 0) {
        snprintf(err, cap, "cannot start the long-poll thread");
        free(h);
        return ERR_IO;
    }
    h->waker_started = true;
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                                     MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
                                 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sin, MHD_OPTION_THREAD_POOL_SIZE,
                                 threads ? threads : 4, MHD_OPTION_CONNECTION_TIMEOUT,
                                 srv->idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(err, cap, "cannot listen on %s (in use, or not allowed)", addr);
        stop_waker(h);
        free(h);
        return ERR_IO;
    }
    *out = h;
    return 0;
}

unsigned http_port(const struct http_server *h)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);

    return info ? info->port : 0;
}

void http_stop(struct http_server *h)
{
    if (h == NULL)
        return;
    stop_waker(h); /* parked requests are resumed and answered 503 first */
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->conn_lock);
    pthread_mutex_destroy(&h->wait_lock);
    pthread_cond_destroy(&h->wait_cond);
    free(h->waiters);
    free(h);
}

/* ---- in-memory requests (tests/fuzz/) ----------------------------------------------------- */

void http_handle_local(struct server *srv, const struct http_local_request *in,
                       struct response *res)
{
    struct req_ctx *ctx = calloc(1, sizeof(*ctx));

    memset(res, 0, sizeof(*res));
    if (ctx == NULL) {
        http_problem(res, 500, "out of memory");
        return;
    }
    ctx->route = resolve(srv, NULL, field(in->headers, in->header_count, "Authorization"),
                         in->method, in->path, ctx, res);
    if (ctx->route != NULL && in->body_len > HTTP_BODY_MAX) {
        ctx->too_large = true;
    } else if (ctx->route != NULL && in->body_len > 0) { /* as on_request stores it */
        ctx->body = malloc(in->body_len + 1);
        if (ctx->body == NULL) {
            http_problem(res, 500, "out of memory");
            goto out;
        }
        memcpy(ctx->body, in->body, in->body_len);
        ctx->body[in->body_len] = '\0';
        ctx->len = in->body_len;
    }
    if (ctx->route == NULL)
        goto out;
    dispatch(srv, NULL, in, in->method, in->path, ctx, res);
    if (res->park) { /* nothing to wait for here: call it again, as the waker would */
        http_response_release(res);
        ctx->resumed = true;
        dispatch(srv, NULL, in, in->method, in->path, ctx, res);
    }
out:
    free(ctx->body);
    free(ctx);
}

void http_response_release(struct response *res)
{
    free(res->body);
    for (int i = 0; i < res->header_count; i++)
        free(res->header_values[i]);
    memset(res, 0, sizeof(*res));
}
