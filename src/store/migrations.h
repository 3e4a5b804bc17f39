/*
 * migrations.h - the SQLite schema as numbered migrations.
 *
 * Migration i (1-based: migrations[i - 1]) is SQL text that takes the schema from version
 * i - 1 to version i. store_open_sqlite applies the missing ones in order, all in one
 * transaction, and records each in the table schema_version(version, name, applied_at); a
 * database whose version is above migration_count was written by a newer gpurent and is
 * refused. A released migration is never edited: a change to the schema is a new migration
 * appended to the array. docs/schema.md describes the resulting tables.
 */
#ifndef GPURENT_MIGRATIONS_H
#define GPURENT_MIGRATIONS_H

#include "../common/compat.h"

struct migration {
    const char *name; /* one line, recorded in schema_version */
    const char *sql;  /* one or more statements */
};

extern const struct migration migrations[];
extern const size_t migration_count; /* = the schema version this binary writes */

#endif
