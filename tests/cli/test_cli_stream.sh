#!/usr/bin/env bash
# tdei stream: usage refusals, --help, and against a real node: show of a
# stream never opened; open, append and close applied and checked through
# stream show (table and --json); a per_record subscription delivered
# without a content root and charged by an append, then ended by the close
# with its refund (exchange show, account escrow, the balances); the
# ledger's refusals (TDEI_STREAM_SEQ, TDEI_STREAM_STALE, ...) exit 1 with
# the reason.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

ROOT=$(printf 'ef%.0s' $(seq 1 32))
ROOT2=$(printf 'fe%.0s' $(seq 1 32))
KEY=$(printf '11%.0s' $(seq 1 32))  # a raw 32-byte content key

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
node_start "$A" && ok "tdei-node starts" || fail "tdei-node did not start"
expect_fail_with 'stream press-feed is not on the ledger \(TDEI_NOTFOUND\)' \
    "show of a stream never opened" "${AS_B[@]}" stream show press-feed
[ "$status" -eq 1 ] && ok "that exits 1" || fail "exit $status"
step "publish press-feed" "${AS_B[@]}" catalog publish --id press-feed --kind stream \
    --title "Press feed" --domain operation --level 1 --class general \
    --price-model per_record --price 2

# ---- open, append ------------------------------------------------------------------
expect_refused TDEI_NOT_OWNER 'needs its owner beta-mfg; gamma-plat does not own it' \
    "only the owner opens" "${AS_C[@]}" stream open press-feed
step "open" "${AS_B[@]}" stream open press-feed
has '^event +stream.opened id=press-feed by=beta-mfg$' "open prints its event"
run "${AS_C[@]}" stream show press-feed
has '^stream +press-feed$' "show: the id"
has '^status +open$' "show: open"
has '^next seq +0$' "show: next seq 0"
has '^last ts +0$' "show: no record yet"
has '^batches +0$' "show: no batch yet"
has '^last batch root +-$' "show: no root yet"
has '^subscriptions +0$' "show: no subscription"
expect_refused TDEI_STREAM_STATE 'already opened' "open twice" \
    "${AS_B[@]}" stream open press-feed
# A stale batch is refused before any other: the stream has no last_ts yet.
now=$(date +%s%3N)
expect_refused TDEI_STREAM_STALE \
    "last_ts $((now - 120000)) is [0-9]+ ms behind block time [0-9]+; "\
"params.max_lag_ms allows 60000" \
    "a batch two minutes old" "${AS_B[@]}" stream append press-feed --seq 0 --count 1 \
    --first-ts $((now - 120000)) --last-ts $((now - 120000)) --root "$ROOT"
ts1=$(date +%s%3N)
step "append" "${AS_B[@]}" stream append press-feed --seq 0 --count 100 \
    --first-ts $((ts1 - 1000)) --last-ts "$ts1" --root "$ROOT"
has "^event +stream.appended id=press-feed by=beta-mfg seq_first=0 count=100 "\
"first_ts=$((ts1 - 1000)) last_ts=$ts1 batch_root=$ROOT charged=0 amount=0 ended=0\$" \
    "append prints its event: nobody charged"
run "${AS_C[@]}" stream show press-feed
has '^next seq +100$' "show: next seq after 100 records"
has "^last ts +$ts1\$" "show: the last record's time"
has '^batches +1$' "show: one batch"
has "^last batch root +$ROOT\$" "show: the batch's root"
run "${AS_C[@]}" --json stream show press-feed
json_has '{"id":"press-feed","status":"open","next_seq":100,"last_ts":'"$ts1"',"batches":1,'\
'"last_batch_root":"'"$ROOT"'","subscriptions":[],' "show --json"
expect_refused TDEI_STREAM_SEQ 'batch starts at seq 7; stream press-feed expects 100' \
    "a gap in the sequence" "${AS_B[@]}" stream append press-feed --seq 7 --count 1 \
    --first-ts "$ts1" --last-ts "$ts1" --root "$ROOT"
expect_refused TDEI_STREAM_SEQ 'batch starts at seq 0; stream press-feed expects 100' \
    "a batch replayed" "${AS_B[@]}" stream append press-feed --seq 0 --count 100 \
    --first-ts $((ts1 - 1000)) --last-ts "$ts1" --root "$ROOT"

# ---- a per_record subscription ------------------------------------------------
step "request with a budget" "${AS_C[@]}" exchange request press-feed --price 2 --budget 50
X=$(last_tx)
balance gamma-plat 450 "after prepaying 50"
run "${AS_A[@]}" exchange show "$X"
has '^entry +press-feed \(stream\)$' "exchange show: a stream has no version"
has '^status +approved$' "exchange show: approved at level 1"
has '^price +per_record 2$' "exchange show: the price per record"
has '^escrow +50 \(escrow account 50\)$' "exchange show: the budget in escrow"
step "deliver without --content-root" "${AS_B[@]}" exchange deliver "$X" --sealed-key "$KEY"
has "^event +exchange.delivered id=$X dataset=press-feed by=beta-mfg status=settled\$" \
    "a stream subscription is live at delivery"
h=$(last_height)
run "${AS_A[@]}" exchange show "$X"
has '^status +settled$' "exchange show: settled"
has '^content root +-$' "exchange show: no content root"
has '^escrow +50 \(escrow account 50\)$' "exchange show: the budget is still prepaid"
has "^settled +height $h\$" "exchange show: settled at delivery"
run "${AS_C[@]}" stream show press-feed
has '^subscriptions +1$' "show: one subscription"
has "^  exchange +$X\$" "show: the subscription's exchange"
ts2=$(date +%s%3N)
step "append charges the subscription" "${AS_B[@]}" stream append press-feed --seq 100 \
    --count 10 --first-ts "$ts1" --last-ts "$ts2" --root "$ROOT2"
has 'charged=1 amount=20 ended=0$' "append: one subscription charged 20"
has "^event +stream.charged id=press-feed by=beta-mfg charge=$X 10 20\$" \
    "append: 10 records of 2 charged to the exchange"
run "${AS_A[@]}" exchange show "$X"
has '^records +10$' "exchange show: 10 records paid"
has '^escrow +30 \(escrow account 30\)$' "exchange show: the escrow less 20"
expect_out '^escrow +30$' "account escrow: 30 left" "${AS_A[@]}" account escrow "$X"
balance beta-mfg 520 "after the charge"
balance gamma-plat 450 "after the charge"
run "${AS_C[@]}" --json stream show press-feed
json_has '"next_seq":110,"last_ts":'"$ts2"',"batches":2,"last_batch_root":"'"$ROOT2"'",'\
'"subscriptions":["'"$X"'"],' "show --json: the second batch and the subscription"

# ---- close ---------------------------------------------------------------------------
expect_refused TDEI_NOT_OWNER 'gamma-plat does not own it' "only the owner closes" \
    "${AS_C[@]}" stream close press-feed
step "close" "${AS_B[@]}" stream close press-feed
has '^event +stream.closed id=press-feed by=beta-mfg ended=1 refund=30$' \
    "close ends one subscription and refunds 30"
h=$(last_height)
run "${AS_C[@]}" stream show press-feed
has '^status +closed$' "show: closed"
has '^subscriptions +0$' "show: no subscription left"
has '^next seq +110$' "show: the appends stay"
run "${AS_A[@]}" exchange show "$X"
has '^status +ended$' "exchange show: the subscription ended"
has '^escrow +0 \(escrow account 0\)$' "exchange show: nothing left in escrow"
has '^records +10$' "exchange show: the records paid stay"
has "^closed +height $h\$" "exchange show: ended at the close"
balance gamma-plat 480 "after the refund"
balance beta-mfg 520 "after the close"
expect_refused TDEI_STREAM_STATE 'stream press-feed is closed' "no append after the close" \
    "${AS_B[@]}" stream append press-feed --seq 110 --count 1 --first-ts "$ts2" \
    --last-ts "$ts2" --root "$ROOT"
expect_refused TDEI_STREAM_STATE 'a closed one never reopens' "a closed stream never reopens" \
    "${AS_B[@]}" stream open press-feed
finish
