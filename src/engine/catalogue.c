#include "../common/compat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "catalogue.h"

int catalogue_init(struct catalogue *c)
{
    memset(c, 0, sizeof(*c));
    hmap_init(&c->model_index);
    hmap_init(&c->coupon_index);
    hmap_init(&c->redeemed);
    return 0;
}

void catalogue_release(struct catalogue *c)
{
    free(c->models);
    free(c->coupons);
    free(c->promotions);
    hmap_release(&c->model_index);
    hmap_release(&c->coupon_index);
    hmap_release(&c->redeemed);
    memset(c, 0, sizeof(*c));
}

int catalogue_model_find(const struct catalogue *c, const char *name, uint32_t *out)
{
    return hmap_get(&c->model_index, name, out);
}

int catalogue_model_ensure(struct catalogue *c, const char *name, uint32_t *out)
{
    size_t len = strlen(name);
    struct model *m;
    int rc;

    if (catalogue_model_find(c, name, out) == 0)
        return 0;
    if (len == 0 || len >= MODEL_NAME_MAX)
        return ERR_INVALID;
    if (c->model_count == c->model_cap) {
        uint32_t cap = c->model_cap ? c->model_cap * 2 : 8;
        struct model *mm = realloc(c->models, cap * sizeof(*mm));
        if (mm == NULL)
            return ERR_NOMEM;
        c->models = mm;
        c->model_cap = cap;
    }
    rc = hmap_put(&c->model_index, name, c->model_count);
    if (rc < 0)
        return rc;
    m = &c->models[c->model_count];
    memset(m, 0, sizeof(*m));
    memcpy(m->name, name, len + 1);
    *out = c->model_count++;
    return 0;
}

int catalogue_coupon_find(const struct catalogue *c, const char *code, uint32_t *out)
{
    return hmap_get(&c->coupon_index, code, out);
}

int catalogue_coupon_add(struct catalogue *c, const struct coupon *cp, uint32_t *out)
{
    int rc;

    if (cp->automatic && c->promotion_count == c->promotion_cap) {
        uint32_t cap = c->promotion_cap ? c->promotion_cap * 2 : 8;
        uint32_t *pp = realloc(c->promotions, cap * sizeof(*pp));
        if (pp == NULL)
            return ERR_NOMEM;
        c->promotions = pp;
        c->promotion_cap = cap;
    }
    if (c->coupon_count == c->coupon_cap) {
        uint32_t cap = c->coupon_cap ? c->coupon_cap * 2 : 8;
        struct coupon *cc = realloc(c->coupons, cap * sizeof(*cc));
        if (cc == NULL)
            return ERR_NOMEM;
        c->coupons = cc;
        c->coupon_cap = cap;
    }
    rc = hmap_put(&c->coupon_index, cp->code, c->coupon_count);
    if (rc < 0)
        return rc;
    c->coupons[c->coupon_count] = *cp;
    c->coupons[c->coupon_count].redemptions = 0;
    if (cp->automatic)
        c->promotions[c->promotion_count++] = c->coupon_count;
    *out = c->coupon_count++;
    return 0;
}

/* Write the reason for a refusal, unless the caller only wants the verdict (detail NULL). */
static void say(char *detail, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *detail, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, cap, fmt, ap);
    va_end(ap);
}

static void redeem_key(char *buf, size_t cap, uint32_t coupon, uint32_t tenant)
{
    snprintf(buf, cap, "%u:%u", coupon, tenant);
}

int catalogue_coupon_usable(const struct catalogue *c, uint32_t i, uint32_t tenant, uint32_t model,
                            enum term term, int64_t now, char *detail, size_t cap)
{
    const struct coupon *cp = &c->coupons[i];
    char key[32];
    uint32_t dummy;

    if (cp->valid_until != 0 && now >= cp->valid_until) {
        say(detail, cap, "coupon: \"%s\" has expired", cp->code);
        return ERR_INVALID;
    }
    if (cp->max_redemptions != 0 && cp->redemptions >= cp->max_redemptions) {
        say(detail, cap, "coupon: \"%s\" has been used up", cp->code);
        return ERR_INVALID;
    }
    if (cp->model >= 0 && (uint32_t)cp->model != model) {
        say(detail, cap, "coupon: \"%s\" is only for %s", cp->code, c->models[cp->model].name);
        return ERR_INVALID;
    }
    if (cp->term >= 0 && cp->term != (int)term) {
        say(detail, cap, "coupon: \"%s\" is only for term %s", cp->code,
            term_name((enum term)cp->term));
        return ERR_INVALID;
    }
    if (cp->once_per_tenant) {
        redeem_key(key, sizeof(key), i, tenant);
        if (hmap_get(&c->redeemed, key, &dummy) == 0) {
            say(detail, cap, "coupon: \"%s\" was already redeemed by this tenant", cp->code);
            return ERR_INVALID;
        }
    }
    return 0;
}

int catalogue_coupon_redeem(struct catalogue *c, uint32_t i, uint32_t tenant)
{
    char key[32];
    int rc;

    if (c->coupons[i].once_per_tenant) {
        redeem_key(key, sizeof(key), i, tenant);
        rc = hmap_put(&c->redeemed, key, 1);
        if (rc < 0)
            return rc;
    }
    c->coupons[i].redemptions++;
    return 0;
}

int32_t catalogue_best_promotion(const struct catalogue *c, uint32_t tenant, uint32_t model,
                                 enum term term, int64_t now)
{
    int32_t best = -1;

    for (uint32_t k = 0; k < c->promotion_count; k++) {
        uint32_t i = c->promotions[k];
        const struct coupon *cp = &c->coupons[i];
        if (catalogue_coupon_usable(c, i, tenant, model, term, now, NULL, 0) < 0)
            continue;
        if (best < 0 || cp->percent_off_bp > c->coupons[best].percent_off_bp ||
            (cp->percent_off_bp == c->coupons[best].percent_off_bp &&
             cp->amount_off > c->coupons[best].amount_off))
            best = (int32_t)i;
    }
    return best;
}
