/*
 * fuzz_server.c - a real `gpurent serve` in process for the fuzz targets (fuzz_server.h).
 */
#include "common/compat.h"

#include "fuzz_server.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "engine/engine.h"
#include "store/store.h"

#define FIELDS_MAX 64

static char scratch[512]; /* the process's scratch directory, made at the first open */
static char db_path[600];
static char saved_path[600]; /* fuzz_server_save's copy of the database */
static char saved_secrets[FUZZ_SECRETS_MAX][KEY_TEXT_MAX + 16];
static unsigned saved_secret_count;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_server: %s: %s\n", what, detail);
    abort();
}

static void remove_db(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[700];

    for (size_t i = 0; i < ARRAY_SIZE(suffix); i++) {
        snprintf(p, sizeof(p), "%s%s", db_path, suffix[i]);
        unlink(p);
    }
}

static void remove_scratch(void)
{
    remove_db();
    if (saved_path[0] != '\0')
        unlink(saved_path);
    rmdir(scratch);
}

static void make_scratch(void)
{
    const char *base = getenv("TMPDIR");
    struct stat st;

    if (scratch[0] != '\0')
        return;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    else if (base == NULL || *base == '\0')
        base = "/tmp";
    snprintf(scratch, sizeof(scratch), "%s/gpurent-fuzz-XXXXXX", base);
    if (mkdtemp(scratch) == NULL)
        fail("mkdtemp", scratch);
    snprintf(db_path, sizeof(db_path), "%s/gpurent.db", scratch);
    atexit(remove_scratch);
    if (sodium_init() < 0)
        fail("sodium_init", "failed");
}

static int load_key(void *ctx, const struct key_record *k)
{
    return keyring_add(ctx, k);
}

static int load_idem(void *ctx, const char *scope, const char *key,
                     const unsigned char body_hash[32], int status, const char *reply)
{
    return idem_put(ctx, scope, key, body_hash, status, reply);
}

/* Open the database at db_path as serve_main does, without the HTTP side. */
static void open_server(struct server *s)
{
    static const unsigned char secret[AUTH_SECRET_LEN] = "fuzz-secret-fuzz-secret-fuzz-sec";
    struct core_config cc;
    char err[512];

    memset(s, 0, sizeof(*s));
    snprintf(s->currency, sizeof(s->currency), "CNY");
    snprintf(s->version, sizeof(s->version), "fuzz");
    s->idle_minute_us = 60 * INT64_C(1000000);
    memset(&cc, 0, sizeof(cc));
    cc.db_path = db_path;
    engine_config_defaults(&cc.engine);
    if (core_open(&s->core, &cc, err, sizeof(err)) < 0)
        fail("core_open (a restart must replay what was acknowledged)", err);
    if (store_open_reader(&s->reader, db_path, err, sizeof(err)) < 0 ||
        keyring_init(&s->keys, secret) < 0 || idem_init(&s->idem) < 0 ||
        store_load_keys(core_store(s->core), load_key, &s->keys, err, sizeof(err)) < 0 ||
        store_load_idempotent(core_store(s->core), load_idem, &s->idem, err, sizeof(err)) < 0 ||
        api_load_records(s, core_store(s->core), err, sizeof(err)) < 0)
        fail("server start", err);
    s->started_at = core_clock_now();
}

static void close_server(struct server *s)
{
    store_close_reader(s->reader);
    core_close(s->core);
    keyring_release(&s->keys);
    idem_release(&s->idem);
    api_release_records(s);
    memset(s, 0, sizeof(*s));
}

void fuzz_server_open(struct fuzz_server *fs)
{
    struct store *st;
    struct key_record rec;
    char err[512];

    make_scratch();
    remove_db();
    memset(fs, 0, sizeof(*fs));
    open_server(&fs->srv);
    /* the admin key, stored and added as ensure_admin_key does, before the engine thread */
    st = core_store(fs->srv.core);
    if (keyring_mint(&fs->srv.keys, ROLE_ADMIN, 0, 0, core_clock_now(), fs->secrets[0], &rec) < 0 ||
        store_begin(st, err, sizeof(err)) < 0 || store_put_key(st, &rec, err, sizeof(err)) < 0 ||
        store_commit(st, err, sizeof(err)) < 0 || keyring_add(&fs->srv.keys, &rec) < 0)
        fail("admin key", err);
    fs->secret_count = 1;
    if (core_start(fs->srv.core, err, sizeof(err)) < 0)
        fail("core_start", err);
    fs->open = true;
}

void fuzz_server_close(struct fuzz_server *fs)
{
    if (!fs->open)
        return;
    close_server(&fs->srv);
    open_server(&fs->srv); /* the restart: aborts when the log does not replay */
    fuzz_server_check(fs);
    close_server(&fs->srv);
    remove_db();
    fs->open = false;
}

void fuzz_server_check(struct fuzz_server *fs)
{
    const struct engine *e = core_read_begin(fs->srv.core);
    char detail[512];
    int rc = engine_check(e, detail, sizeof(detail));

    core_read_end(fs->srv.core);
    if (rc != 0)
        fail("engine_check", detail);
}

/* ---- requests --------------------------------------------------------------------------- */

/* A malloc'd copy of s[0..len) with the secrets' slots replaced; NUL-terminated. */
static char *substitute(const struct fuzz_server *fs, const char *s, size_t len, size_t *out_len)
{
    size_t cap = len + 1, n = 0;
    char *out = malloc(cap);

    if (out == NULL)
        fail("substitute", "out of memory");
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        if (s[i] == '$' && i + 1 < len) {
            char c = s[i + 1];
            int slot = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (slot >= 0 && (unsigned)slot < fs->secret_count)
                rep = fs->secrets[slot];
        }
        if (rep != NULL) {
            size_t rl = strlen(rep);
            char *grown;
            cap += rl;
            grown = realloc(out, cap);
            if (grown == NULL)
                fail("substitute", "out of memory");
            out = grown;
            memcpy(out + n, rep, rl);
            n += rl;
            i++;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    if (out_len != NULL)
        *out_len = n;
    return out;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s in place, as libmicrohttpd does (a %00 ends the text). */
static void unescape(char *s)
{
    char *w = s;

    for (char *r = s; *r; r++) {
        if (r[0] == '%' && hex(r[1]) >= 0 && hex(r[2]) >= 0) {
            *w++ = (char)(hex(r[1]) * 16 + hex(r[2]));
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* Split "name=value&..." (in place) into fields; a name without "=" has a NULL value. */
static size_t split_query(char *q, struct http_field *f, size_t max)
{
    size_t n = 0;

    while (q != NULL && *q && n < max) {
        char *amp = strchr(q, '&'), *eq;
        if (amp != NULL)
            *amp = '\0';
        eq = strchr(q, '=');
        if (eq != NULL)
            *eq = '\0';
        unescape(q);
        if (eq != NULL)
            unescape(eq + 1);
        f[n].name = q;
        f[n].value = eq != NULL ? eq + 1 : NULL;
        n++;
        q = amp != NULL ? amp + 1 : NULL;
    }
    return n;
}

/* Keep the "gpr_..." and "gjt_..." strings of a reply, in order, once each. */
static void keep_secrets(struct fuzz_server *fs, const char *text)
{
    for (const char *p = text; p != NULL && *p; p++) {
        size_t len = 0;
        char tok[KEY_TEXT_MAX + 16];
        bool known = false;

        if (strncmp(p, "gpr_", 4) != 0 && strncmp(p, "gjt_", 4) != 0 && strncmp(p, "key_", 4) != 0)
            continue;
        while (len < sizeof(tok) - 1 &&
               ((p[len] >= '0' && p[len] <= '9') || (p[len] >= 'a' && p[len] <= 'z') ||
                (p[len] >= 'A' && p[len] <= 'Z') || p[len] == '_'))
            len++;
        memcpy(tok, p, len);
        tok[len] = '\0';
        p += len - 1;
        for (unsigned i = 0; i < fs->secret_count && !known; i++)
            known = strcmp(fs->secrets[i], tok) == 0;
        /* whole keys (40), join tokens (36) and key ids (17), not a key's shown prefix */
        if (!known && len >= 17 && fs->secret_count < FUZZ_SECRETS_MAX)
            memcpy(fs->secrets[fs->secret_count++], tok, len + 1);
    }
}

static bool known_status(int status)
{
    static const int statuses[] = {200, 201, 202, 204, 400, 401, 402, 403,
                                   404, 405, 409, 413, 415, 422, 429};

    for (size_t i = 0; i < ARRAY_SIZE(statuses); i++) {
        if (statuses[i] == status)
            return true;
    }
    return false;
}

/* The reply's shape: aborts with what is wrong. */
static void check_reply(const struct fuzz_request *rq, const struct response *res)
{
    const char *ct = res->content_type ? res->content_type : "application/json";
    char what[256];

    snprintf(what, sizeof(what), "%s %.150s -> %d", rq->method, rq->target, res->status);
    if (!known_status(res->status))
        fail(what, res->body ? res->body : "(no body)");
    if (strstr(ct, "json") != NULL && res->body != NULL && res->body[0] != '\0') {
        json_error_t jerr;
        json_t *j = json_loads(res->body, 0, &jerr);
        if (j == NULL)
            fail(what, "the reply is not JSON");
        if (strcmp(ct, "application/problem+json") == 0 &&
            (json_integer_value(json_object_get(j, "status")) != res->status ||
             !json_is_string(json_object_get(j, "detail"))))
            fail(what, "a problem whose status or detail is wrong");
        json_decref(j);
    }
    if (res->status >= 400 && strcmp(ct, "application/problem+json") != 0)
        fail(what, "an error that is not problem+json");
}

int fuzz_server_request(struct fuzz_server *fs, const struct fuzz_request *rq, char **body)
{
    struct http_field query[FIELDS_MAX], headers[FIELDS_MAX];
    char *header_values[FIELDS_MAX];
    struct http_local_request in;
    struct response res;
    char *target, *q, *req_body;
    size_t nh = 0, body_len;
    bool has_type = false;
    int status;

    target = substitute(fs, rq->target, strlen(rq->target), NULL);
    req_body = substitute(fs, rq->body ? rq->body : "", rq->body ? rq->body_len : 0, &body_len);
    memset(&in, 0, sizeof(in));
    in.method = rq->method;
    q = strchr(target, '?');
    if (q != NULL)
        *q++ = '\0';
    unescape(target);
    in.path = target;
    in.query = query;
    in.query_count = split_query(q, query, FIELDS_MAX);
    for (size_t i = 0; i < rq->header_count && nh < FIELDS_MAX - 1; i++, nh++) {
        const char *v = rq->headers[i].value;
        header_values[nh] = substitute(fs, v, strlen(v), NULL);
        headers[nh].name = rq->headers[i].name;
        headers[nh].value = header_values[nh];
        has_type = has_type || strcasecmp(headers[nh].name, "Content-Type") == 0;
    }
    if (!has_type) { /* what every client sends with a body; inputs may set another */
        header_values[nh] = strdup("application/json");
        headers[nh].name = "Content-Type";
        headers[nh].value = header_values[nh];
        nh++;
    }
    in.headers = headers;
    in.header_count = nh;
    in.body = req_body;
    in.body_len = body_len;
    http_handle_local(&fs->srv, &in, &res);
    if (getenv("FUZZ_VERBOSE") != NULL) /* to see what a seed does */
        fprintf(stderr, "%s %s -> %d %.300s\n", in.method, rq->target, res.status,
                res.body ? res.body : "");
    check_reply(rq, &res);
    keep_secrets(fs, res.body);
    for (unsigned i = 0; getenv("FUZZ_VERBOSE") != NULL && i < fs->secret_count; i++)
        fprintf(stderr, "  $%x = %s\n", i, fs->secrets[i]);
    status = res.status;
    if (body != NULL) {
        *body = res.body;
        res.body = NULL;
    }
    http_response_release(&res);
    for (size_t i = 0; i < nh; i++)
        free(header_values[i]);
    free(target);
    free(req_body);
    return status;
}

/* ---- the text form of requests -------------------------------------------------------- */

bool fuzz_script_next(char **cursor, struct fuzz_request *rq, struct http_field *headers,
                      size_t max)
{
    char *chunk = *cursor, *end, *nl, *sp, *line;

    if (chunk == NULL)
        return false;
    end = strstr(chunk, FUZZ_SEPARATOR);
    if (end != NULL) {
        *end = '\0';
        *cursor = end + strlen(FUZZ_SEPARATOR);
    } else {
        *cursor = NULL;
    }
    memset(rq, 0, sizeof(*rq));
    nl = strchr(chunk, '\n');
    if (nl != NULL)
        *nl = '\0';
    sp = strchr(chunk, ' ');
    if (sp != NULL)
        *sp = '\0';
    rq->method = chunk;
    rq->target = sp != NULL ? sp + 1 : "";
    rq->headers = headers;
    line = nl != NULL ? nl + 1 : NULL;
    while (line != NULL && *line != '\0' && *line != '\n') {
        char *colon, *value;
        nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        colon = strchr(line, ':');
        if (colon != NULL && rq->header_count < max) {
            *colon = '\0';
            value = colon + 1;
            while (*value == ' ')
                value++;
            headers[rq->header_count].name = line;
            headers[rq->header_count].value = value;
            rq->header_count++;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (line != NULL && *line == '\n')
        line++;
    rq->body = line != NULL ? line : "";
    rq->body_len = strlen(rq->body);
    return true;
}

/* ---- a fleet to start from ------------------------------------------------------------ */

void fuzz_server_script(struct fuzz_server *fs, const char *script, int max)
{
    struct http_field headers[FIELDS_MAX];
    struct fuzz_request rq;
    char *text = strdup(script), *cursor = text;

    if (text == NULL)
        fail("script", "out of memory");
    for (int i = 0; i < max && fuzz_script_next(&cursor, &rq, headers, FIELDS_MAX); i++)
        fuzz_server_request(fs, &rq, NULL);
    free(text);
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t n;

    if (in == NULL || out == NULL)
        fail("copy", from);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (fwrite(buf, 1, n, out) != n)
            fail("copy", to);
    }
    fclose(in);
    if (fclose(out) != 0)
        fail("copy", to);
}

/* Stop the server, keeping a copy of its database and its secrets. */
static void save_server(struct fuzz_server *fs)
{
    close_server(&fs->srv); /* the last connection checkpoints the WAL into the file */
    snprintf(saved_path, sizeof(saved_path), "%s/saved.db", scratch);
    copy_file(db_path, saved_path);
    memcpy(saved_secrets, fs->secrets, sizeof(saved_secrets));
    saved_secret_count = fs->secret_count;
    remove_db();
    fs->open = false;
}

/* Start a server on a fresh copy of what fuzz_server_save kept (replaying its log). */
static void restore_server(struct fuzz_server *fs)
{
    char err[512];

    if (saved_path[0] == '\0')
        fail("restore", "nothing saved");
    remove_db();
    copy_file(saved_path, db_path);
    memset(fs, 0, sizeof(*fs));
    open_server(&fs->srv);
    memcpy(fs->secrets, saved_secrets, sizeof(saved_secrets));
    fs->secret_count = saved_secret_count;
    if (core_start(fs->srv.core, err, sizeof(err)) < 0)
        fail("core_start", err);
    fs->open = true;
}

/* The fleet's script (fleet.txt, in the text form), read once. */
static char *fleet_script(void)
{
    static char *text;
    FILE *f;
    long len;

    if (text != NULL)
        return text;
    f = fopen(GPURENT_FUZZ_DIR "/fleet.txt", "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (text = calloc(1, (size_t)len + 1)) == NULL ||
        fread(text, 1, (size_t)len, f) != (size_t)len)
        fail("cannot read", GPURENT_FUZZ_DIR "/fleet.txt");
    fclose(f);
    return text;
}

void fuzz_server_open_fleet(struct fuzz_server *fs)
{
    if (saved_path[0] == '\0') {
        fuzz_server_open(fs);
        fuzz_server_script(fs, fleet_script(), 100);
        save_server(fs);
    }
    restore_server(fs);
}
