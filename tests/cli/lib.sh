# Shared helpers for the shell tests (source it; bash only).
#
#   source "$TDEI_SRCDIR/tests/cli/lib.sh"
#   expect_exit 0 "keys show" "$TDEI_BIN" keys show
#   expect_stderr "chmod 600" "mode 0644 refused" "$TDEI_BIN" keys show ...
#   finish                    # prints "N passed, N failed", exits 1 on failure
#
# Each test creates its own scratch directory, $T, removed on exit.
set -u

: "${TDEI_BIN:?TDEI_BIN must name the tdei binary}"
: "${TDEI_SRCDIR:?TDEI_SRCDIR must name the source tree}"

T=$(mktemp -d "${TMPDIR:-/tmp}/tdei-sh-XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
OUT=$T/.out
ERR=$T/.err

ok() {
    passed=$((passed + 1))
    echo "ok - $1"
}

fail() {
    failed=$((failed + 1))
    echo "not ok - $1"
    if [ -s "$OUT" ]; then sed 's/^/  stdout: /' "$OUT" | head -n 20; fi
    if [ -s "$ERR" ]; then sed 's/^/  stderr: /' "$ERR" | head -n 20; fi
}

# run CMD...: run it, stdout to $OUT, stderr to $ERR, status in $status.
run() {
    status=0
    "$@" >"$OUT" 2>"$ERR" || status=$?
}

# expect_exit CODE NAME CMD...: CMD must exit with CODE.
expect_exit() {
    local code=$1 name=$2
    shift 2
    run "$@"
    if [ "$status" -eq "$code" ]; then
        ok "$name"
    else
        fail "$name (exit $status, wanted $code)"
    fi
}

# expect_fail_with TEXT NAME CMD...: CMD must exit non-zero and print TEXT
# (a grep -E pattern) on stderr.
expect_fail_with() {
    local text=$1 name=$2
    shift 2
    run "$@"
    if [ "$status" -ne 0 ] && grep -qE -- "$text" "$ERR"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted non-zero and stderr matching '$text')"
    fi
}

# expect_out TEXT NAME CMD...: CMD must exit 0 and print TEXT on stdout.
expect_out() {
    local text=$1 name=$2
    shift 2
    run "$@"
    if [ "$status" -eq 0 ] && grep -qE -- "$text" "$OUT"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted 0 and stdout matching '$text')"
    fi
}

# expect_log TEXT NAME CMD...: CMD must exit 0 and print TEXT on stderr
# (the node logs there).
expect_log() {
    local text=$1 name=$2
    shift 2
    run "$@"
    if [ "$status" -eq 0 ] && grep -qE -- "$text" "$ERR"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted 0 and stderr matching '$text')"
    fi
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
