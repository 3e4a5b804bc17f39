/*
 * auth.h - API keys and idempotency replies: the server's own records beside the engine.
 *
 * Keys look like "gpr_" + 32 base62 characters + 4 of checksum; a malformed key or a wrong
 * checksum is refused before any lookup. Only a keyed hash of a key is stored (BLAKE2b via
 * libsodium, keyed with the server's secret); lookups hash the presented key and compare in
 * constant time. The key itself is shown once, when created.
 *
 * Both tables are read by HTTP threads and written by the engine thread (inside a job's
 * hook, so the row and the table change with the batch): each has its own mutex, taken
 * after the core's locks (never while waiting on the core).
 */
#ifndef GPURENT_AUTH_H
#define GPURENT_AUTH_H

#include "../common/compat.h"
#include "../common/hmap.h"

#include <pthread.h>

#include "../store/store.h"
#include "http.h"

#define KEY_TEXT_MAX    48 /* "gpr_" + 32 + 4 + NUL fits */
#define AUTH_SECRET_LEN 32

struct keyring {
    pthread_mutex_t lock;
    unsigned char secret[AUTH_SECRET_LEN];
    struct key_record *keys; /* owned */
    uint32_t count, cap;
    struct hmap by_hash; /* hex(hash) -> index */
    struct hmap by_id;   /* key id -> index */
    int64_t *flushed;    /* owned; per key, the last_used_at the store has */
};

int keyring_init(struct keyring *k, const unsigned char secret[AUTH_SECRET_LEN]);
void keyring_release(struct keyring *k);

/*
 * Make a new key for (role, tenant, host): writes the key text (shown once) into text and
 * its record into *rec. Does not add it: the caller stores rec durably, then keyring_add.
 */
int keyring_mint(struct keyring *k, enum role role, uint32_t tenant, uint32_t host, int64_t now,
                 char text[KEY_TEXT_MAX], struct key_record *rec);
/* The record of a given key text (for GPURENT_ADMIN_KEY): like mint, for a chosen key. */
int keyring_record_for(struct keyring *k, const char *text, enum role role, int64_t now,
                       struct key_record *rec);
/* Add (or replace, by id) a record: 0 or ERR_NOMEM. */
int keyring_add(struct keyring *k, const struct key_record *rec);
/* Who holds this key? 0 and *out, ERR_INVALID (malformed or bad checksum), ERR_NOTFOUND
 * (unknown) or ERR_CONFLICT (revoked). */
int keyring_lookup(struct keyring *k, const char *text, struct principal *out);
/*
 * Write to the store (inside the engine thread's transaction) every key whose last use is
 * at least min_age_us newer than what the store has: last_used_at is kept in memory on each
 * lookup and reaches the store at most once per min_age_us per key (0: all, at shutdown).
 */
int keyring_flush(struct keyring *k, struct store *st, int64_t min_age_us, char *err, size_t cap);

/*
 * Make the keyring exactly the keys stored in st (after a batch that failed to commit: a key
 * minted or revoked by it must not survive in memory). The last use seen in memory is kept
 * for keys still there. Called on the engine thread; 0 or the store's error (the keyring is
 * then unchanged).
 */
int keyring_reload(struct keyring *k, struct store *st, char *err, size_t cap);

/* Is the key text well-formed (prefix, alphabet, length, checksum)? */
bool key_well_formed(const char *text);

/* Idempotency-Key replies: (scope, key) -> the first reply and its request's body hash. */
struct idem_entry {
    unsigned char body_hash[32];
    int status;
    char *reply; /* owned */
};

struct idem_table {
    pthread_mutex_t lock;
    struct hmap index;          /* scope + "\n" + key -> entry number */
    struct idem_entry *entries; /* owned */
    uint32_t count, cap;
};

int idem_init(struct idem_table *t);
void idem_release(struct idem_table *t);
/* The entry for (scope, key), or NULL. The pointer is valid until the next idem_put; both
 * run on the engine thread (in a job's hooks), so a hook may use it freely. */
const struct idem_entry *idem_find(struct idem_table *t, const char *scope, const char *key);
int idem_put(struct idem_table *t, const char *scope, const char *key,
             const unsigned char body_hash[32], int status, const char *reply);
/* Make the table exactly the replies stored in st (as keyring_reload, for the same reason).
 * Engine thread; 0 or the store's error (the table is then unchanged). */
int idem_reload(struct idem_table *t, struct store *st, char *err, size_t cap);
/* The hash of a request body, for comparing a retry with the first request. */
void idem_hash_body(const char *body, size_t len, unsigned char out[32]);

#endif
