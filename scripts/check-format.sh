#!/usr/bin/env bash
# Fail when any tracked (or new, not ignored) C file is not clang-format clean.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]')
bad=0
for f in $files; do
    [ -f "$f" ] || continue
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not clang-format clean: $f (run: make format)"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "clang-format: $(echo "$files" | wc -w) files clean"
exit $bad
