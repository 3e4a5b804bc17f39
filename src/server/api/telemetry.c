/*
 * telemetry.c - GET /v1/rentals/{id}/telemetry: what a rental's GPUs reported over time.
 *
 * The samples are the API layer's in-memory history (records.h): each GPU's last
 * TELEMETRY_HISTORY heartbeat reports, forgotten at a restart. A rental's series are the
 * reports of its GPUs made while it held them (from placement to its end), so a GPU's
 * earlier or later tenant is never shown. Another tenant's rental is a 404.
 */
#include "../../common/compat.h"

#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../apijson.h"
#include "../server.h"
#include "handlers.h"
#include "records.h"

static json_t *sample_json(const struct gpu_telemetry *t)
{
    json_t *j = json_object();

    json_object_set_new(j, "at", api_time(t->at));
    json_object_set_new(j, "util_pct", t->has_util ? json_real(t->util_pct) : json_null());
    json_object_set_new(j, "mem_used_mib",
                        t->has_mem ? json_integer(t->mem_used_mib) : json_null());
    json_object_set_new(j, "power_w", t->has_power ? json_real(t->power_w) : json_null());
    json_object_set_new(j, "temp_c", t->has_temp ? json_real(t->temp_c) : json_null());
    return j;
}

void api_rental_telemetry(struct request *req, struct response *res)
{
    struct gpu_view gpus[MAX_GPUS_PER_HOST];
    struct gpu_telemetry *buf;
    const struct engine *e;
    struct rental_view v;
    json_t *j = NULL, *arr;
    uint64_t id;
    int64_t from, to;
    int n = 0;

    if (api_parse_id(ID_RENTAL, req->params[0], ID_NUMBER_MAX, &id) < 0) {
        http_problem(res, 404, "unknown rental \"%.40s\"", req->params[0]);
        return;
    }
    buf = malloc(TELEMETRY_HISTORY * sizeof(*buf));
    if (buf == NULL) {
        http_problem(res, 500, "out of memory");
        return;
    }
    e = core_read_begin(req->srv->core);
    if (engine_rental(e, id, &v) == 0 &&
        (req->who.role == ROLE_ADMIN || v.tenant == req->who.tenant)) {
        arr = json_array();
        from = v.placed_at;
        to = v.ended_at ? v.ended_at : INT64_MAX;
        if (v.host != 0 && v.placed_at != 0)
            n = engine_host_gpus(e, v.host, gpus, MAX_GPUS_PER_HOST);
        for (int i = 0; i < n; i++) {
            json_t *g, *samples;
            uint32_t k, got;

            if (!((v.gpu_mask >> gpus[i].index) & 1))
                continue;
            got = api_telemetry_history(req->srv->api, gpus[i].uuid, from, to, buf,
                                        TELEMETRY_HISTORY);
            samples = json_array();
            for (k = 0; k < got; k++)
                json_array_append_new(samples, sample_json(&buf[k]));
            g = json_object();
            json_object_set_new(g, "index", json_integer(gpus[i].index));
            json_object_set_new(g, "uuid", json_string(gpus[i].uuid));
            json_object_set_new(g, "simulated", json_boolean(api_gpu_simulated(gpus[i].uuid)));
            json_object_set_new(g, "samples", samples);
            json_array_append_new(arr, g);
        }
        j = json_object();
        json_object_set_new(j, "object", json_string("rental_telemetry"));
        json_object_set_new(j, "rental_id", api_id(ID_RENTAL, v.id));
        json_object_set_new(j, "host_id", api_id(ID_HOST, v.host));
        json_object_set_new(j, "gpus", arr);
    }
    core_read_end(req->srv->core);
    free(buf);
    if (j == NULL) {
        http_problem(res, 404, "unknown rental \"%.40s\"", req->params[0]);
        return;
    }
    api_reply(res, 200, j);
}
