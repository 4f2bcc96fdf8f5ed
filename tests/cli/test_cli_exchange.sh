#!/usr/bin/env bash
# tdei exchange and tdei account: usage refusals, --help, and against a
# real node: every op builds a tx the node admits (the contracts are not
# built in this branch: see expect_not_built), show and list, a raw key
# that cannot be sealed without its exchange, account show and escrow.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

X=$(printf 'ab%.0s' $(seq 1 32))          # an exchange id nobody made
ROOT=$(printf 'cd%.0s' $(seq 1 32))
KEY=$(printf '11%.0s' $(seq 1 32))        # a raw 32-byte content key
SEALED=$(printf '22%.0s' $(seq 1 80))     # an 80-byte sealed key

# ---- help ------------------------------------------------------------------
for cmd in request approve reject deliver confirm dispute resolve revoke \
    show list; do
    expect_help exchange "$cmd"
done
expect_help account show
expect_help account escrow
expect_out '^  escrow +show the escrow of an exchange' "account --help lists escrow" \
    "$TDEI_BIN" account --help
expect_out '^  resolve +resolve a dispute' "exchange --help lists the commands" \
    "$TDEI_BIN" exchange --help

# ---- usage refusals --------------------------------------------------------------
net_create || fail "net_create"
expect_usage 'usage: tdei exchange COMMAND' "exchange alone" "${AS_C[@]}" exchange
expect_usage '--price N is required' "request needs the price" \
    "${AS_C[@]}" exchange request press-line
expect_usage 'missing operand: give ENTRY' "request needs an entry" \
    "${AS_C[@]}" exchange request --price 5
expect_usage "ENTRY 'Press' is not an entry id" "request checks the entry" \
    "${AS_C[@]}" exchange request Press --price 5
expect_usage "--budget '-1' is not a whole number" "request checks the budget" \
    "${AS_C[@]}" exchange request press-line --price 5 --budget -1
expect_usage 'tx exchange_request purpose .*(longer|bytes)' "the ledger's purpose rule" \
    "${AS_C[@]}" exchange request press-line --price 5 --purpose "$(printf 'p%.0s' $(seq 1 300))"
expect_usage "EXCHANGE-ID 'abc' is not 64 hex digits" "approve checks the id" \
    "${AS_B[@]}" exchange approve abc
expect_usage "unexpected argument 'more'" "approve takes one id" \
    "${AS_B[@]}" exchange approve "$X" more
expect_usage "unknown option '--reason'" "confirm takes no reason" \
    "${AS_C[@]}" exchange confirm "$X" --reason late
expect_usage 'give the content key as --sealed-key HEX or --key-file FILE' \
    "deliver needs a key" "${AS_B[@]}" exchange deliver "$X"
expect_usage 'give the content key as --sealed-key HEX or --key-file FILE' \
    "deliver takes one key" "${AS_B[@]}" exchange deliver "$X" --sealed-key "$KEY" \
    --key-file /nonexistent
expect_usage '--sealed-key is neither 64 hex digits \(a content key\) nor 160' \
    "deliver checks the key length" "${AS_B[@]}" exchange deliver "$X" --sealed-key abcd
expect_fail_with 'cannot open the key file /nonexistent/key' "deliver: a missing key file" \
    "${AS_B[@]}" exchange deliver "$X" --key-file /nonexistent/key
printf 'not a key\n' >"$T/bad.key"
expect_usage 'holds neither a 32-byte content key nor an 80-byte sealed key' \
    "deliver: a key file of the wrong size" "${AS_B[@]}" exchange deliver "$X" \
    --key-file "$T/bad.key"
expect_usage "--content-root 'zz' is not 64 hex digits" "deliver checks the root" \
    "${AS_B[@]}" exchange deliver "$X" --sealed-key "$SEALED" --content-root zz
expect_usage '--reason TEXT is required' "dispute needs a reason" \
    "${AS_C[@]}" exchange dispute "$X"
expect_usage 'give --refund or --pay-owner' "resolve needs an outcome" \
    "${AS_A[@]}" exchange resolve "$X"
expect_usage 'give --refund or --pay-owner' "resolve takes one outcome" \
    "${AS_A[@]}" exchange resolve "$X" --refund --pay-owner
expect_usage 'missing operand: give EXCHANGE-ID' "revoke needs an id" \
    "${AS_A[@]}" exchange revoke --reason misuse
expect_usage "EXCHANGE-ID 'xyz' is not 64 hex digits" "show checks the id" \
    "${AS_A[@]}" exchange show xyz
expect_usage "--status 'open' is not one of requested, approved, delivered, settled" \
    "list checks the status" "${AS_A[@]}" exchange list --status open
expect_usage "--member 'B' is not a member id" "list checks the member" \
    "${AS_A[@]}" exchange list --member B
expect_usage "EXCHANGE-ID '12' is not 64 hex digits" "account escrow checks the id" \
    "${AS_A[@]}" account escrow 12
expect_usage 'missing operand: give EXCHANGE-ID' "account escrow needs an id" \
    "${AS_A[@]}" account escrow
expect_usage "MEMBER 'X' is not a member id" "account show checks the member" \
    "${AS_A[@]}" account show X

# ---- against a node ------------------------------------------------------------
node_start && ok "tdei-node starts" || fail "tdei-node did not start"
expect_not_built exchange_request "request" "${AS_C[@]}" exchange request press-line \
    --price 120 --purpose "line tuning" --grant-ttl 100
expect_not_built exchange_request "request with a budget" "${AS_C[@]}" exchange request \
    press-feed --price 2 --budget 200
expect_not_built exchange_approve "approve" "${AS_B[@]}" exchange approve "$X"
expect_not_built exchange_reject "reject" "${AS_B[@]}" exchange reject "$X" --reason "not now"
expect_not_built exchange_deliver "deliver a sealed key" "${AS_B[@]}" exchange deliver "$X" \
    --sealed-key "$SEALED" --content-root "$ROOT"
printf '%s\n' "$SEALED" >"$T/sealed.key"
expect_not_built exchange_deliver "deliver a sealed key from a file" "${AS_B[@]}" \
    exchange deliver "$X" --key-file "$T/sealed.key"
expect_fail_with "exchange $X is not on the ledger \(TDEI_NOTFOUND\)" \
    "a raw key is sealed to the exchange's consumer: it must exist" \
    "${AS_B[@]}" exchange deliver "$X" --sealed-key "$KEY" --content-root "$ROOT"
[ "$status" -eq 1 ] && ok "that exits 1" || fail "exit $status"
expect_not_built exchange_confirm "confirm" "${AS_C[@]}" exchange confirm "$X"
expect_not_built exchange_dispute "dispute" "${AS_C[@]}" exchange dispute "$X" \
    --reason "root differs"
expect_not_built exchange_resolve "resolve --refund" "${AS_A[@]}" exchange resolve "$X" --refund
expect_not_built exchange_resolve "resolve --pay-owner" "${AS_A[@]}" exchange resolve "$X" \
    --pay-owner --reason "delivered as published"
expect_not_built grant_revoke "revoke" "${AS_A[@]}" exchange revoke "$X" --reason misuse
expect_fail_with "exchange $X is not on the ledger \(TDEI_NOTFOUND\)" \
    "show of an unknown exchange" "${AS_A[@]}" exchange show "$X"
expect_out '^0 exchanges at height [0-9]+$' "list with no exchanges" \
    "${AS_A[@]}" exchange list
expect_out '"exchanges": \[\]' "list --json" "${AS_A[@]}" --json exchange list \
    --member gamma-plat --status settled
expect_out '^balance +500$' "account show of another member" \
    "${AS_A[@]}" account show gamma-plat
expect_out '^balance +1000$' "account show of the home's member" "${AS_A[@]}" account show
expect_out '"role": "auditor"' "account show --json" "${AS_A[@]}" --json account show delta-aud
expect_fail_with "exchange $X is not on the ledger \(TDEI_NOTFOUND\)" \
    "account escrow of an unknown exchange" "${AS_A[@]}" account escrow "$X"
[ "$status" -eq 1 ] && ok "that exits 1" || fail "exit $status"
finish
