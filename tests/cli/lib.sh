# Shared helpers for the shell tests (source it; bash only).
#
#   source "$TDEI_SRCDIR/tests/cli/lib.sh"
#   expect_exit 0 "keys show" "$TDEI_BIN" keys show
#   expect_stderr "chmod 600" "mode 0644 refused" "$TDEI_BIN" keys show ...
#   finish                    # prints "N passed, N failed", exits 1 on failure
#
# With a node (node_start HOME, node_stop): step NAME CMD... (a tx the
# ledger applies), expect_refused CODE TEXT NAME CMD... (a tx it refuses),
# has / hasnt / json_has (checks of the last command's stdout), last_tx
# and last_height (what the last command printed).
#
# Each test creates its own scratch directory, $T, removed on exit (after
# stopping the node node_start started, if any).
set -u

: "${TDEI_BIN:?TDEI_BIN must name the tdei binary}"
: "${TDEI_SRCDIR:?TDEI_SRCDIR must name the source tree}"

T=$(mktemp -d "${TMPDIR:-/tmp}/tdei-sh-XXXXXX")
node_pid=""
trap 'node_stop; rm -rf "$T"' EXIT

# node_start HOME: start tdei-node on HOME (its log in $T/node.log) and
# wait until it answers; its pid is $node_pid. Returns 1 when it does not
# answer within 10 s.
node_start() {
    "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}" \
        --home "$1" >>"$T/node.log" 2>&1 &
    node_pid=$!
    for _ in $(seq 1 200); do
        "$TDEI_BIN" --home "$1" status >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

# node_stop: stop the node node_start started (by its pid): TERM, then
# KILL after 5 s.
node_stop() {
    if [ -n "$node_pid" ]; then
        kill -TERM "$node_pid" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$node_pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$node_pid" 2>/dev/null
        wait "$node_pid" 2>/dev/null
        node_pid=""
    fi
}
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

# ---- txs through a running node ---------------------------------------------

# expect_refused CODE TEXT NAME CMD...: CMD must submit a tx that the
# ledger refuses with CODE (exit 1, the code and TEXT on stderr, the code
# as the result on stdout).
expect_refused() {
    local code=$1 text=$2 name=$3
    shift 3
    run "$@"
    if [ "$status" -eq 1 ] && grep -qE -- "$text.*\($code\)" "$ERR" &&
        grep -qE "^result +$code\$" "$OUT"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted 1 and $code: '$text')"
    fi
}

# step NAME CMD...: CMD submits a tx that the ledger applies (exit 0,
# "result applied" on stdout).
step() {
    local name=$1
    shift
    run "$@"
    if [ "$status" -eq 0 ] && grep -qE '^result +applied$' "$OUT"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted an applied tx)"
    fi
}

# last_tx, last_height: the tx id and the height the last command printed.
last_tx() { awk '$1 == "tx" && $2 == "id" {print $3; exit}' "$OUT"; }
last_height() { awk '$1 == "height" {print $2; exit}' "$OUT"; }

# has TEXT NAME: the last command's stdout has a line matching TEXT (a
# grep -E pattern); hasnt TEXT NAME: it has none.
has() {
    if grep -qE -- "$1" "$OUT"; then ok "$2"; else fail "$2 (no line matching '$1')"; fi
}
hasnt() {
    if grep -qE -- "$1" "$OUT"; then fail "$2 (a line matches '$1')"; else ok "$2"; fi
}

# json_has TEXT NAME: the last command's pretty-printed JSON, joined into one
# line without indentation and without the space after each key's colon,
# contains TEXT (a fixed string), e.g. '"tags":["a","b"],"domain":"rd"'.
json_has() {
    if sed -E 's/^ +//; s/^("[^"]*"): /\1:/' "$OUT" | tr -d '\n' | grep -qF -- "$1"; then
        ok "$2"
    else
        fail "$2 (no '$1')"
    fi
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}
