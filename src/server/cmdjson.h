/*
 * cmdjson.h - engine commands as JSON text: the command log's format.
 *
 * Every command the server applies is encoded here and written to the store's log in the
 * same transaction as its effects; at start the log is decoded and replayed. The encoding
 * is complete (every field of every command type) and stable: a field added later gets a
 * default when absent, so old logs stay readable. Money is a decimal string, times are
 * integer microseconds.
 *
 * The format: one object, "type" first, then the fields of the command's struct in
 * engine.h under their C names:
 *
 *   {"type":"rental_create","tenant":3,"gpu_model":"A100-80G","gpu_count":2,"term":"spot",
 *    "max_hourly":"4.00","coupon":"WELCOME","queue":true,"auto_renew":false,"max_cost":"0.00",
 *    "max_duration":7200000000,"has_workload":true,"restart":"on_failure"}
 *
 *   type           tenant_create, tenant_update, credit, price_set, coupon_create,
 *                  host_register, host_cost, host_drain, host_undrain, host_report,
 *                  rental_create, rental_stop (CMD_*, lower-case)
 *   integers       tenant, host, rental numbers, counts, basis points, ppm, epoch, exit_code
 *   times          valid_until, max_duration, purchased_at: integer µs
 *   money          decimal strings ("7.60", "-1.50"), exactly money_format/money_parse
 *   strings        omitted when NULL (null is accepted and means NULL)
 *   enums          term_name ("on_demand"...; coupon_create's term may be "any" = -1, which
 *                  is also its default), restart_policy_name, report states "starting",
 *                  "running", "exited", "failed"
 *   price_set      "package": {"day": money, "week": money, "month": money}
 *   host_cost      "cost": {purchase_price, purchased_at, depreciation_years, salvage_ppm,
 *                  power_watts, pue_milli, electricity_kwh_price, hosting_monthly}
 *   host_register  "gpus": [{index, uuid, model, memory_mib, nvlink_island}] (gpu_count is
 *                  the array's length, at most MAX_GPUS_PER_HOST)
 *   host_report    "reports": [{rental, epoch, state, exit_code}] (count is the length)
 *
 * Decoding is strict: an unknown type or field, a value of the wrong JSON type, an integer
 * out of its C type's range, a bad money string or enum name, duplicate keys: ERR_INVALID
 * with the path of the culprit (rental_create.term: unknown term "year"). Absent fields
 * take the engine's zeroed-struct defaults (0, NULL, false, the first enum value).
 */
#ifndef GPURENT_CMDJSON_H
#define GPURENT_CMDJSON_H

#include "../common/compat.h"
#include "../engine/engine.h"

/* Encode cmd: a malloc'd NUL-terminated string (caller frees), or NULL when out of memory
 * or when cmd cannot be represented, so that nothing is logged that would not decode: an
 * unknown type, an enum out of range, money beyond +-MONEY_MAX, a string that is not UTF-8,
 * a rental number above INT64_MAX, reports/gpus NULL with a non-zero count. */
char *cmdjson_encode(const struct command *cmd);

/*
 * A decoded command. cmd's borrowed pointers (strings, gpu and report arrays) point into
 * storage owned by this struct, valid until cmdjson_release. cmd.u.host_register.gpus points
 * at this struct's own gpus[]: do not copy the struct, pass its address.
 */
struct cmdjson_decoded {
    struct command cmd;
    void *root; /* owned: the parsed JSON document the strings live in */
    struct gpu_spec gpus[MAX_GPUS_PER_HOST];
    struct rental_report *reports; /* owned */
};

/* Decode text: 0 and *out filled (release it), or ERR_INVALID (ERR_NOMEM) with the reason in
 * err; on failure *out holds nothing (releasing it is harmless). */
int cmdjson_decode(struct cmdjson_decoded *out, const char *text, char *err, size_t cap);
void cmdjson_release(struct cmdjson_decoded *d);

#endif
