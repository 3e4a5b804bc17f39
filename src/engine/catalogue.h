/*
 * catalogue.h - what can be rented and at what price: GPU models, their prices, coupons and
 * automatic promotions.
 *
 * A model is created the first time a price is set for it or a host registers GPUs of it.
 * Coupons are redeemed by code; automatic coupons (promotions) apply to every matching
 * rental that does not name a coupon. Coupons do not stack: a rental gets its named coupon,
 * or else the best matching promotion.
 */
#ifndef GPURENT_CATALOGUE_H
#define GPURENT_CATALOGUE_H

#include "../common/compat.h"
#include "../common/hmap.h"

#include "types.h"

#define MODEL_NAME_MAX  64
#define COUPON_CODE_MAX 64

struct model {
    char name[MODEL_NAME_MAX];
    uint32_t memory_mib;
    bool priced; /* a price has been set: the model can be rented */
    struct price price;
};

struct coupon {
    char code[COUPON_CODE_MAX];
    uint32_t percent_off_bp;
    int64_t amount_off;
    uint32_t max_redemptions; /* 0 = unlimited */
    uint32_t redemptions;
    int64_t valid_until; /* 0 = forever */
    int32_t model;       /* model number, or -1 = any */
    int term;            /* enum term, or -1 = any */
    bool automatic;
    bool once_per_tenant;
};

struct catalogue {
    struct model *models; /* owned */
    uint32_t model_count, model_cap;
    struct hmap model_index; /* name -> model number */
    struct coupon *coupons;  /* owned */
    uint32_t coupon_count, coupon_cap;
    struct hmap coupon_index; /* code -> coupon number */
    struct hmap redeemed;     /* "coupon:tenant" -> 1, for once_per_tenant */
    uint32_t *promotions;     /* owned; the automatic coupons' numbers */
    uint32_t promotion_count, promotion_cap;
};

int catalogue_init(struct catalogue *c);
void catalogue_release(struct catalogue *c);

/* Find a model by name: 0 and *out, or ERR_NOTFOUND. */
int catalogue_model_find(const struct catalogue *c, const char *name, uint32_t *out);
/* Find or create: 0 and *out, ERR_INVALID (bad name) or ERR_NOMEM. */
int catalogue_model_ensure(struct catalogue *c, const char *name, uint32_t *out);

int catalogue_coupon_find(const struct catalogue *c, const char *code, uint32_t *out);
/* Add a coupon (validated by the caller): 0 and *out, ERR_EXISTS or ERR_NOMEM. */
int catalogue_coupon_add(struct catalogue *c, const struct coupon *cp, uint32_t *out);

/*
 * Can tenant use coupon i for (model, term) at now? 0, or ERR_INVALID with the reason
 * written to detail (expired, used up, wrong model or term, already redeemed); detail may be
 * NULL when only the verdict matters.
 */
int catalogue_coupon_usable(const struct catalogue *c, uint32_t i, uint32_t tenant, uint32_t model,
                            enum term term, int64_t now, char *detail, size_t cap);
/* Record one redemption by tenant; 0 or ERR_NOMEM. */
int catalogue_coupon_redeem(struct catalogue *c, uint32_t i, uint32_t tenant);

/* The best usable automatic promotion for (model, term): its number, or -1. "Best" is the
 * largest percent off, then the largest amount off, then the oldest. */
int32_t catalogue_best_promotion(const struct catalogue *c, uint32_t tenant, uint32_t model,
                                 enum term term, int64_t now);

#endif
