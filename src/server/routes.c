/*
 * routes.c - the route table: every REST route, who may call it, and what it does.
 *
 * docs/openapi.yaml describes each route of this table and nothing else; test_routes keeps
 * the two in step. Patterns are matched segment by segment; {name} matches one non-empty
 * segment and is handed to the handler in req->params, in order.
 *
 * Each entry is ROUTE(...) or, for a route that creates something, CREATE_ROUTE(...) (the
 * stricter rate limit): a route without roles does not compile (http.h). A new route also
 * needs a case in tests/api/test_authz.py, whose matrix is generated from this table.
 */
#include "../common/compat.h"

#include "api/handlers.h"
#include "http.h"

#define STAFF (ROLE_ADMIN | ROLE_TENANT) /* the operator and customers, not agents */

const struct route http_routes[] = {
    /* platform */
    ROUTE("GET", "/healthz", api_healthz, ROLE_PUBLIC, "liveness: {\"status\":\"ok\"}"),
    ROUTE("GET", "/metrics", api_metrics, ROLE_PUBLIC, "Prometheus text exposition"),
    ROUTE("GET", "/v1/platform", api_platform, ROLE_ANY, "currency, version and server time"),

    /* tenants, money, keys */
    CREATE_ROUTE("POST", "/v1/tenants", api_tenant_create, ROLE_ADMIN,
                 "create a tenant and its first key"),
    ROUTE("GET", "/v1/tenants", api_tenant_list, ROLE_ADMIN, "list tenants"),
    ROUTE("GET", "/v1/tenants/{id}", api_tenant_get, ROLE_ADMIN, "one tenant with its balance"),
    ROUTE("PATCH", "/v1/tenants/{id}", api_tenant_update, ROLE_ADMIN,
          "change a tenant's credit limit or monthly budget"),
    CREATE_ROUTE("POST", "/v1/tenants/{id}/credits", api_tenant_credit, ROLE_ADMIN,
                 "top up a tenant's balance (Idempotency-Key)"),
    ROUTE("GET", "/v1/balance", api_balance, ROLE_TENANT,
          "the caller's balance, burn rate and runway"),
    ROUTE("GET", "/v1/usage", api_usage, STAFF,
          "line items over a period: per rental and kind of charge (JSON or CSV)"),
    ROUTE("GET", "/v1/invoices/{month}", api_invoice, STAFF,
          "a calendar month's line items and total"),
    CREATE_ROUTE("POST", "/v1/keys", api_key_create, STAFF, "create another API key (shown once)"),
    ROUTE("GET", "/v1/keys", api_key_list, STAFF, "list API keys"),
    ROUTE("DELETE", "/v1/keys/{id}", api_key_revoke, STAFF, "revoke an API key"),
    CREATE_ROUTE("POST", "/v1/keys/{id}/rotate", api_key_rotate, STAFF,
                 "replace an API key: a new secret (shown once), the old one revoked at once"),

    /* catalogue and prices */
    ROUTE("PUT", "/v1/prices/{gpu_model}", api_price_set, ROLE_ADMIN,
          "set the prices of a GPU model"),
    ROUTE("GET", "/v1/prices", api_price_list, ROLE_ANY, "all models' prices"),
    ROUTE("GET", "/v1/offers", api_offer_list, STAFF, "what can be rented now, per GPU model"),
    CREATE_ROUTE("POST", "/v1/coupons", api_coupon_create, ROLE_ADMIN,
                 "create a coupon or promotion"),

    /* rentals */
    ROUTE("POST", "/v1/quotes", api_quote, STAFF, "the exact price of a rental before creating it"),
    CREATE_ROUTE("POST", "/v1/rentals", api_rental_create, STAFF, "rent GPUs (Idempotency-Key)"),
    ROUTE("GET", "/v1/rentals", api_rental_list, STAFF, "list rentals, newest first"),
    ROUTE("GET", "/v1/rentals/{id}", api_rental_get, STAFF, "one rental"),
    ROUTE("POST", "/v1/rentals/{id}/stop", api_rental_stop, STAFF, "end a rental now"),

    /* hosts and agents */
    CREATE_ROUTE("POST", "/v1/join-tokens", api_join_token_create, ROLE_ADMIN,
                 "a one-use token that lets a new host register"),
    CREATE_ROUTE("POST", "/v1/agent/register", api_agent_register, ROLE_PUBLIC,
                 "register a host with a join token"),
    ROUTE("POST", "/v1/agent/heartbeat", api_agent_heartbeat, ROLE_AGENT,
          "report what the host runs; the reply is what it should run"),
    ROUTE("GET", "/v1/hosts", api_host_list, ROLE_ADMIN, "list hosts"),
    ROUTE("GET", "/v1/hosts/{id}", api_host_get, ROLE_ADMIN, "one host with its GPUs"),
    ROUTE("POST", "/v1/hosts/{id}/drain", api_host_drain, ROLE_ADMIN,
          "stop new placements on a host"),
    ROUTE("POST", "/v1/hosts/{id}/undrain", api_host_undrain, ROLE_ADMIN,
          "resume new placements on a host"),
    ROUTE("PUT", "/v1/hosts/{id}/cost", api_host_cost, ROLE_ADMIN, "set a host's cost basis"),

    /* economics */
    ROUTE("GET", "/v1/economics", api_economics, ROLE_ADMIN, "the fleet's economics over a period"),
    ROUTE("POST", "/v1/economics/what-if", api_whatif, ROLE_ADMIN,
          "the economics of one GPU by hand"),

    /* billing corrections */
    ROUTE("POST", "/v1/tenants/{id}/adjustments", api_tenant_adjust, ROLE_ADMIN,
          "credit or charge a tenant, correcting a closed month (Idempotency-Key)"),

    /* what the web console needs beyond the above (the console itself is served by http.c
       from web.h, outside this table: it is a client of the API, not part of it) */
    ROUTE("GET", "/v1/rentals/{id}/telemetry", api_rental_telemetry, STAFF,
          "its GPUs' telemetry over time (the last hour of reports)"),
    ROUTE("GET", "/v1/economics/series", api_economics_series, ROLE_ADMIN,
          "the economics per hour or day, for charts"),
    ROUTE("GET", "/v1/coupons", api_coupon_list, ROLE_ADMIN, "list coupons and promotions"),
};

const size_t http_route_count = ARRAY_SIZE(http_routes);
