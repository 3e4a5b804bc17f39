/*
 * test_auth.c - API keys: format and checksum, keyed hashes, lookup, revocation; and the
 * idempotency table.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "server/auth.h"

static const unsigned char secret[AUTH_SECRET_LEN] = "0123456789abcdef0123456789abcdef";

static void test_mint_and_lookup(void **state)
{
    struct keyring k;
    struct key_record rec;
    struct principal who;
    char text[KEY_TEXT_MAX], bad[KEY_TEXT_MAX];
    (void)state;

    assert_int_equal(keyring_init(&k, secret), 0);
    assert_int_equal(keyring_mint(&k, ROLE_TENANT, 7, 0, 1000, text, &rec), 0);
    assert_int_equal(strlen(text), 40);
    assert_memory_equal(text, "gpr_", 4);
    assert_true(key_well_formed(text));
    assert_memory_equal(rec.prefix, text, 12);
    assert_memory_equal(rec.id, "key_", 4);
    /* not added yet: unknown */
    assert_int_equal(keyring_lookup(&k, text, &who), ERR_NOTFOUND);
    assert_int_equal(keyring_add(&k, &rec), 0);
    assert_int_equal(keyring_lookup(&k, text, &who), 0);
    assert_int_equal(who.role, ROLE_TENANT);
    assert_int_equal(who.tenant, 7);
    assert_string_equal(who.key_id, rec.id);
    /* one character changed: the checksum catches it before any lookup */
    memcpy(bad, text, sizeof(bad));
    bad[10] = bad[10] == 'a' ? 'b' : 'a';
    assert_false(key_well_formed(bad));
    assert_int_equal(keyring_lookup(&k, bad, &who), ERR_INVALID);
    assert_int_equal(keyring_lookup(&k, "gpr_short", &who), ERR_INVALID);
    assert_int_equal(keyring_lookup(&k, "", &who), ERR_INVALID);
    /* revoked: the rewritten record replaces the old one */
    rec.revoked_at = 2000;
    assert_int_equal(keyring_add(&k, &rec), 0);
    assert_int_equal(keyring_lookup(&k, text, &who), ERR_CONFLICT);
    keyring_release(&k);
}

static void test_hash_is_keyed(void **state)
{
    struct keyring a, b;
    struct key_record ra, rb;
    char text[KEY_TEXT_MAX];
    unsigned char other[AUTH_SECRET_LEN];
    struct principal who;
    (void)state;

    memcpy(other, secret, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(keyring_init(&a, secret), 0);
    assert_int_equal(keyring_init(&b, other), 0);
    keyring_mint(&a, ROLE_ADMIN, 0, 0, 1, text, &ra);
    assert_int_equal(keyring_record_for(&b, text, ROLE_ADMIN, 1, &rb), 0);
    /* the same key hashes differently under another server's secret */
    assert_memory_not_equal(ra.hash, rb.hash, 32);
    assert_int_equal(keyring_add(&a, &ra), 0);
    assert_int_equal(keyring_lookup(&a, text, &who), 0);
    assert_int_equal(who.role, ROLE_ADMIN);
    assert_int_equal(keyring_record_for(&b, "gpr_not-a-key", ROLE_ADMIN, 1, &rb), ERR_INVALID);
    keyring_release(&a);
    keyring_release(&b);
}

static void test_many_keys_distinct(void **state)
{
    struct keyring k;
    struct key_record rec;
    struct principal who;
    static char texts[500][KEY_TEXT_MAX];
    (void)state;

    assert_int_equal(keyring_init(&k, secret), 0);
    for (int i = 0; i < 500; i++) {
        keyring_mint(&k, ROLE_AGENT, 0, (uint32_t)i + 1, 1, texts[i], &rec);
        assert_int_equal(keyring_add(&k, &rec), 0);
    }
    for (int i = 0; i < 500; i++) {
        assert_int_equal(keyring_lookup(&k, texts[i], &who), 0);
        assert_int_equal(who.host, (uint32_t)i + 1);
    }
    keyring_release(&k);
}

static void test_idempotency_table(void **state)
{
    struct idem_table t;
    unsigned char h1[32], h2[32];
    const struct idem_entry *e;
    (void)state;

    assert_int_equal(idem_init(&t), 0);
    idem_hash_body("{\"a\":1}", 7, h1);
    idem_hash_body("{\"a\":2}", 7, h2);
    assert_memory_not_equal(h1, h2, 32);
    assert_null(idem_find(&t, "tnt_1 rentals", "k1"));
    assert_int_equal(idem_put(&t, "tnt_1 rentals", "k1", h1, 201, "{\"id\":\"x\"}"), 0);
    e = idem_find(&t, "tnt_1 rentals", "k1");
    assert_non_null(e);
    assert_int_equal(e->status, 201);
    assert_string_equal(e->reply, "{\"id\":\"x\"}");
    assert_memory_equal(e->body_hash, h1, 32);
    /* keys are per scope */
    assert_null(idem_find(&t, "tnt_2 rentals", "k1"));
    assert_int_equal(idem_put(&t, "tnt_1 rentals", "k1", h2, 200, "{}"), ERR_EXISTS);
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k-%d", i);
        assert_int_equal(idem_put(&t, "s", key, h2, 200 + i % 3, "{}"), 0);
    }
    assert_int_equal(idem_find(&t, "s", "k-998")->status, 202);
    assert_int_equal(idem_find(&t, "tnt_1 rentals", "k1")->status, 201);
    idem_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint_and_lookup),
        cmocka_unit_test(test_hash_is_keyed),
        cmocka_unit_test(test_many_keys_distinct),
        cmocka_unit_test(test_idempotency_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
