"""checks.py - what must hold after a crash, shared by the durability and crash-safety tests.

    integrity(path)                     PRAGMA integrity_check of one SQLite file
    assert_files_sound(tc, srv, label)  the data directory as the crash left it (a copy, so
                                        the check itself recovers nothing) passes it
    assert_gpus_held_once(tc, admin)    no GPU in two live rentals; the hosts agree
    assert_wallets_match_ledger(tc, srv, tenant_ids)
                                        each tenant's balance (API) equals its wallet's net
                                        in the stored transfers (the SQLite file, read beside
                                        the running server: WAL lets it)

The server itself checks the engine's invariants (ledger sums to zero, no GPU held twice,
charges follow the billing rule) after replaying its log at every start, and refuses to
start when one fails: a restart that answers /healthz has passed them.
"""

import os
import shutil
import sqlite3

from harness import micros


def integrity(path):
    con = sqlite3.connect(path)
    try:
        return [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
    finally:
        con.close()


def assert_files_sound(tc, srv, label, may_be_new=False):
    """may_be_new: the crash may have come before the database's first page was written
    (an empty file, or none): then there is nothing to check yet."""
    dbs = srv.db_files()
    if may_be_new and not dbs:
        return
    tc.assertTrue(dbs, "no SQLite database in %s" % srv.data_dir)
    copy_dir = os.path.join(srv.tmp, "crash-copy")
    shutil.rmtree(copy_dir, ignore_errors=True)
    shutil.copytree(srv.data_dir, copy_dir)
    try:
        for db in dbs:
            copy = os.path.join(copy_dir, os.path.relpath(db, srv.data_dir))
            tc.assertEqual(integrity(copy), ["ok"], "after %s: %s" % (label, db))
    finally:
        shutil.rmtree(copy_dir, ignore_errors=True)


def assert_gpus_held_once(tc, admin):
    """No GPU in two live rentals, and the hosts' view agrees. Returns the live rentals."""
    rentals = admin.list_all("/v1/rentals")
    live = [x for x in rentals if x["state"] in ("starting", "running")]
    held = {}
    for x in live:
        for u in x["gpus"]:
            tc.assertNotIn(u, held, "GPU %s in %s and %s" % (u, held.get(u), x["id"]))
            held[u] = x["id"]
    by_gpu = {}
    for h in admin.list_all("/v1/hosts"):
        full = admin.get("/v1/hosts/" + h["id"]).json
        for g in full["gpus"]:
            if g["rental_id"]:
                tc.assertNotIn(g["uuid"], by_gpu)
                by_gpu[g["uuid"]] = g["rental_id"]
    tc.assertEqual(by_gpu, held, "hosts and rentals disagree about who holds the GPUs")
    return live


def assert_wallets_match_ledger(tc, srv, tenant_ids):
    """Every tenant's balance as the API shows it equals the net of the transfers stored
    into and out of its wallet: the queryable tables and the engine agree, to the micro."""
    db = os.path.join(srv.data_dir, "gpurent.db")
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        for tid in tenant_ids:
            row = con.execute("SELECT account FROM accounts WHERE kind = 'wallet' AND "
                              "tenant_id = ?", (tid,)).fetchone()
            tc.assertIsNotNone(row, "tenant %s has no wallet in the store" % tid)
            acct = row[0]
            net = con.execute("SELECT COALESCE(SUM(CASE WHEN to_account = ?1 THEN amount "
                              "ELSE -amount END), 0) FROM transfers WHERE to_account = ?1 "
                              "OR from_account = ?1", (acct,)).fetchone()[0]
            r = srv.admin.get("/v1/tenants/" + tid)
            tc.assertEqual(r.status, 200, r)
            tc.assertEqual(micros(r.json["balance"]), net,
                           "tenant %s: the API's balance and the stored transfers differ" % tid)
    finally:
        con.close()
