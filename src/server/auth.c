/*
 * auth.c - API keys (keyed BLAKE2b hashes, constant-time comparison) and idempotency replies.
 */
#include "../common/compat.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/ids.h"
#include "auth.h"
#include "core.h"

#define KEY_PREFIX   "gpr_"
#define KEY_BODY_LEN 32
#define KEY_SUM_LEN  4
#define KEY_LEN      (4 + KEY_BODY_LEN + KEY_SUM_LEN)

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* The checksum: 4 base62 characters of an unkeyed hash of "gpr_" + body. */
static void key_checksum(const char *text36, char out[KEY_SUM_LEN])
{
    unsigned char h[8];

    crypto_generichash(h, sizeof(h), (const unsigned char *)text36, 4 + KEY_BODY_LEN, NULL, 0);
    for (int i = 0; i < KEY_SUM_LEN; i++)
        out[i] = base62[h[i] % 62];
}

bool key_well_formed(const char *text)
{
    char sum[KEY_SUM_LEN];

    if (text == NULL || strlen(text) != KEY_LEN || strncmp(text, KEY_PREFIX, 4) != 0)
        return false;
    for (int i = 4; i < KEY_LEN; i++) {
        if (strchr(base62, text[i]) == NULL || text[i] == '\0')
            return false;
    }
    key_checksum(text, sum);
    return memcmp(sum, text + 4 + KEY_BODY_LEN, KEY_SUM_LEN) == 0;
}

static void key_hash(const struct keyring *k, const char *text, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)text, strlen(text), k->secret,
                       sizeof(k->secret));
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int keyring_init(struct keyring *k, const unsigned char secret[AUTH_SECRET_LEN])
{
    memset(k, 0, sizeof(*k));
    if (sodium_init() < 0)
        return ERR_IO;
    pthread_mutex_init(&k->lock, NULL);
    memcpy(k->secret, secret, AUTH_SECRET_LEN);
    hmap_init(&k->by_hash);
    hmap_init(&k->by_id);
    return 0;
}

void keyring_release(struct keyring *k)
{
    free(k->keys);
    free(k->flushed);
    hmap_release(&k->by_hash);
    hmap_release(&k->by_id);
    pthread_mutex_destroy(&k->lock);
    sodium_memzero(k->secret, sizeof(k->secret));
}

static void fill_record(struct keyring *k, const char *text, enum role role, uint32_t tenant,
                        uint32_t host, int64_t now, struct key_record *rec)
{
    uint64_t n;

    memset(rec, 0, sizeof(*rec));
    randombytes_buf(&n, sizeof(n));
    id_format(rec->id, "key", n >> 1);
    memcpy(rec->prefix, text, 12);
    rec->prefix[12] = '\0';
    key_hash(k, text, rec->hash);
    rec->role = (int)role;
    rec->tenant = tenant;
    rec->host = host;
    rec->created_at = now;
}

int keyring_mint(struct keyring *k, enum role role, uint32_t tenant, uint32_t host, int64_t now,
                 char text[KEY_TEXT_MAX], struct key_record *rec)
{
    memcpy(text, KEY_PREFIX, 4);
    for (int i = 0; i < KEY_BODY_LEN; i++)
        text[4 + i] = base62[randombytes_uniform(62)];
    key_checksum(text, text + 4 + KEY_BODY_LEN);
    text[KEY_LEN] = '\0';
    fill_record(k, text, role, tenant, host, now, rec);
    return 0;
}

int keyring_record_for(struct keyring *k, const char *text, enum role role, int64_t now,
                       struct key_record *rec)
{
    if (!key_well_formed(text))
        return ERR_INVALID;
    fill_record(k, text, role, 0, 0, now, rec);
    return 0;
}

int keyring_add(struct keyring *k, const struct key_record *rec)
{
    char h[65];
    uint32_t i;
    int rc = 0;

    hex(rec->hash, 32, h);
    pthread_mutex_lock(&k->lock);
    if (hmap_get(&k->by_id, rec->id, &i) == 0) {
        k->keys[i] = *rec; /* a revocation rewrites the record */
        goto out;
    }
    if (k->count == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 64;
        struct key_record *kk = realloc(k->keys, cap * sizeof(*kk));
        int64_t *ff;
        if (kk == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        k->keys = kk;
        ff = realloc(k->flushed, cap * sizeof(*ff));
        if (ff == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        k->flushed = ff;
        k->cap = cap;
    }
    if (hmap_put(&k->by_id, rec->id, k->count) < 0 || hmap_put(&k->by_hash, h, k->count) < 0) {
        rc = ERR_NOMEM;
        goto out;
    }
    k->flushed[k->count] = rec->last_used_at;
    k->keys[k->count++] = *rec;
out:
    pthread_mutex_unlock(&k->lock);
    return rc;
}

int keyring_lookup(struct keyring *k, const char *text, struct principal *out)
{
    unsigned char hash[32];
    char h[65];
    uint32_t i;
    int rc = ERR_NOTFOUND;

    if (!key_well_formed(text))
        return ERR_INVALID;
    key_hash(k, text, hash);
    hex(hash, 32, h);
    pthread_mutex_lock(&k->lock);
    if (hmap_get(&k->by_hash, h, &i) == 0 && sodium_memcmp(k->keys[i].hash, hash, 32) == 0 &&
        k->keys[i].revoked_at != 0) {
        rc = ERR_CONFLICT;
    } else if (hmap_get(&k->by_hash, h, &i) == 0 && sodium_memcmp(k->keys[i].hash, hash, 32) == 0) {
        k->keys[i].last_used_at = core_clock_now();
        memset(out, 0, sizeof(*out));
        out->role = (enum role)k->keys[i].role;
        out->tenant = k->keys[i].tenant;
        out->host = k->keys[i].host;
        snprintf(out->key_id, sizeof(out->key_id), "%s", k->keys[i].id);
        rc = 0;
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

int keyring_flush(struct keyring *k, struct store *st, int64_t min_age_us, char *err, size_t cap)
{
    int rc = 0;

    pthread_mutex_lock(&k->lock);
    for (uint32_t i = 0; i < k->count && rc == 0; i++) {
        if (k->keys[i].last_used_at == 0 || k->keys[i].last_used_at == k->flushed[i] ||
            k->keys[i].last_used_at - k->flushed[i] < min_age_us)
            continue;
        rc = store_put_key(st, &k->keys[i], err, cap);
        if (rc == 0)
            k->flushed[i] = k->keys[i].last_used_at;
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

/* ---- Idempotency ---------------------------------------------------------------------- */

int idem_init(struct idem_table *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    hmap_init(&t->index);
    return 0;
}

void idem_release(struct idem_table *t)
{
    for (uint32_t i = 0; i < t->count; i++)
        free(t->entries[i].reply);
    free(t->entries);
    hmap_release(&t->index);
    pthread_mutex_destroy(&t->lock);
}

static char *idem_key(const char *scope, const char *key)
{
    size_t a = strlen(scope), b = strlen(key);
    char *k = malloc(a + b + 2);

    if (k == NULL)
        return NULL;
    memcpy(k, scope, a);
    k[a] = '\n';
    memcpy(k + a + 1, key, b + 1);
    return k;
}

const struct idem_entry *idem_find(struct idem_table *t, const char *scope, const char *key)
{
    char *k = idem_key(scope, key);
    const struct idem_entry *e = NULL;
    uint32_t i;

    if (k == NULL)
        return NULL;
    pthread_mutex_lock(&t->lock);
    if (hmap_get(&t->index, k, &i) == 0)
        e = &t->entries[i];
    pthread_mutex_unlock(&t->lock);
    free(k);
    return e;
}

int idem_put(struct idem_table *t, const char *scope, const char *key,
             const unsigned char body_hash[32], int status, const char *reply)
{
    char *k = idem_key(scope, key);
    int rc = 0;

    if (k == NULL)
        return ERR_NOMEM;
    pthread_mutex_lock(&t->lock);
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 256;
        struct idem_entry *e = realloc(t->entries, cap * sizeof(*e));
        if (e == NULL) {
            rc = ERR_NOMEM;
            goto out;
        }
        t->entries = e;
        t->cap = cap;
    }
    rc = hmap_put(&t->index, k, t->count);
    if (rc < 0)
        goto out;
    memcpy(t->entries[t->count].body_hash, body_hash, 32);
    t->entries[t->count].status = status;
    t->entries[t->count].reply = strdup(reply ? reply : "");
    t->count++;
out:
    pthread_mutex_unlock(&t->lock);
    free(k);
    return rc;
}

void idem_hash_body(const char *body, size_t len, unsigned char out[32])
{
    crypto_generichash(out, 32, (const unsigned char *)body, len, NULL, 0);
}

/* ---- Reloading after a failed commit ---------------------------------------------------- */

static int reload_key(void *ctx, const struct key_record *k)
{
    return keyring_add(ctx, k);
}

int keyring_reload(struct keyring *k, struct store *st, char *err, size_t cap)
{
    struct keyring fresh;
    struct key_record *keys;
    int64_t *flushed;
    struct hmap by_hash, by_id;
    uint32_t count, kcap, j;
    int rc;

    rc = keyring_init(&fresh, k->secret);
    if (rc < 0)
        return rc;
    rc = store_load_keys(st, reload_key, &fresh, err, cap);
    if (rc < 0) {
        keyring_release(&fresh);
        return rc;
    }
    pthread_mutex_lock(&k->lock);
    for (uint32_t i = 0; i < fresh.count; i++) { /* a lookup is not a change to undo */
        if (hmap_get(&k->by_id, fresh.keys[i].id, &j) == 0 &&
            k->keys[j].last_used_at > fresh.keys[i].last_used_at)
            fresh.keys[i].last_used_at = k->keys[j].last_used_at;
    }
    keys = k->keys, flushed = k->flushed, by_hash = k->by_hash, by_id = k->by_id;
    count = k->count, kcap = k->cap;
    k->keys = fresh.keys, k->flushed = fresh.flushed, k->by_hash = fresh.by_hash;
    k->by_id = fresh.by_id, k->count = fresh.count, k->cap = fresh.cap;
    pthread_mutex_unlock(&k->lock);
    fresh.keys = keys, fresh.flushed = flushed, fresh.by_hash = by_hash, fresh.by_id = by_id;
    fresh.count = count, fresh.cap = kcap;
    keyring_release(&fresh); /* the old tables */
    return 0;
}

static int reload_idem(void *ctx, const char *scope, const char *key,
                       const unsigned char body_hash[32], int status, const char *reply)
{
    return idem_put(ctx, scope, key, body_hash, status, reply);
}

int idem_reload(struct idem_table *t, struct store *st, char *err, size_t cap)
{
    struct idem_table fresh, old;
    int rc;

    rc = idem_init(&fresh);
    if (rc < 0)
        return rc;
    rc = store_load_idempotent(st, reload_idem, &fresh, err, cap);
    if (rc < 0) {
        idem_release(&fresh);
        return rc;
    }
    pthread_mutex_lock(&t->lock);
    old = *t; /* the mutex stays where it is: only the tables move */
    t->index = fresh.index, t->entries = fresh.entries;
    t->count = fresh.count, t->cap = fresh.cap;
    pthread_mutex_unlock(&t->lock);
    fresh.index = old.index, fresh.entries = old.entries;
    fresh.count = old.count, fresh.cap = old.cap;
    idem_release(&fresh);
    return 0;
}
