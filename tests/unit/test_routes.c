/*
 * test_routes.c - the route table (src/server/routes.c) and docs/openapi.yaml describe the
 * same API: every route is documented with the same method, path, roles (x-roles) and
 * summary, and every documented operation is a route. Also the table's own rules: each route
 * declares its roles, only the few public routes need no key, no route is listed twice.
 *
 * The YAML is read line by line, which is all its `paths:` section needs: a path is a key
 * at two spaces of indent, an operation a method key at four, its fields at six.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/http.h"

#define OPS_MAX        256
#define TEXT_MAX       256
#define LINE_MAX_BYTES 1024

struct doc_op {
    char method[8];
    char path[TEXT_MAX];
    char summary[TEXT_MAX];
    unsigned roles; /* from x-roles */
    bool has_roles;
    bool matched;
};

static struct doc_op ops[OPS_MAX];
static size_t op_count;

static void rstrip(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static size_t indent(const char *s)
{
    size_t n = 0;

    while (s[n] == ' ')
        n++;
    return n;
}

/* A YAML scalar as written on one line: plain, 'single' ('' is a quote) or "double". */
static void unquote(char *out, size_t cap, const char *s)
{
    size_t n = 0;

    if (*s == '\'') {
        for (s++; *s && n + 1 < cap; s++) {
            if (*s == '\'' && s[1] == '\'')
                s++;
            else if (*s == '\'')
                break;
            out[n++] = *s;
        }
    } else if (*s == '"') {
        for (s++; *s && *s != '"' && n + 1 < cap; s++) {
            if (*s == '\\' && s[1])
                s++;
            out[n++] = *s;
        }
    } else {
        for (; *s && n + 1 < cap; s++)
            out[n++] = *s;
    }
    out[n] = '\0';
}

static unsigned role_bit(const char *name)
{
    if (strcmp(name, "admin") == 0)
        return ROLE_ADMIN;
    if (strcmp(name, "tenant") == 0)
        return ROLE_TENANT;
    if (strcmp(name, "agent") == 0)
        return ROLE_AGENT;
    if (strcmp(name, "public") == 0)
        return ROLE_PUBLIC;
    fail_msg("x-roles: unknown role \"%s\"", name);
    return 0;
}

/* "[admin, tenant]" -> bits */
static unsigned parse_roles(const char *s)
{
    char buf[LINE_MAX_BYTES], *tok, *save = NULL;
    unsigned bits = 0;

    snprintf(buf, sizeof(buf), "%s", s);
    for (tok = strtok_r(buf, "[], ", &save); tok != NULL; tok = strtok_r(NULL, "[], ", &save))
        bits |= role_bit(tok);
    return bits;
}

static bool is_method(const char *s, char *upper)
{
    static const char *const methods[] = {"get",    "post", "put",    "patch",
                                          "delete", "head", "options"};

    for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
        size_t n = strlen(methods[i]);
        if (strncmp(s, methods[i], n) == 0 && s[n] == ':' && s[n + 1] == '\0') {
            for (size_t k = 0; k <= n; k++)
                upper[k] = (char)(k < n ? s[k] - 'a' + 'A' : '\0');
            return true;
        }
    }
    return false;
}

static int load_doc(void **state)
{
    const char *root = getenv("GPURENT_SOURCE_DIR");
    char path[4096], line[LINE_MAX_BYTES], cur[TEXT_MAX] = "";
    struct doc_op *op = NULL;
    bool in_paths = false;
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s/docs/openapi.yaml", root ? root : ".");
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s (set GPURENT_SOURCE_DIR to the repository)\n", path);
        return -1;
    }
    op_count = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t ind;
        char *s;

        rstrip(line);
        if (line[0] == '\0' || line[indent(line)] == '#')
            continue;
        if (line[0] != ' ') { /* a top-level key: paths: starts the section, others end it */
            in_paths = strcmp(line, "paths:") == 0;
            continue;
        }
        if (!in_paths)
            continue;
        ind = indent(line);
        s = line + ind;
        if (ind == 2) {
            char *colon = strrchr(s, ':');
            if (colon != NULL && colon[1] == '\0') {
                *colon = '\0';
                unquote(cur, sizeof(cur), s);
            }
            op = NULL;
        } else if (ind == 4) {
            char upper[8];
            op = NULL;
            if (is_method(s, upper)) {
                if (op_count == OPS_MAX) {
                    fclose(f);
                    return -1;
                }
                op = &ops[op_count++];
                memset(op, 0, sizeof(*op));
                snprintf(op->method, sizeof(op->method), "%s", upper);
                snprintf(op->path, sizeof(op->path), "%s", cur);
            }
        } else if (ind == 6 && op != NULL) {
            if (strncmp(s, "summary: ", 9) == 0) {
                unquote(op->summary, sizeof(op->summary), s + 9);
            } else if (strncmp(s, "x-roles: ", 9) == 0) {
                op->roles = parse_roles(s + 9);
                op->has_roles = true;
            }
        }
    }
    fclose(f);
    return op_count > 0 ? 0 : -1;
}

static struct doc_op *find_op(const char *method, const char *path)
{
    for (size_t i = 0; i < op_count; i++) {
        if (strcmp(ops[i].method, method) == 0 && strcmp(ops[i].path, path) == 0)
            return &ops[i];
    }
    return NULL;
}

static void test_every_route_is_documented(void **state)
{
    (void)state;
    assert_true(http_route_count > 0);
    for (size_t i = 0; i < http_route_count; i++) {
        const struct route *r = &http_routes[i];
        struct doc_op *op = find_op(r->method, r->pattern);

        if (op == NULL)
            fail_msg("%s %s is in the route table but not in docs/openapi.yaml", r->method,
                     r->pattern);
        op->matched = true;
        if (!op->has_roles)
            fail_msg("%s %s: docs/openapi.yaml gives no x-roles", r->method, r->pattern);
        if (op->roles != r->roles)
            fail_msg("%s %s: roles differ (table %#x, x-roles %#x)", r->method, r->pattern,
                     r->roles, op->roles);
        if (strcmp(op->summary, r->summary) != 0)
            fail_msg("%s %s: summary differs: table \"%s\", yaml \"%s\"", r->method, r->pattern,
                     r->summary, op->summary);
    }
}

static void test_every_documented_operation_is_a_route(void **state)
{
    (void)state;
    for (size_t i = 0; i < op_count; i++) {
        bool found = false;

        for (size_t k = 0; k < http_route_count && !found; k++)
            found = strcmp(http_routes[k].method, ops[i].method) == 0 &&
                    strcmp(http_routes[k].pattern, ops[i].path) == 0;
        if (!found)
            fail_msg("%s %s is in docs/openapi.yaml but not in the route table", ops[i].method,
                     ops[i].path);
    }
}

static void test_routes_declare_roles(void **state)
{
    /* the only routes that take no key: probes, and agents that have no key yet */
    static const char *const public_routes[] = {"GET /healthz", "GET /metrics",
                                                "POST /v1/agent/register"};

    (void)state;
    for (size_t i = 0; i < http_route_count; i++) {
        const struct route *r = &http_routes[i];
        char name[TEXT_MAX];
        bool allowed_public = false;

        snprintf(name, sizeof(name), "%s %s", r->method, r->pattern);
        assert_non_null(r->handler);
        assert_non_null(r->summary);
        assert_true(strlen(r->summary) > 0);
        if (r->roles == 0) /* ROUTE() refuses it at compile time; a bare {...} entry too */
            fail_msg("%s declares no roles", name);
        if ((r->roles & ~(unsigned)(ROLE_ANY | ROLE_PUBLIC)) != 0)
            fail_msg("%s: unknown role bits %#x", name, r->roles);
        if ((r->roles & ROLE_PUBLIC) && r->roles != ROLE_PUBLIC)
            fail_msg("%s: public goes alone (%#x)", name, r->roles);
        for (size_t k = 0; k < ARRAY_SIZE(public_routes); k++)
            allowed_public = allowed_public || strcmp(name, public_routes[k]) == 0;
        if (r->roles == ROLE_PUBLIC && !allowed_public)
            fail_msg("%s is public: anyone could call it without a key", name);
        if (r->roles != ROLE_PUBLIC && allowed_public)
            fail_msg("%s must be public", name);
    }
}

static void test_no_duplicates_and_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; i < http_route_count; i++) {
        const struct route *r = &http_routes[i];

        if (r->pattern[0] != '/')
            fail_msg("%s %s: a pattern starts with /", r->method, r->pattern);
        for (const char *p = strchr(r->pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
            if (p[-1] != '/' || strchr(p, '}') == NULL)
                fail_msg("%s %s: {param} must be a whole segment", r->method, r->pattern);
        }
        for (size_t k = i + 1; k < http_route_count; k++) {
            if (strcmp(r->method, http_routes[k].method) == 0 &&
                strcmp(r->pattern, http_routes[k].pattern) == 0)
                fail_msg("%s %s is in the table twice", r->method, r->pattern);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_every_documented_operation_is_a_route),
        cmocka_unit_test(test_routes_declare_roles),
        cmocka_unit_test(test_no_duplicates_and_well_formed),
    };

    return cmocka_run_group_tests(tests, load_doc, NULL);
}
