/*
 * idkey.h - the install's id key: public ids as a keyed permutation of object numbers.
 *
 * An id's 64-bit code is a 4-round Feistel network over the object's number, each round's
 * function SipHash-2-4 (libsodium's crypto_shorthash) keyed with a 16-byte key made at random
 * when the database is created and kept in it (meta `id_key`), tweaked by the id's prefix. So
 * the first rental, tenant and host of an install have unrelated ids, different from any
 * other install's, and an id tells a tenant nothing about how many objects exist (with the
 * fixed scramble of src/common/ids.c, anyone can decode the counter). Ids stay the same
 * across restarts: the key is read back. A database created before ids were keyed (it has an
 * auth secret but no id key) keeps the fixed scramble, since its rows hold ids made with it.
 */
#ifndef GPURENT_IDKEY_H
#define GPURENT_IDKEY_H

#include "../common/compat.h"

#include <sodium.h>

#include "../store/store.h"

struct idkey {
    unsigned char key[crypto_shorthash_KEYBYTES];
};

/* The codec of ids.h for arg = a struct idkey. */
uint64_t idkey_encode(const void *arg, const char *prefix, uint64_t n);
uint64_t idkey_decode(const void *arg, const char *prefix, uint64_t code);

/*
 * The id key of the database st: read from its meta, or, when fresh (a database being
 * created), made at random and stored. 0 with *keyed true and *k set, 0 with *keyed false (an
 * older database: the fixed scramble), or an ERR_* code with err set (damaged, or storage).
 */
int idkey_load(struct store *st, bool fresh, struct idkey *k, bool *keyed, char *err, size_t cap);

#endif
