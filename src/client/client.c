/*
 * client.c - the REST client over libcurl: one reused easy handle per client.
 */
#include "../common/compat.h"

#include "client.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../common/err.h"

#ifndef GPURENT_VERSION
#define GPURENT_VERSION "0"
#endif

struct client {
    pthread_mutex_t lock; /* serialises requests on the one easy handle */
    CURL *easy;           /* owned; reused, so the connection is kept alive */
    char *base_url;       /* owned; no trailing '/' */
    char *auth_header;    /* owned; "Authorization: Bearer KEY", or NULL */
    long timeout_ms;
    size_t reply_max;
    CURLM *multi; /* owned; NULL until a request has a wake_fd */
};

/* A reply body being received, with its limit. */
struct reply_buf {
    char *data; /* owned; NUL-terminated once complete */
    size_t len, cap, max;
    bool too_large;
};

static _Thread_local char errmsg[CLIENT_ERRMSG_MAX];

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

__attribute__((format(printf, 1, 2))) static void set_errmsg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
    va_end(ap);
}

const char *client_errmsg(void)
{
    return errmsg;
}

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Printable ASCII only: nothing that could end a header line or smuggle another one. */
static bool header_safe(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    }
    return true;
}

int client_new(struct client **out, const char *base_url, const char *api_key)
{
    struct client *c = NULL;
    size_t n;
    int rc = ERR_NOMEM;

    errmsg[0] = '\0';
    if (base_url == NULL ||
        (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)) {
        set_errmsg("bad server URL '%s': expected http://HOST:PORT or https://HOST:PORT",
                   base_url ? base_url : "");
        return ERR_INVALID;
    }
    if (!header_safe(base_url) || strchr(base_url, ' ') != NULL) {
        set_errmsg("bad server URL: control characters or spaces");
        return ERR_INVALID;
    }
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        set_errmsg("cannot initialise libcurl: %s", curl_easy_strerror(global_rc));
        return ERR_IO;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    pthread_mutex_init(&c->lock, NULL);
    c->timeout_ms = CLIENT_DEFAULT_TIMEOUT_MS;
    c->reply_max = CLIENT_DEFAULT_REPLY_MAX;
    c->base_url = strdup(base_url);
    if (c->base_url == NULL)
        goto fail;
    n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    c->easy = curl_easy_init();
    if (c->easy == NULL)
        goto fail;
    rc = client_set_key(c, api_key);
    if (rc != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    if (rc == ERR_NOMEM && errmsg[0] == '\0')
        set_errmsg("out of memory");
    client_free(c);
    return rc;
}

void client_free(struct client *c)
{
    if (c == NULL)
        return;
    if (c->multi != NULL)
        curl_multi_cleanup(c->multi); /* the easy handle is never left in it */
    if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    pthread_mutex_destroy(&c->lock);
    free(c->base_url);
    free(c->auth_header);
    free(c);
}

int client_set_key(struct client *c, const char *api_key)
{
    char *h = NULL;

    if (api_key != NULL && *api_key != '\0') {
        if (!header_safe(api_key) || strchr(api_key, ' ') != NULL) {
            set_errmsg("bad API key: it must be printable text without spaces");
            return ERR_INVALID;
        }
        if (asprintf(&h, "Authorization: Bearer %s", api_key) < 0) {
            set_errmsg("out of memory");
            return ERR_NOMEM;
        }
    }
    pthread_mutex_lock(&c->lock);
    free(c->auth_header);
    c->auth_header = h;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void client_set_timeout_ms(struct client *c, long timeout_ms)
{
    pthread_mutex_lock(&c->lock);
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLIENT_DEFAULT_TIMEOUT_MS;
    pthread_mutex_unlock(&c->lock);
}

void client_set_reply_max(struct client *c, size_t reply_max)
{
    pthread_mutex_lock(&c->lock);
    c->reply_max = reply_max > 0 ? reply_max : CLIENT_DEFAULT_REPLY_MAX;
    pthread_mutex_unlock(&c->lock);
}

const char *client_base_url(const struct client *c)
{
    return c->base_url;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct reply_buf *b = userdata;
    size_t n = size * nmemb;

    if (n > b->max || b->len > b->max - n) {
        b->too_large = true;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL)
            return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* The reason phrase of the statuses the API uses, lower-case, for replies with no title. */
static const char *status_text(int status)
{
    switch (status) {
    case 400:
        return "bad request";
    case 401:
        return "unauthorized";
    case 402:
        return "payment required";
    case 403:
        return "forbidden";
    case 404:
        return "not found";
    case 405:
        return "method not allowed";
    case 409:
        return "conflict";
    case 413:
        return "content too large";
    case 415:
        return "unsupported media type";
    case 422:
        return "unprocessable content";
    case 429:
        return "too many requests";
    case 500:
        return "internal server error";
    case 503:
        return "service unavailable";
    default:
        return "error";
    }
}

static int code_for_status(int status)
{
    if (status == 404)
        return ERR_NOTFOUND;
    if (status == 402)
        return ERR_FUNDS;
    if (status == 409)
        return ERR_CONFLICT;
    if (status >= 400 && status < 500)
        return ERR_INVALID;
    return ERR_IO;
}

/* errmsg for a non-2xx reply: "404 not found: unknown rental". */
static void set_status_errmsg(int status, const char *body, size_t len)
{
    json_t *root = NULL;
    const char *title = NULL, *detail = NULL;
    char lower[64];
    size_t i;

    if (len > 0)
        root = json_loadb(body, len, 0, NULL);
    if (json_is_object(root)) {
        title = json_string_value(json_object_get(root, "title"));
        detail = json_string_value(json_object_get(root, "detail"));
    }
    if (title == NULL || *title == '\0')
        title = status_text(status);
    for (i = 0; title[i] != '\0' && i + 1 < sizeof(lower); i++)
        lower[i] = (char)tolower((unsigned char)title[i]);
    lower[i] = '\0';
    if (detail != NULL && *detail != '\0') {
        set_errmsg("%d %s: %s", status, lower, detail);
    } else if (root == NULL && len > 0) {
        /* not JSON (a proxy's page?): its first line, briefly */
        int n = (int)strcspn(body, "\r\n");

        set_errmsg("%d %s: %.*s", status, lower, n > 200 ? 200 : n, body);
    } else {
        set_errmsg("%d %s", status, lower);
    }
    json_decref(root);
}

static bool valid_method(const char *m)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};

    for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
        if (strcmp(m, methods[i]) == 0)
            return true;
    }
    return false;
}

/*
 * The transfer on c->easy through c->multi (which keeps the connection between requests),
 * given up when wake_fd becomes readable first: *woken, and the connection is closed.
 */
static CURLcode perform_wakeable(struct client *c, int wake_fd, bool *woken)
{
    CURLcode cc = CURLE_OK;
    CURLMsg *msg;
    int running = 1, queued;

    *woken = false;
    if (c->multi == NULL && (c->multi = curl_multi_init()) == NULL)
        return CURLE_OUT_OF_MEMORY;
    if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    for (;;) {
        struct curl_waitfd extra = {wake_fd, CURL_WAIT_POLLIN, 0};

        if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
            cc = CURLE_FAILED_INIT;
            break;
        }
        if (running == 0)
            break; /* done: a finished transfer wins over a wake-up */
        if (curl_multi_poll(c->multi, &extra, 1, 1000, NULL) != CURLM_OK) {
            cc = CURLE_FAILED_INIT;
            break;
        }
        if (extra.revents & CURL_WAIT_POLLIN) {
            *woken = true;
            break;
        }
    }
    while (running == 0 && (msg = curl_multi_info_read(c->multi, &queued)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->easy)
            cc = msg->data.result;
    }
    curl_multi_remove_handle(c->multi, c->easy);
    return cc;
}

int client_request_text(struct client *c, const char *method, const char *path, const char *body,
                        const struct client_opts *opts, int *status, char **reply, size_t *len)
{
    struct curl_slist *headers = NULL, *h;
    struct reply_buf buf = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    char *url = NULL, *idem = NULL, *accept = NULL;
    CURLcode cc;
    long code = 0;
    int rc = ERR_NOMEM;

    errmsg[0] = '\0';
    *status = 0;
    *reply = NULL;
    if (len != NULL)
        *len = 0;
    if (method == NULL || !valid_method(method)) {
        set_errmsg("bad HTTP method '%s'", method ? method : "");
        return ERR_INVALID;
    }
    if (path == NULL || path[0] != '/' || !header_safe(path) || strchr(path, ' ') != NULL) {
        set_errmsg("bad request path '%s'", path ? path : "");
        return ERR_INVALID;
    }
    if (opts != NULL && opts->idempotency_key != NULL &&
        (!header_safe(opts->idempotency_key) || *opts->idempotency_key == '\0')) {
        set_errmsg("bad idempotency key: it must be printable text");
        return ERR_INVALID;
    }
    if (opts != NULL && opts->accept != NULL && !header_safe(opts->accept)) {
        set_errmsg("bad Accept header");
        return ERR_INVALID;
    }

    pthread_mutex_lock(&c->lock);
    buf.max = c->reply_max;
    if (asprintf(&url, "%s%s", c->base_url, path) < 0) {
        url = NULL;
        goto out;
    }
    if (asprintf(&accept, "Accept: %s", opts && opts->accept ? opts->accept : "application/json") <
        0) {
        accept = NULL;
        goto out;
    }
    h = curl_slist_append(headers, accept);
    if (h == NULL)
        goto out;
    headers = h;
    if (body != NULL) {
        h = curl_slist_append(headers, "Content-Type: application/json");
        if (h == NULL)
            goto out;
        headers = h;
    }
    h = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    if (h == NULL)
        goto out;
    headers = h;
    if (c->auth_header != NULL) {
        h = curl_slist_append(headers, c->auth_header);
        if (h == NULL)
            goto out;
        headers = h;
    }
    if (opts != NULL && opts->idempotency_key != NULL) {
        if (asprintf(&idem, "Idempotency-Key: %s", opts->idempotency_key) < 0) {
            idem = NULL;
            goto out;
        }
        h = curl_slist_append(headers, idem);
        if (h == NULL)
            goto out;
        headers = h;
    }

    /* reset keeps the live connection, DNS and TLS session caches: only options go */
    curl_easy_reset(c->easy);
    curl_easy_setopt(c->easy, CURLOPT_URL, url);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "gpurent/" GPURENT_VERSION);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->easy, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body ? strlen(body) : 0));
    }
    if (opts != NULL && opts->wake_fd > 0) {
        bool woken;

        cc = perform_wakeable(c, opts->wake_fd, &woken);
        if (woken) {
            set_errmsg("the request to %s was given up (woken)", c->base_url);
            rc = CLIENT_WOKEN;
            goto out;
        }
    } else {
        cc = curl_easy_perform(c->easy);
    }
    if (cc != CURLE_OK) {
        if (buf.too_large) {
            set_errmsg("the reply from %s is larger than %zu bytes", c->base_url, buf.max);
            rc = ERR_OVERFLOW;
        } else if (cc == CURLE_OPERATION_TIMEDOUT) {
            set_errmsg("no reply from %s within %ld ms", c->base_url, c->timeout_ms);
            rc = ERR_IO;
        } else {
            set_errmsg("cannot reach %s: %s", c->base_url,
                       curl_err[0] ? curl_err : curl_easy_strerror(cc));
            rc = ERR_IO;
        }
        goto out;
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    *status = (int)code;
    if (buf.data == NULL) {
        buf.data = strdup("");
        if (buf.data == NULL)
            goto out;
    }
    if (code < 200 || code > 299) {
        set_status_errmsg((int)code, buf.data, buf.len);
        rc = code_for_status((int)code);
    } else {
        rc = 0;
    }
    *reply = buf.data;
    buf.data = NULL;
    if (len != NULL)
        *len = buf.len;
out:
    /* the handle must not keep pointers to what is freed below */
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, NULL);
    pthread_mutex_unlock(&c->lock);
    if (rc == ERR_NOMEM && errmsg[0] == '\0')
        set_errmsg("out of memory");
    curl_slist_free_all(headers);
    free(buf.data);
    free(url);
    free(idem);
    free(accept);
    return rc;
}

int client_request_opts(struct client *c, const char *method, const char *path, const json_t *body,
                        const struct client_opts *opts, int *status, json_t **reply)
{
    char *text = NULL, *out = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    size_t len = 0;
    int rc;

    if (reply != NULL)
        *reply = NULL;
    *status = 0;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        if (text == NULL) {
            set_errmsg("cannot encode the request body");
            return ERR_NOMEM;
        }
    }
    rc = client_request_text(c, method, path, text, opts, status, &out, &len);
    free(text);
    if (out == NULL)
        return rc;
    if (len > 0) {
        root = json_loadb(out, len, 0, &jerr);
        if (root == NULL && rc == 0) {
            set_errmsg("the reply from %s %s is not JSON (line %d: %s)", method, path, jerr.line,
                       jerr.text);
            rc = ERR_INVALID;
        }
    }
    free(out);
    if (reply != NULL)
        *reply = root;
    else
        json_decref(root);
    return rc;
}

int client_request(struct client *c, const char *method, const char *path, const json_t *body,
                   int *status, json_t **reply)
{
    return client_request_opts(c, method, path, body, NULL, status, reply);
}

int client_escape(char *buf, size_t cap, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            if (n + 1 >= cap)
                return ERR_OVERFLOW;
            buf[n++] = (char)ch;
        } else {
            if (n + 3 >= cap)
                return ERR_OVERFLOW;
            buf[n++] = '%';
            buf[n++] = hex[ch >> 4];
            buf[n++] = hex[ch & 15];
        }
    }
    if (n >= cap)
        return ERR_OVERFLOW;
    buf[n] = '\0';
    return 0;
}
