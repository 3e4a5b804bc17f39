/*
 * fuzz_auth.c - the credentials a request carries: API keys (server/auth.h: format,
 * checksum, keyed-hash lookup) and Idempotency-Key headers (api_idem_init).
 *
 * A keyring holds an admin, a tenant and an agent key and a revoked one (fixed texts). For any
 * text: keyring_lookup finds a holder only for one of those keys, says ERR_INVALID exactly when
 * key_well_formed refuses the text, and never anything but its four answers;
 * keyring_record_for agrees with key_well_formed. The text as an Idempotency-Key is accepted
 * exactly when it is 1 to 255 printable ASCII characters, else answered with a 400 problem.
 */
#include "common/compat.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "server/apijson.h"
#include "server/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEYS 4

static void fail(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_auth: %s: \"%s\"\n", what, text);
    abort();
}

static struct keyring ring;

/* Fixed keys (well-formed: their checksums are right), so that seeds can name them. */
static const char *const keys[KEYS] = {
    "gpr_FuzzAdminKey0000000000000000000ABgTd", "gpr_FuzzTenantKey000000000000000000BPghs",
    "gpr_FuzzAgentKey0000000000000000000CCMMS", "gpr_FuzzRevokedKey00000000000000000DxRR4"};

static void release_ring(void)
{
    keyring_release(&ring);
}

static void make_ring(void)
{
    static const unsigned char secret[AUTH_SECRET_LEN] = "fuzz-secret-fuzz-secret-fuzz-sec";
    static const enum role roles[KEYS] = {ROLE_ADMIN, ROLE_TENANT, ROLE_AGENT, ROLE_TENANT};
    struct key_record rec;

    if (sodium_init() < 0 || keyring_init(&ring, secret) < 0)
        fail("keyring_init", "");
    for (int i = 0; i < KEYS; i++) {
        if (keyring_record_for(&ring, keys[i], roles[i], 1000, &rec) < 0)
            fail("keyring_record_for refuses a well-formed key", keys[i]);
        if (i == KEYS - 1)
            rec.revoked_at = 2000;
        if (keyring_add(&ring, &rec) < 0)
            fail("keyring_add", keys[i]);
    }
    atexit(release_ring);
}

static void check_key(const char *s)
{
    struct principal who;
    struct key_record rec;
    bool well_formed = key_well_formed(s);
    int rc = keyring_lookup(&ring, s, &who), known = -1;

    for (int i = 0; i < KEYS; i++) {
        if (strcmp(s, keys[i]) == 0)
            known = i;
    }
    if (rc != 0 && rc != ERR_INVALID && rc != ERR_NOTFOUND && rc != ERR_CONFLICT)
        fail("keyring_lookup: an unexpected answer", s);
    if ((rc == ERR_INVALID) != !well_formed)
        fail("keyring_lookup and key_well_formed disagree", s);
    if ((rc == 0) != (known >= 0 && known < KEYS - 1) ||
        (rc == ERR_CONFLICT) != (known == KEYS - 1))
        fail("keyring_lookup found the wrong key", s);
    if ((keyring_record_for(&ring, s, ROLE_TENANT, 1, &rec) == 0) != well_formed)
        fail("keyring_record_for and key_well_formed disagree", s);
}

static void check_idempotency_key(const char *s)
{
    struct http_field header = {"Idempotency-Key", s};
    struct http_local_request local = {.headers = &header, .header_count = 1};
    struct request req = {.method = "POST", .path = "/v1/rentals", .body = "{}", .body_len = 2};
    struct response res = {0};
    struct api_idem im;
    size_t len = strlen(s);
    bool ok = len >= 1 && len <= 255;
    int rc;

    for (size_t i = 0; i < len; i++)
        ok = ok && s[i] >= 0x20 && s[i] <= 0x7e;
    req.local = &local;
    req.who.role = ROLE_TENANT;
    req.who.tenant = 7;
    rc = api_idem_init(&im, &req, &res);
    if ((rc == 0) != ok || (rc == 0 && (im.key != s || res.status != 0)) ||
        (rc != 0 && (res.status != 400 || res.body == NULL)))
        fail("Idempotency-Key", s);
    http_response_release(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        return 0;
    if (ring.count == 0)
        make_ring();
    memcpy(s, data, size);
    s[size] = '\0';
    check_key(s);
    check_idempotency_key(s);
    free(s);
    return 0;
}
