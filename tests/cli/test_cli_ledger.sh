#!/usr/bin/env bash
# A single-validator chain driven through the real tdei CLI: genesis,
# tdei-node, status, tx transfer, account, tx show, block show, refusals.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"

A=$T/alpha
B=$T/beta

"$TDEI_BIN" --home "$A" init --member alpha-svc --role public_service >/dev/null
"$TDEI_BIN" --home "$B" init --member beta-mfg --role manufacturer >/dev/null
"$TDEI_BIN" --home "$A" genesis new --chain-id tdei-cli >/dev/null
"$TDEI_BIN" --home "$A" genesis add-member --from-home "$A" --validator \
    --balance 1000 >/dev/null
"$TDEI_BIN" --home "$A" genesis add-member --from-home "$B" --balance 500 >/dev/null
sed -i -e 's/^block_interval_ms = .*/block_interval_ms = 20/' -e 's/^empty_block_interval_ms = .*/empty_block_interval_ms = 0/' "$A/config.ini"

expect_fail_with 'cannot connect to .*api.sock.*is tdei-node running' \
    "status without a node says how to fix it" "$TDEI_BIN" --home "$A" status
node_start "$A" && ok "tdei-node starts and answers" || fail "tdei-node did not start"
expect_out '^height +0$' "status at genesis" "$TDEI_BIN" --home "$A" status
expect_out '^result +applied$' "tx transfer commits" \
    "$TDEI_BIN" --home "$A" tx transfer --to beta-mfg --amount 250 --memo "invoice 7"
tx_id=$(awk '$1 == "tx" && $2 == "id" {print $3}' "$OUT")
grep -qE 'event +transfer from=alpha-svc to=beta-mfg amount=250' "$OUT" &&
    ok "the transfer event is printed" || fail "no transfer event"
expect_out '^balance +750$' "the sender's balance" "$TDEI_BIN" --home "$A" account show
expect_out '^balance +750$' "the receiver's balance" \
    "$TDEI_BIN" --home "$A" account show beta-mfg
expect_out '"balance": 750' "account show --json" \
    "$TDEI_BIN" --home "$A" --json account show beta-mfg
expect_out '^height +1$' "tx show finds the tx" "$TDEI_BIN" --home "$A" tx show "$tx_id"
expect_fail_with 'transfer needs 5000 credits; alpha-svc holds 750.*TDEI_INSUFFICIENT_FUNDS' \
    "a refused transfer names the rule and exits 1" \
    "$TDEI_BIN" --home "$A" tx transfer --to beta-mfg --amount 5000
grep -qE '^result +TDEI_INSUFFICIENT_FUNDS$' "$OUT" &&
    ok "the refusal is on the ledger with its code" || fail "no refusal result"
expect_fail_with 'TDEI_UNKNOWN_MEMBER' "a transfer to nobody is refused" \
    "$TDEI_BIN" --home "$A" tx transfer --to nobody-here --amount 1
expect_exit 2 "a bad receiver id is a usage error" \
    "$TDEI_BIN" --home "$A" tx transfer --to Nobody --amount 1
expect_exit 2 "a zero amount is a usage error" \
    "$TDEI_BIN" --home "$A" tx transfer --to beta-mfg --amount 0
expect_fail_with 'TDEI_NONCE_USED' "a used nonce is refused" \
    "$TDEI_BIN" --home "$A" tx transfer --to beta-mfg --amount 1 --nonce 1
expect_out '^commit signatures +1$' "block show prints the commit" \
    "$TDEI_BIN" --home "$A" block show 1
expect_out '"txs": 1' "block show --json" "$TDEI_BIN" --home "$A" --json block show 1
expect_fail_with 'no block at height 999' "a missing block is refused" \
    "$TDEI_BIN" --home "$A" block show 999
expect_exit 2 "tx show needs 64 hex digits" "$TDEI_BIN" --home "$A" tx show abc
height=$("$TDEI_BIN" --home "$A" status | awk '$1 == "height" {print $2}')
app=$("$TDEI_BIN" --home "$A" status | awk '$1 == "app" {print $3}')
node_stop
node_start "$A" || fail "tdei-node did not restart"
expect_out "^height +$height\$" "same height after a restart" \
    "$TDEI_BIN" --home "$A" status
grep -qE "^app hash +$app\$" "$OUT" && ok "same app hash after a restart" ||
    fail "app hash changed across a restart"
expect_out '^balance +750$' "same balance after a restart" \
    "$TDEI_BIN" --home "$A" account show beta-mfg
expect_fail_with 'in use by another process' "a second node on the same home is refused" \
    "$TDEI_NODE_BIN" --home "$A"
node_stop
grep -q 'msg="stopped" status=0' "$T/node.log" && ok "SIGTERM stops the node cleanly" ||
    fail "no clean stop in the log"
cp "$A/genesis.json" "$T/genesis.bak"
sed -i 's/"balance": 500/"balance": 501/' "$A/genesis.json"
expect_fail_with 'TDEI_GENESIS_MISMATCH' "a changed genesis is refused" \
    "$TDEI_NODE_BIN" --home "$A"
cp "$T/genesis.bak" "$A/genesis.json"
finish
