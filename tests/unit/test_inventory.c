/*
 * test_inventory.c - the placement index: best fit across hosts, NVLink islands within a
 * host, hosts leaving and re-entering the buckets, and a cost independent of fleet size.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "common/err.h"
#include "engine/engine.h"
#include "engine/inventory.h"

static uint32_t add(struct inventory *inv, int n, int island_size, int tag)
{
    struct gpu_spec g[MAX_GPUS_PER_HOST];
    char uuid[MAX_GPUS_PER_HOST][32];
    uint32_t id;

    for (int i = 0; i < n; i++) {
        snprintf(uuid[i], sizeof(uuid[i]), "G-%d-%d", tag, i);
        g[i] = (struct gpu_spec){(uint32_t)i, uuid[i], "M", 1024, (uint32_t)(i / island_size)};
    }
    assert_int_equal(inventory_add_host(inv, "h", 0, g, (uint32_t)n, 0, &id), 0);
    return id;
}

static void test_best_fit(void **state)
{
    struct inventory inv;
    uint32_t h1, h2, h3, host, mask;
    (void)state;

    assert_int_equal(inventory_init(&inv), 0);
    assert_int_equal(inventory_ensure_pools(&inv, 1), 0);
    h1 = add(&inv, 8, 8, 1);
    h2 = add(&inv, 8, 8, 2);
    h3 = add(&inv, 4, 4, 3);
    assert_int_equal(inv.pools[0].free_gpus, 20);
    assert_int_equal(inv.pools[0].largest_host, 8);
    /* 3 GPUs: the 4-GPU host is the best fit */
    assert_int_equal(inventory_choose(&inv, 0, 3, &host, &mask), 0);
    assert_int_equal(host, h3);
    assert_int_equal(mask, 0x7);
    inventory_take(&inv, host, mask, 1);
    assert_int_equal(inv.pools[0].free_gpus, 17);
    /* 2 GPUs: h3 has 1 free, so an 8-GPU host; the next 2 pack onto the same one */
    assert_int_equal(inventory_choose(&inv, 0, 2, &host, &mask), 0);
    inventory_take(&inv, host, mask, 2);
    uint32_t first = host;
    assert_int_equal(inventory_choose(&inv, 0, 2, &host, &mask), 0);
    assert_int_equal(host, first);
    assert_int_equal(mask, 0xc);
    /* 8 GPUs: only the untouched host */
    assert_int_equal(inventory_choose(&inv, 0, 8, &host, &mask), 0);
    assert_int_equal(host, first == h1 ? h2 : h1);
    assert_int_equal(inventory_max_free_on_host(&inv, 0), 8);
    /* out of the buckets: no longer chosen, counts follow */
    inventory_set_placeable(&inv, host, false);
    assert_int_equal(inventory_choose(&inv, 0, 8, &host, &mask), ERR_NOCAPACITY);
    assert_int_equal(inv.pools[0].free_gpus, 7);
    assert_int_equal(inventory_max_free_on_host(&inv, 0), 6);
    inventory_give_back(&inv, first, 0x3);
    assert_int_equal(inv.pools[0].free_gpus, 9);
    assert_int_equal(inventory_choose(&inv, 0, 9, &host, &mask), ERR_NOCAPACITY);
    assert_int_equal(inventory_choose(&inv, 1, 1, &host, &mask), ERR_NOCAPACITY);
    inventory_release(&inv);
}

static void test_islands(void **state)
{
    struct inventory inv;
    uint32_t h;
    (void)state;

    assert_int_equal(inventory_init(&inv), 0);
    assert_int_equal(inventory_ensure_pools(&inv, 1), 0);
    h = add(&inv, 8, 2, 1);           /* islands {0,1} {2,3} {4,5} {6,7} */
    inventory_take(&inv, h, 0x01, 1); /* island 0 has 1 free */
    /* 1 GPU: the tightest island (island 0) */
    assert_int_equal(inventory_choose_on(&inv, h, 1), 0x02);
    /* 2 GPUs: a whole island */
    assert_int_equal(inventory_choose_on(&inv, h, 2), 0x0c);
    /* 3 GPUs: no island fits; the lowest free indices */
    assert_int_equal(inventory_choose_on(&inv, h, 3), 0x0e);
    inventory_release(&inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_best_fit),
        cmocka_unit_test(test_islands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
