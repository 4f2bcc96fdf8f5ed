#!/usr/bin/env bash
# tdei stream: usage refusals, --help, and against a real node: every op
# builds a tx the node admits (the contracts are not built in this branch:
# see expect_not_built), show of a stream never opened.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

ROOT=$(printf 'ef%.0s' $(seq 1 32))
now=$(($(date +%s) * 1000))

# ---- help ------------------------------------------------------------------
for cmd in open append close show; do
    expect_help stream "$cmd"
done
expect_out '^  append +append a batch of records' "stream --help lists the commands" \
    "$TDEI_BIN" stream --help

# ---- usage refusals --------------------------------------------------------------
net_create || fail "net_create"
expect_usage 'usage: tdei stream COMMAND' "stream alone" "${AS_B[@]}" stream
expect_usage 'missing operand: give ID' "open needs an id" "${AS_B[@]}" stream open
expect_usage "ID 'Feed' is not an entry id" "open checks the id" "${AS_B[@]}" stream open Feed
expect_usage '--seq N is required' "append needs --seq" "${AS_B[@]}" stream append \
    press-feed --count 1 --first-ts 1 --last-ts 1 --root "$ROOT"
expect_usage '--root HEX is required' "append needs --root" "${AS_B[@]}" stream append \
    press-feed --seq 0 --count 1 --first-ts 1 --last-ts 1
expect_usage '--count 0 is below 1' "append needs records" "${AS_B[@]}" stream append \
    press-feed --seq 0 --count 0 --first-ts 1 --last-ts 1 --root "$ROOT"
expect_usage '--first-ts 9 is after --last-ts 8' "append checks the times" \
    "${AS_B[@]}" stream append press-feed --seq 0 --count 1 --first-ts 9 --last-ts 8 \
    --root "$ROOT"
expect_usage "--root 'ef' is not 64 hex digits" "append checks the root" \
    "${AS_B[@]}" stream append press-feed --seq 0 --count 1 --first-ts 1 --last-ts 1 \
    --root ef
expect_usage "unexpected argument 'b-feed'" "close takes one id" \
    "${AS_B[@]}" stream close a-feed b-feed
expect_usage "ID 'f' is not an entry id" "show checks the id" "${AS_B[@]}" stream show f

# ---- against a node ------------------------------------------------------------
node_start && ok "tdei-node starts" || fail "tdei-node did not start"
expect_not_built stream_open "open" "${AS_B[@]}" stream open press-feed
expect_not_built stream_append "append" "${AS_B[@]}" stream append press-feed --seq 0 \
    --count 100 --first-ts $((now - 1000)) --last-ts "$now" --root "$ROOT"
expect_not_built stream_close "close" "${AS_B[@]}" stream close press-feed
expect_fail_with 'stream press-feed is not on the ledger \(TDEI_NOTFOUND\)' \
    "show of a stream never opened" "${AS_B[@]}" stream show press-feed
[ "$status" -eq 1 ] && ok "that exits 1" || fail "exit $status"
finish
