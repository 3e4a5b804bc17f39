/*
 * handlers.h - the REST handlers, one file per resource under src/server/api/, and the
 * route table (src/server/routes.c) that names them.
 *
 * Each handler answers one route of ../../shared/API.md (docs/openapi.yaml describes them
 * all). The dispatcher has checked the caller's key and role before a handler runs; a
 * handler checks everything else: the body (400 naming the field), tenant scoping (another
 * tenant's id is a 404), and turns engine results into statuses with http_status_for.
 * Reads hold the engine's read lock (core_read_begin/end) only while building the reply's
 * JSON; writes go through core_submit as a `struct core_job` with hooks that run on the
 * engine thread.
 */
#ifndef GPURENT_API_HANDLERS_H
#define GPURENT_API_HANDLERS_H

#include "../http.h"

/* platform.c */
void api_healthz(struct request *req, struct response *res);
void api_metrics(struct request *req, struct response *res);
void api_platform(struct request *req, struct response *res);

/* tenants.c */
void api_tenant_create(struct request *req, struct response *res);
void api_tenant_list(struct request *req, struct response *res);
void api_tenant_get(struct request *req, struct response *res);
void api_tenant_update(struct request *req, struct response *res);
void api_tenant_credit(struct request *req, struct response *res);
void api_tenant_adjust(struct request *req, struct response *res);
void api_balance(struct request *req, struct response *res);
void api_key_create(struct request *req, struct response *res);
void api_key_list(struct request *req, struct response *res);
void api_key_revoke(struct request *req, struct response *res);
void api_key_rotate(struct request *req, struct response *res);

/* prices.c */
void api_price_set(struct request *req, struct response *res);
void api_price_list(struct request *req, struct response *res);
void api_offer_list(struct request *req, struct response *res);
void api_coupon_create(struct request *req, struct response *res);

/* rentals.c */
void api_quote(struct request *req, struct response *res);
void api_rental_create(struct request *req, struct response *res);
void api_rental_list(struct request *req, struct response *res);
void api_rental_get(struct request *req, struct response *res);
void api_rental_stop(struct request *req, struct response *res);

/* hosts.c */
void api_join_token_create(struct request *req, struct response *res);
void api_agent_register(struct request *req, struct response *res);
void api_agent_heartbeat(struct request *req, struct response *res);
void api_host_list(struct request *req, struct response *res);
void api_host_get(struct request *req, struct response *res);
void api_host_drain(struct request *req, struct response *res);
void api_host_undrain(struct request *req, struct response *res);
void api_host_cost(struct request *req, struct response *res);

/* usage.c */
void api_usage(struct request *req, struct response *res);
void api_invoice(struct request *req, struct response *res);

/* economics.c */
void api_economics(struct request *req, struct response *res);
void api_whatif(struct request *req, struct response *res);

/* what the web console needs beyond the above: telemetry.c, economics.c, prices.c */
void api_rental_telemetry(struct request *req, struct response *res);
void api_economics_series(struct request *req, struct response *res);
void api_coupon_list(struct request *req, struct response *res);

#endif
