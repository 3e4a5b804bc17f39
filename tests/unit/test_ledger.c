/*
 * test_ledger.c - the double-entry ledger: platform accounts, postings that always sum to
 * zero, keyed transfers remembered once.
 */
#include "common/compat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "common/err.h"
#include "engine/ledger.h"

static void test_accounts_and_postings(void **state)
{
    struct ledger l;
    uint32_t a, b;
    (void)state;

    assert_int_equal(ledger_init(&l), 0);
    assert_int_equal(l.count, ACCT_FIRST_WALLET);
    assert_int_equal(ledger_open(&l, &a), 0);
    assert_int_equal(ledger_open(&l, &b), 0);
    assert_int_equal(a, ACCT_FIRST_WALLET);
    assert_int_equal(b, ACCT_FIRST_WALLET + 1);
    assert_int_equal(ledger_post(&l, ACCT_EXTERNAL, a, 5000000), 1);
    assert_int_equal(ledger_post(&l, a, ACCT_REVENUE, 1200000), 2);
    assert_int_equal(ledger_post(&l, ACCT_DISCOUNTS, ACCT_REVENUE, 300000), 3);
    assert_int_equal(l.balances[a], 3800000);
    assert_int_equal(l.balances[ACCT_EXTERNAL], -5000000);
    assert_int_equal(l.balances[ACCT_REVENUE], 1500000);
    assert_int_equal(l.balances[ACCT_DISCOUNTS], -300000);
    assert_int_equal(l.balances[b], 0);
    assert_int_equal(ledger_sum(&l), 0);
    /* many accounts: growth keeps balances */
    for (int i = 0; i < 1000; i++) {
        uint32_t x;
        assert_int_equal(ledger_open(&l, &x), 0);
        ledger_post(&l, ACCT_EXTERNAL, x, i + 1);
    }
    assert_int_equal(l.balances[a], 3800000);
    assert_int_equal(ledger_sum(&l), 0);
    ledger_release(&l);
}

static void test_keys(void **state)
{
    struct ledger l;
    struct keyed_transfer kt = {.seq = 7, .amount = 100, .to = 5, .balance_after = 100};
    const struct keyed_transfer *got;
    (void)state;

    assert_int_equal(ledger_init(&l), 0);
    assert_null(ledger_find_key(&l, "k1"));
    assert_int_equal(ledger_remember_key(&l, "k1", &kt), 0);
    got = ledger_find_key(&l, "k1");
    assert_non_null(got);
    assert_int_equal(got->seq, 7);
    assert_int_equal(got->balance_after, 100);
    assert_int_equal(ledger_remember_key(&l, "k1", &kt), ERR_EXISTS);
    for (int i = 0; i < 500; i++) {
        char key[16];
        snprintf(key, sizeof(key), "key-%d", i);
        kt.seq = (uint64_t)i;
        assert_int_equal(ledger_remember_key(&l, key, &kt), 0);
    }
    assert_int_equal(ledger_find_key(&l, "key-321")->seq, 321);
    assert_int_equal(ledger_find_key(&l, "k1")->seq, 7);
    ledger_release(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accounts_and_postings),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
