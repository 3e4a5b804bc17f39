#include "../common/compat.h"

#include "idkey.h"

#include <stdio.h>
#include <string.h>

#include "../common/err.h"

#define ROUNDS 4

/* The round function: 32 bits of SipHash(prefix, round, half) under the key. */
static uint32_t round_fn(const struct idkey *k, const char *prefix, unsigned r, uint32_t half)
{
    unsigned char in[8] = {0}, out[crypto_shorthash_BYTES];
    size_t plen = strnlen(prefix, 3);

    memcpy(in, prefix, plen);
    in[3] = (unsigned char)r;
    for (int i = 0; i < 4; i++)
        in[4 + i] = (unsigned char)(half >> (8 * i));
    crypto_shorthash(out, in, sizeof(in), k->key);
    return (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
           (uint32_t)out[3] << 24;
}

uint64_t idkey_encode(const void *arg, const char *prefix, uint64_t n)
{
    uint32_t l = (uint32_t)(n >> 32), r = (uint32_t)n;

    for (unsigned i = 0; i < ROUNDS; i++) {
        uint32_t t = l ^ round_fn(arg, prefix, i, r);

        l = r;
        r = t;
    }
    return (uint64_t)l << 32 | r;
}

uint64_t idkey_decode(const void *arg, const char *prefix, uint64_t code)
{
    uint32_t l = (uint32_t)(code >> 32), r = (uint32_t)code;

    for (unsigned i = ROUNDS; i-- > 0;) {
        uint32_t t = r ^ round_fn(arg, prefix, i, l);

        r = l;
        l = t;
    }
    return (uint64_t)l << 32 | r;
}

int idkey_load(struct store *st, bool fresh, struct idkey *k, bool *keyed, char *err, size_t cap)
{
    char hex[2 * sizeof(k->key) + 1];
    size_t len;
    int rc = store_meta_get(st, "id_key", hex, sizeof(hex), err, cap);

    *keyed = false;
    if (rc == 0) {
        if (sodium_hex2bin(k->key, sizeof(k->key), hex, strlen(hex), NULL, &len, NULL) != 0 ||
            len != sizeof(k->key)) {
            snprintf(err, cap, "the stored id_key is damaged");
            return ERR_IO;
        }
        *keyed = true;
        return 0;
    }
    if (rc != ERR_NOTFOUND || !fresh)
        return rc == ERR_NOTFOUND ? 0 : rc; /* an older database: the fixed scramble */
    randombytes_buf(k->key, sizeof(k->key));
    sodium_bin2hex(hex, sizeof(hex), k->key, sizeof(k->key));
    if ((rc = store_begin(st, err, cap)) < 0)
        return rc;
    if ((rc = store_meta_put(st, "id_key", hex, err, cap)) < 0 ||
        (rc = store_commit(st, err, cap)) < 0) {
        store_rollback(st);
        return rc;
    }
    *keyed = true;
    return 0;
}
