# A four-member network on one tdei-node for the CLI tests (source it after
# lib.sh; bash only):
#
#   net_create            homes $A alpha-svc (public_service, the validator),
#                         $B beta-mfg (manufacturer), $C gamma-plat
#                         (platform), $D delta-aud (auditor); genesis in $A
#   node_start "$A"       start tdei-node on $A (node_stop: lib.sh)
#   "${AS_A[@]}" ...      the tdei command as alpha (likewise AS_B, AS_C,
#                         AS_D: their homes, talking to alpha's node)
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
        sed -i -e 's/^block_interval_ms = .*/block_interval_ms = 20/' -e 's/^empty_block_interval_ms = .*/empty_block_interval_ms = 0/' "$A/config.ini"
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

# expect_help WORDS...: `tdei WORDS --help` exits 0 and prints its usage.
expect_help() {
    run "$TDEI_BIN" "$@" --help
    if [ "$status" -eq 0 ] && grep -qF -- "usage: tdei [--home DIR] [--node ADDR] [--json] $*" "$OUT"; then
        ok "$* --help"
    else
        fail "$* --help (exit $status)"
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
