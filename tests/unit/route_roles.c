/*
 * route_roles.c - compiled (not run) by tests/unit/route_roles.sh: a route table entry
 * without roles, or with public mixed in, must not compile; with roles it must.
 */
#include "server/http.h"

static void handler(struct request *req, struct response *res)
{
    (void)req;
    (void)res;
}

#if defined(NO_ROLES)
#define ROLES 0
#elif defined(PUBLIC_AND_ADMIN)
#define ROLES (ROLE_PUBLIC | ROLE_ADMIN)
#elif defined(UNKNOWN_BIT)
#define ROLES (1u << 9)
#else
#define ROLES ROLE_TENANT
#endif

const struct route table[] = {ROUTE("GET", "/v1/example", handler, ROLES, "an example")};
