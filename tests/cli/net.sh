# A four-member network on one tdei-node for the CLI tests (source it after
# lib.sh; bash only):
#
#   net_create            homes $A alpha-svc (public_service, the validator),
#                         $B beta-mfg (manufacturer), $C gamma-plat
#                         (platform), $D delta-aud (auditor); genesis in $A
#   node_start, node_stop start tdei-node on $A; stop it by its pid
#   "${AS_A[@]}" ...      the tdei command as alpha (likewise AS_B, AS_C,
#                         AS_D: their homes, talking to alpha's node)
#   step, expect_refused  a tx applied; a tx refused with its code and reason
#   has, hasnt, json_has  checks of the last command's stdout
#   last_tx, last_height  the tx id and the height the last command printed
#   balance MEMBER N      a member's balance
#
# The node binds only $A/api.sock inside the test's scratch directory.
: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"

A=$T/alpha
B=$T/beta
C=$T/gamma
D=$T/delta
AS_A=("$TDEI_BIN" --home "$A")
AS_B=("$TDEI_BIN" --home "$B" --node "$A/api.sock")
AS_C=("$TDEI_BIN" --home "$C" --node "$A/api.sock")
AS_D=("$TDEI_BIN" --home "$D" --node "$A/api.sock")
node_pid=""

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
trap 'node_stop; rm -rf "$T"' EXIT

node_start() {
    "$TDEI_NODE_BIN" --home "$A" >>"$T/node.log" 2>&1 &
    node_pid=$!
    for _ in $(seq 1 200); do
        "$TDEI_BIN" --home "$A" status >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}

net_create() {
    "$TDEI_BIN" --home "$A" init --member alpha-svc --role public_service >/dev/null &&
        "$TDEI_BIN" --home "$B" init --member beta-mfg --role manufacturer >/dev/null &&
        "$TDEI_BIN" --home "$C" init --member gamma-plat --role platform >/dev/null &&
        "$TDEI_BIN" --home "$D" init --member delta-aud --role auditor >/dev/null &&
        "$TDEI_BIN" --home "$A" genesis new --chain-id tdei-cli >/dev/null &&
        "$TDEI_BIN" --home "$A" genesis add-member --from-home "$A" --validator \
            --balance 1000 >/dev/null &&
        "$TDEI_BIN" --home "$A" genesis add-member --from-home "$B" --balance 500 >/dev/null &&
        "$TDEI_BIN" --home "$A" genesis add-member --from-home "$C" --balance 500 >/dev/null &&
        "$TDEI_BIN" --home "$A" genesis add-member --from-home "$D" >/dev/null &&
        sed -i 's/^block_interval_ms = .*/block_interval_ms = 20/' "$A/config.ini"
}

# expect_usage TEXT NAME CMD...: CMD must exit 2 (bad usage) and print
# TEXT (a grep -E pattern) on stderr.
expect_usage() {
    local text=$1 name=$2
    shift 2
    run "$@"
    if [ "$status" -eq 2 ] && grep -qE -- "$text" "$ERR"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted 2 and stderr matching '$text')"
    fi
}

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

# expect_help WORDS...: `tdei WORDS --help` exits 0 and prints its usage.
expect_help() {
    run "$TDEI_BIN" "$@" --help
    if [ "$status" -eq 0 ] && grep -qF -- "usage: tdei [--home DIR] [--node ADDR] [--json] $*" "$OUT"; then
        ok "$* --help"
    else
        fail "$* --help (exit $status)"
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

# balance MEMBER N [WHEN]: `account show MEMBER` gives the balance N.
balance() {
    local name="$1 holds $2${3:+ $3}"
    run "$TDEI_BIN" --home "$A" account show "$1"
    if [ "$status" -eq 0 ] && grep -qE "^balance +$2\$" "$OUT"; then
        ok "$name"
    else
        fail "$name (exit $status)"
    fi
}
