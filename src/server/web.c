/*
 * web.c - finding the console's embedded files (web.h) and the headers they are sent with.
 */
#include "../common/compat.h"

#include "web.h"

#include <string.h>

/*
 * The console loads nothing from anywhere but this server (no CDN), runs no inline script
 * and cannot be framed. uPlot sets element styles from script (CSSOM), which style-src does
 * not govern. no-cache: the browser revalidates with the ETag, so a new binary's console is
 * picked up at once and an unchanged one costs a 304.
 */
const char *const web_headers[] = {
    "Content-Security-Policy",
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    "Cache-Control",
    "no-cache",
    NULL,
};

const struct web_asset *web_asset_find(const char *path)
{
    for (size_t i = 0; i < web_asset_count; i++) {
        if (strcmp(web_assets[i].path, path) == 0)
            return &web_assets[i];
    }
    return NULL;
}
