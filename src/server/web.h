/*
 * web.h - the web console's static files, embedded into the binary at build time.
 *
 * The build runs src/tools/embed.c over web/ (and the chart library npm installed into
 * web/node_modules) and compiles the table it writes; nothing generated is committed.
 * http.c answers GET and HEAD of these paths without a key, before the REST route table:
 * they are not part of the API (docs/openapi.yaml), they are a client of it.
 */
#ifndef GPURENT_WEB_H
#define GPURENT_WEB_H

#include <stddef.h>

struct web_asset {
    const char *path;         /* "/", "/app.js", "/vendor/uPlot.esm.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* "\"<16 hex digits>\"", a hash of the bytes */
};

extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

/* The asset served at path (without the query string), or NULL. */
const struct web_asset *web_asset_find(const char *path);

/* The headers every console response carries (name, value pairs, NULL-terminated). */
extern const char *const web_headers[];

#endif
