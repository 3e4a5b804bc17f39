/*
 * test_auth.c - API keys: format and checksum, keyed hashes, lookup, revocation; the
 * idempotency table; reloading both from the store after a failed commit; keyed ids.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/ids.h"
#include "server/auth.h"
#include "server/idkey.h"

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

/*
 * After a batch fails to commit, the keyring and the idempotency table must become exactly
 * what the store holds: a key minted by the failed batch is gone, a revocation it made is
 * undone, a reply it recorded is not replayed; a key's last use seen in memory is kept.
 */
static void test_reload_from_store(void **state)
{
    struct keyring k;
    struct idem_table t;
    struct store *st = NULL;
    struct key_record stored, lost;
    struct principal who;
    unsigned char h[32];
    char dir[256], path[300], err[256], text_stored[KEY_TEXT_MAX], text_lost[KEY_TEXT_MAX];
    const char *base = getenv("TMPDIR");
    (void)state;

    snprintf(dir, sizeof(dir), "%s/gpurent-test-auth.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/gpurent.db", dir);
    assert_int_equal(store_open_sqlite(&st, path, err, sizeof(err)), 0);
    assert_int_equal(keyring_init(&k, secret), 0);
    assert_int_equal(idem_init(&t), 0);
    idem_hash_body("{}", 2, h);

    /* durable: one key and one reply */
    assert_int_equal(keyring_mint(&k, ROLE_TENANT, 1, 0, 1000, text_stored, &stored), 0);
    assert_int_equal(store_put_key(st, &stored, err, sizeof(err)), 0);
    assert_int_equal(keyring_add(&k, &stored), 0);
    assert_int_equal(store_put_idempotent(st, "admin", "k1", h, 201, "{\"a\":1}", err, sizeof(err)),
                     0);
    assert_int_equal(idem_put(&t, "admin", "k1", h, 201, "{\"a\":1}"), 0);
    /* used since: kept in memory only, as between flushes */
    assert_int_equal(keyring_lookup(&k, text_stored, &who), 0);

    /* a failed batch's changes, in memory only: a new key, a revocation, a reply */
    assert_int_equal(keyring_mint(&k, ROLE_ADMIN, 0, 0, 2000, text_lost, &lost), 0);
    assert_int_equal(keyring_add(&k, &lost), 0);
    stored.revoked_at = 3000;
    assert_int_equal(keyring_add(&k, &stored), 0);
    assert_int_equal(idem_put(&t, "admin", "k2", h, 201, "{\"a\":2}"), 0);
    assert_int_equal(keyring_lookup(&k, text_lost, &who), 0);
    assert_int_equal(keyring_lookup(&k, text_stored, &who), ERR_CONFLICT);

    assert_int_equal(keyring_reload(&k, st, err, sizeof(err)), 0);
    assert_int_equal(idem_reload(&t, st, err, sizeof(err)), 0);
    assert_int_equal(k.count, 1);
    assert_int_equal(keyring_lookup(&k, text_lost, &who), ERR_NOTFOUND);
    assert_int_equal(keyring_lookup(&k, text_stored, &who), 0); /* the revocation is undone */
    assert_int_equal(who.tenant, 1);
    assert_true(k.keys[0].last_used_at > 0); /* the use seen in memory is kept */
    assert_int_equal(t.count, 1);
    assert_null(idem_find(&t, "admin", "k2"));
    assert_string_equal(idem_find(&t, "admin", "k1")->reply, "{\"a\":1}");

    idem_release(&t);
    keyring_release(&k);
    store_close(st);
    snprintf(path, sizeof(path), "%s/gpurent.db", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/gpurent.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/gpurent.db-shm", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

/* Keyed ids: a bijection per prefix, unrelated across prefixes and keys, and what
 * id_format/id_parse use once set. */
static void test_keyed_ids(void **state)
{
    struct idkey a, b;
    uint64_t x = 0x9e3779b97f4a7c15u, back;
    char id[ID_STR_MAX], legacy[ID_STR_MAX];
    (void)state;

    memset(a.key, 1, sizeof(a.key));
    memset(b.key, 2, sizeof(b.key));
    for (int i = 0; i < 20000; i++) {
        uint64_t n =
            i < 10000 ? (uint64_t)i : (x = x * 6364136223846793005u + 1442695040888963407u);

        assert_true(idkey_decode(&a, "rnt", idkey_encode(&a, "rnt", n)) == n);
        assert_true(idkey_decode(&b, "tnt", idkey_encode(&b, "tnt", n)) == n);
    }
    /* the first objects of each kind, and of two installs, look unrelated */
    assert_true(idkey_encode(&a, "rnt", 1) != idkey_encode(&a, "tnt", 1));
    assert_true(idkey_encode(&a, "rnt", 1) != idkey_encode(&b, "rnt", 1));
    assert_true(idkey_encode(&a, "rnt", 1) != 1 && idkey_encode(&a, "rnt", 2) != 2);
    /* consecutive numbers differ in about half their bits (no visible counter) */
    {
        unsigned bits = 0;
        for (uint64_t n = 1; n <= 1000; n++)
            bits += (unsigned)__builtin_popcountll(idkey_encode(&a, "rnt", n) ^
                                                   idkey_encode(&a, "rnt", n + 1));
        assert_in_range(bits / 1000, 28, 36);
    }

    id_format(legacy, "rnt", 1);
    assert_string_equal(legacy, "rnt_9wdvsq5zmmz0n"); /* the fixed scramble */
    ids_set_codec(&(struct id_codec){idkey_encode, idkey_decode, &a});
    id_format(id, "rnt", 1);
    assert_string_not_equal(id, legacy);
    assert_int_equal(id_parse(&back, "rnt", id), 0);
    assert_true(back == 1);
    assert_int_equal(id_parse(&back, "rnt", legacy), 0);
    assert_true(back != 1); /* an id of the fixed scramble names another object */
    ids_set_codec(NULL);
    id_format(id, "rnt", 1);
    assert_string_equal(id, legacy);
}

/* The id key: made and stored for a fresh database, read back after, none for an older one. */
static void test_id_key_load(void **state)
{
    struct store *st = NULL;
    struct idkey k1, k2;
    bool keyed = true;
    char dir[256], path[300], err[256], hex[64];
    const char *base = getenv("TMPDIR");
    (void)state;

    snprintf(dir, sizeof(dir), "%s/gpurent-test-idkey.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/gpurent.db", dir);
    assert_int_equal(store_open_sqlite(&st, path, err, sizeof(err)), 0);
    /* not fresh and no key: a database made before ids were keyed keeps the fixed scramble */
    assert_int_equal(idkey_load(st, false, &k1, &keyed, err, sizeof(err)), 0);
    assert_false(keyed);
    assert_int_equal(store_meta_get(st, "id_key", hex, sizeof(hex), err, sizeof(err)),
                     ERR_NOTFOUND);
    /* fresh: made and stored; later starts read the same key */
    assert_int_equal(idkey_load(st, true, &k1, &keyed, err, sizeof(err)), 0);
    assert_true(keyed);
    keyed = false;
    assert_int_equal(idkey_load(st, false, &k2, &keyed, err, sizeof(err)), 0);
    assert_true(keyed);
    assert_memory_equal(k1.key, k2.key, sizeof(k1.key));
    /* damaged */
    assert_int_equal(store_begin(st, err, sizeof(err)), 0);
    assert_int_equal(store_meta_put(st, "id_key", "zz", err, sizeof(err)), 0);
    assert_int_equal(store_commit(st, err, sizeof(err)), 0);
    assert_int_equal(idkey_load(st, false, &k2, &keyed, err, sizeof(err)), ERR_IO);
    assert_string_equal(err, "the stored id_key is damaged");
    store_close(st);
    snprintf(path, sizeof(path), "%s/gpurent.db", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/gpurent.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/gpurent.db-shm", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint_and_lookup),    cmocka_unit_test(test_hash_is_keyed),
        cmocka_unit_test(test_many_keys_distinct), cmocka_unit_test(test_idempotency_table),
        cmocka_unit_test(test_reload_from_store),  cmocka_unit_test(test_keyed_ids),
        cmocka_unit_test(test_id_key_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
