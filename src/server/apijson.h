/*
 * apijson.h - the JSON side of the REST handlers: reading request bodies strictly, writing
 * the API's objects (rentals, tenants, hosts, offers), lists, problems and the glue that turns
 * an engine job into a response.
 *
 * Reading. api_body() parses a request body into an object (400 with "line L column C: ..."
 * when it is not JSON, 400 when it is not an object). Fields are read through a `struct
 * api_fields` with a sticky error: each getter checks the type and range, names the field in
 * the first error it meets ("gpu_count: must be an integer from 1 to 32"), and later getters
 * do nothing once one failed, so a handler reads every field and tests `api_failed` once.
 * Money is always a JSON string in the money_parse grammar; a JSON number for money is an
 * error. Optional fields that are absent or null leave *out untouched and return false.
 *
 * Writing. Money is written with money_format, times as RFC 3339 (null for 0), ids with
 * id_format (null for 0). Every json_t returned is a new reference owned by the caller;
 * the api_reply* functions steal the one they are given.
 *
 * The view builders read the engine: call them between core_read_begin/core_read_end or in
 * a job's hook on the engine thread.
 */
#ifndef GPURENT_APIJSON_H
#define GPURENT_APIJSON_H

#include "../common/compat.h"

#include <jansson.h>

#include "../engine/engine.h"
#include "core.h"
#include "http.h"

struct server;
struct store;
struct api_records;

/* The id prefixes of the API. */
#define ID_TENANT "tnt"
#define ID_HOST   "hst"
#define ID_RENTAL "rnt"
#define ID_COUPON "cpn"
#define ID_KEY    "key"

/* The largest object number an id may decode to (the command log keeps int64 numbers); a
 * well-formed id beyond it is an unknown id. */
#define ID_NUMBER_MAX ((uint64_t)INT64_MAX)

#define API_DETAIL_MAX    256
#define API_LIMIT_DEFAULT 50
#define API_LIMIT_MAX     500

/* ---- Reading -------------------------------------------------------------------------- */

/* The first error met while reading a body (shared by nested field readers). */
struct api_error {
    bool failed;
    int status; /* 400 unless a getter says otherwise */
    char detail[API_DETAIL_MAX];
};

/* One JSON object being read. prefix names it in errors ("workload." or "gpus[2]."). */
struct api_fields {
    const json_t *obj;     /* borrowed */
    char prefix[64];       /* "" at the top level */
    struct api_error *err; /* borrowed; shared with nested readers */
};

/* Which bodies a route takes. */
enum api_body_kind {
    API_BODY_REQUIRED, /* a JSON object must be sent */
    API_BODY_OPTIONAL, /* an empty body reads as {} */
};

/*
 * Parse req's body as a JSON object. Returns it (owned: json_decref), or NULL with a 400
 * problem already written to res (not JSON, too deep, not an object, missing).
 */
json_t *api_body(const struct request *req, struct response *res, enum api_body_kind kind);

/* Start reading obj (borrowed) at the top level, or nested under parent's field name. */
void api_fields_init(struct api_fields *f, const json_t *obj, struct api_error *err);
void api_fields_nested(struct api_fields *f, const struct api_fields *parent, const char *name,
                       const json_t *obj);
void api_fields_element(struct api_fields *f, const struct api_fields *parent, const char *name,
                        size_t index, const json_t *obj);

/* Record an error naming nothing in particular (the first one wins). */
void api_fail(struct api_fields *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record an error about field name: "<prefix><name>: <text>". */
void api_fail_field(struct api_fields *f, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool api_failed(const struct api_fields *f);

/* Refuse any member not in allowed (NULL-terminated): 400 unknown field "x". */
void api_only_fields(struct api_fields *f, const char *const *allowed);

/*
 * Getters: true when the field is present and valid (and *out set). A required field that is
 * absent or null is an error ("name: required"); an optional one returns false.
 */
bool api_get_string(struct api_fields *f, const char *name, bool required, size_t max_len,
                    const char **out);
bool api_get_int(struct api_fields *f, const char *name, bool required, int64_t min, int64_t max,
                 int64_t *out);
bool api_get_bool(struct api_fields *f, const char *name, bool required, bool *out);
/* Money: a decimal string; min is the smallest amount accepted (0 or 1 usually). */
bool api_get_money(struct api_fields *f, const char *name, bool required, int64_t min,
                   int64_t *out);
/* A number (integer or real) within [min, max]. */
bool api_get_number(struct api_fields *f, const char *name, bool required, double min, double max,
                    double *out);
/* An RFC 3339 time as µs. */
bool api_get_time(struct api_fields *f, const char *name, bool required, int64_t *out);
/* An id string of the given prefix, decoded; max bounds the number (UINT32_MAX for tenants). */
bool api_get_id(struct api_fields *f, const char *name, bool required, const char *prefix,
                uint64_t max, uint64_t *out);
/* A member of the given JSON type (JSON_OBJECT, JSON_ARRAY), borrowed. */
bool api_get_member(struct api_fields *f, const char *name, bool required, json_type type,
                    const json_t **out);

/* Is s (a path segment or query argument, percent-decoded: any bytes) UTF-8 text without
 * control characters? What reaches a command must be: the command log is JSON. */
bool api_text_ok(const char *s);

/* Decode a path id: 0 and *out, or ERR_NOTFOUND (malformed ids, and ids of a number no
 * object can have (0, beyond max), are unknown ids). */
int api_parse_id(const char *prefix, const char *s, uint64_t max, uint64_t *out);
/* Decode an id a body or query names: 0 and *out, or ERR_INVALID when s is not an id of
 * prefix (a 400 naming the field). A well-formed id of a number no object can have (0, beyond
 * max; ids are keyed, so any 13 characters decode to some number) gives *out = max, a number
 * no object has (UINT32_MAX for 32-bit objects, ID_NUMBER_MAX or UINT64_MAX for rentals): the
 * caller's lookup answers "unknown" exactly as for any other id that names nothing. */
int api_name_id(const char *prefix, const char *s, uint64_t max, uint64_t *out);

/* Pagination arguments of a list: limit (1..500, default 50) and cursor (the last id seen). */
struct api_page {
    uint32_t limit;
    bool has_cursor;
    uint64_t cursor; /* the number behind the cursor id */
};
/* Read ?limit=&cursor= (cursor of the given id prefix). 0, or -1 with a 400 written to res. */
int api_page_parse(const struct request *req, struct response *res, const char *prefix,
                   struct api_page *out);

/* A query argument parsed as RFC 3339 / a bounded integer: 0 (absent: *out untouched),
 * or -1 with a 400 written to res. */
int api_query_time(const struct request *req, struct response *res, const char *name, int64_t *out);
int api_query_int(const struct request *req, struct response *res, const char *name, int64_t min,
                  int64_t max, int64_t *out);
/* The tenant a query names: ?tenant_id= or ?tenant= (the same parameter under both names,
   on every route that takes one), NULL when neither. 0, or -1 with a 400 written when the
   two name different tenants. */
int api_query_tenant(const struct request *req, struct response *res, const char **out);
/* Refuse a query argument not in allowed (NULL-terminated): a misspelt filter would
   otherwise list everything. 0, or -1 with a 400 written. */
int api_only_query(const struct request *req, struct response *res, const char *const *allowed);

/* ---- Writing -------------------------------------------------------------------------- */

json_t *api_money(int64_t v);
json_t *api_time(int64_t t); /* null for 0 */
/* "YYYY-MM" (1970-01 to 9999-12) as its month index (time_month_index): 0, or ERR_INVALID. */
int api_parse_month(const char *s, int64_t *index);
json_t *api_id(const char *prefix, uint64_t n); /* null for 0 */
json_t *api_ratio(double v);                    /* a JSON real; null when not finite */

/* The API objects. e is read for names and GPU lists. */
json_t *api_rental_json(const struct engine *e, const struct rental_view *v);
json_t *api_tenant_json(const struct tenant_view *v);
/* A host; with_gpus adds its GPUs, each with its last telemetry from rec (may be NULL). */
json_t *api_host_json(const struct engine *e, const struct host_view *v, bool with_gpus,
                      struct api_records *rec);
json_t *api_offer_json(const struct offer_view *v);
/* Is the GPU of this uuid simulated (agents' simulated back-end: "GPU-SIM-...")? A real
 * NVIDIA uuid is "GPU-" and hex, so the two cannot be confused. */
bool api_gpu_simulated(const char *uuid);
json_t *api_prices_json(const struct offer_view *v); /* a model's prices only */

/* Compact JSON text of j (owned: free), or NULL on ERR_NOMEM. Steals j. */
char *api_dump(json_t *j);

/* Reply with j (stolen) as the body; 500 when j is NULL or cannot be written. */
void api_reply(struct response *res, int status, json_t *j);
/* Reply with a list page: {"data": data (stolen), "next_cursor": cursor or null}. */
void api_reply_list(struct response *res, json_t *data, const char *next_cursor);

/* A problem+json body as malloc'd text, for hooks that answer on the engine thread. */
char *api_problem_text(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * For hooks: set job's reply to j (stolen) with status. A reply that cannot be written (out
 * of memory) becomes a 500 for this request without failing the batch: the change itself is
 * made. Returns 0, so a hook can `return api_job_reply(...)`.
 */
int api_job_reply(struct core_job *job, int status, json_t *j);
/* For hooks: answer with a problem instead of the command's result. Returns 0. */
int api_job_problem(struct core_job *job, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A problem reply for an engine result. */
void api_problem_result(struct response *res, const struct result *r);

/*
 * Submit job to the core and turn its outcome into res: a reply set by a hook (status and
 * text; 4xx/5xx bodies as problem+json), else the command's error as a problem, else
 * job->status (200 when 0) with an empty object. A store failure is a 503.
 */
void api_submit(struct request *req, struct response *res, struct core_job *job);
/* api_submit for a route that takes no fields (a POST like stop or drain): no body or `{}`;
 * any field is a 400 naming it, and nothing is submitted. */
void api_submit_no_fields(struct request *req, struct response *res, struct core_job *job);

/* ---- Workloads ------------------------------------------------------------------------ */

/*
 * A rental's workload ({command, env, image, restart} as compact JSON) is a server record
 * beside the engine (the engine only knows that there is one): written in the batch that
 * creates the rental, read when an agent asks what to run.
 */
#define API_WORKLOAD_MAX (64 * 1024)
/* The store_meta name of a rental's workload: "workload:rnt_...". */
void api_workload_name(char *buf, size_t cap, uint64_t rental);

/*
 * A rental that ended failed_to_start keeps its agent's words for why (`end_detail`, e.g.
 * "cannot run python3: No such file or directory"): a server record like the workload,
 * written in the batch of the heartbeat that reported the failure. api_rental_json sets
 * end_detail null; api_rental_end_detail fills it in for such a rental from st (the engine
 * thread's store, in a hook) or else r (the reporting reader, in an HTTP thread, after
 * core_read_end).
 */
#define API_END_DETAIL_MAX 1024
int api_end_detail_put(struct store *st, uint64_t rental, const char *detail, char *err,
                       size_t cap);
struct store_reader;
void api_rental_end_detail(json_t *rental, struct store *st, struct store_reader *r);

/* ---- Idempotency-Key ------------------------------------------------------------------ */

/*
 * The replay of a first response for a repeated (caller, route, key). A handler embeds one
 * in its job context, fills it with api_idem_init, and calls api_idem_before from its
 * `before` hook and api_idem_after from its `after` hook once the command succeeded; both
 * run on the engine thread, so two requests with one key are serialised there.
 */
struct api_idem {
    struct server *srv; /* borrowed */
    const char *key;    /* the header, borrowed; NULL when the request has none */
    char scope[160];    /* caller + method + path */
    unsigned char hash[32];
    bool replayed; /* set by api_idem_before: the reply is the stored one */
};

/* Read the Idempotency-Key header: 0 (with or without a key), or -1 with a 400 in res. */
int api_idem_init(struct api_idem *im, struct request *req, struct response *res);
/* 1 when the job is answered (a replay, or 422 for a different body), 0 to apply it. */
int api_idem_before(struct api_idem *im, struct core_job *job);
/* Remember job->status and job->reply for the key, in memory and in the batch's
 * transaction. 0, or ERR_IO / ERR_NOMEM (which fails the batch). */
int api_idem_after(struct api_idem *im, struct core_job *job, struct store *store);

/* "admin", "agent:hst_..." or the tenant's id: the scope of idempotency keys. */
void api_caller_scope(const struct request *req, char *buf, size_t cap);

#endif
