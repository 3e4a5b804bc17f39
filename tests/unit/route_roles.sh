#!/bin/sh
# route_roles.sh CC SOURCE_DIR - a route declared without roles (or with ROLE_PUBLIC mixed in,
# or unknown role bits) fails the build with a message naming the route; a good one compiles.
set -u
cc=$1
src=$2
f=$src/tests/unit/route_roles.c
compile() { "$cc" -std=c17 -Wall -Wextra -Werror -fsyntax-only -I"$src/src" "$@" "$f" 2>&1; }

out=$(compile) || { echo "FAIL: a route with roles does not compile:"; echo "$out"; exit 1; }
for case in "NO_ROLES:declare its roles" "PUBLIC_AND_ADMIN:ROLE_PUBLIC goes alone" \
            "UNKNOWN_BIT:unknown role bits"; do
    def=${case%%:*}
    want=${case#*:}
    if out=$(compile -D"$def"); then
        echo "FAIL: $def compiled"
        exit 1
    fi
    case $out in
    *"route GET /v1/example: $want"*) echo "ok: $def refused: $want" ;;
    *) echo "FAIL: $def: the error does not say \"$want\":"; echo "$out"; exit 1 ;;
    esac
done
