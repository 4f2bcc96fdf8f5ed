#!/usr/bin/env bash
# The pure cores (contracts/, node/consensus/ and node/audit/) must not
# include libuv or LMDB, use floating point, or read a clock or a random
# source (DESIGN.md section 1). Comments are ignored. The checker is first shown a
# file that breaks each rule, so that a green run means something.
set -u
: "${TDEI_SRCDIR:?TDEI_SRCDIR must name the source tree}"
passed=0
failed=0
T=$(mktemp -d "${TMPDIR:-/tmp}/tdei-purity-XXXXXX")
trap 'rm -rf "$T"' EXIT

# impure FILE: print FILE if its code (comments stripped) breaks a rule.
impure() {
    local code
    code=$(gcc -fpreprocessed -dD -E -P "$1" 2>/dev/null) || code=$(cat "$1")
    if printf '%s\n' "$code" | grep -qE \
        '#include *[<"](uv|lmdb)\.h|\b(float|double)\b|\b(time|rand|random|srand|clock|clock_gettime|gettimeofday|uv_now|uv_hrtime|randombytes_buf|randombytes_random|getrandom|arc4random)\('; then
        echo "$1"
    fi
}

check() {
    if [ "$2" = yes ]; then
        passed=$((passed + 1))
        echo "ok - $1"
    else
        failed=$((failed + 1))
        echo "not ok - $1"
    fi
}

# Self-check: each rule catches a file that breaks it, and a comment that
# mentions a forbidden word is not code.
n=0
for bad in '#include <uv.h>' '#include "lmdb.h"' 'double x;' \
    'static float f;' 'int t(void) { return (int)time(0); }' \
    'int r(void) { return rand(); }' \
    'void c(void) { clock_gettime(0, 0); }' \
    'void s(void) { randombytes_buf(0, 0); }'; do
    n=$((n + 1))
    printf '%s\n' "$bad" >"$T/bad$n.c"
    [ -n "$(impure "$T/bad$n.c")" ] && r=yes || r=no
    check "checker catches: $bad" "$r"
done
printf '/* time(0), double, #include <uv.h> */\nint ok;\n' >"$T/comment.c"
[ -z "$(impure "$T/comment.c")" ] && r=yes || r=no
check "checker ignores comments" "$r"

# The real check.
found=""
count=0
while IFS= read -r f; do
    count=$((count + 1))
    hit=$(impure "$f")
    if [ -n "$hit" ]; then
        found="$found ${f#"$TDEI_SRCDIR"/}"
    fi
done < <(find "$TDEI_SRCDIR/contracts" "$TDEI_SRCDIR/node/consensus" \
    "$TDEI_SRCDIR/node/audit" \
    -name '*.[ch]' 2>/dev/null | sort)
if [ -z "$found" ]; then
    check "pure cores are pure ($count files)" yes
else
    check "pure cores are pure; impure:$found" no
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
