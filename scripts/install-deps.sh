#!/usr/bin/env bash
# Install the Debian packages gpurent needs to build and test, when missing. Idempotent.
# Needs root to install; prints what is missing and how to get it otherwise.
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config clang-format
      libjansson-dev libcmocka-dev
      libsqlite3-dev libmicrohttpd-dev libsodium-dev libcurl4-openssl-dev python3 procps)
# the sanitizer build uses gcc's ASan/UBSan runtimes, part of build-essential's gcc
# --test: also what only the tests need: Debian's chromium (the console's browser test), and
# for the agent's docker runtime test (tests/api/test_docker.py) the engine (it starts its own
# dockerd when none runs) and a static busybox, imported as its offline image
[ "${1:-}" = "--test" ] && pkgs+=(chromium docker.io busybox-static)
# --fuzz: also what `make fuzz` needs: clang and its libFuzzer, ASan and UBSan runtimes
[ "${1:-}" = "--fuzz" ] && pkgs+=(clang libclang-rt-14-dev)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# the web console: npm installs its chart library at build time (web/package-lock.json).
# Node may come from elsewhere (nodesource bundles npm).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "gpurent: missing Debian packages: ${missing[*]}" >&2
    echo "gpurent: install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "gpurent: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
