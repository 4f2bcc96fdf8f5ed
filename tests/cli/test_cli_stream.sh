#!/usr/bin/env bash
# tdei stream: usage refusals, --help, and against a real node: show of a
# stream never opened; open, append and close applied and checked through
# stream show (table and --json); a per_record subscription delivered
# without a content root and charged by an append, then ended by the close
# with its refund (exchange show, account escrow, the balances); the
# ledger's refusals (TDEI_STREAM_SEQ, TDEI_STREAM_STALE, ...) exit 1 with
# the reason. The data plane on the node of the stream's owner: push of
# JSON and raw lines read back identical (read, --json, tail, state), each
# bad line stopping the push after what came before it, and subscribe's
# refusals (not a per_record stream, a budget that overflows or that the
# balance does not cover).
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

ROOT=$(printf 'ef%.0s' $(seq 1 32))
ROOT2=$(printf 'fe%.0s' $(seq 1 32))
KEY=$(printf '11%.0s' $(seq 1 32))  # a raw 32-byte content key

# ---- help ------------------------------------------------------------------
for cmd in open append close show push subscribe tail read state; do
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
expect_usage 'missing operand: give STREAM' "push needs a stream" "${AS_A[@]}" stream push
expect_usage "STREAM 'Feed' is not an entry id" "push checks the id" \
    "${AS_A[@]}" stream push Feed
expect_usage '--batch 0 is outside 1-10000' "push --batch 0" "${AS_A[@]}" stream push feed-x --batch 0
expect_usage '--batch 10001 is outside 1-10000' "push --batch over the node's limit" \
    "${AS_A[@]}" stream push feed-x --batch 10001
expect_usage "unexpected argument 'more'" "push takes one file" \
    "${AS_A[@]}" stream push feed-x a.txt more
expect_usage '--records N is required' "subscribe needs --records" \
    "${AS_C[@]}" stream subscribe feed-x
expect_usage '--records 0 is below 1' "subscribe --records 0" \
    "${AS_C[@]}" stream subscribe feed-x --records 0
expect_usage '--timeout 0 is outside 1-86400' "subscribe --timeout 0" \
    "${AS_C[@]}" stream subscribe feed-x --records 5 --timeout 0
expect_usage '--count 0 is below 1' "tail --count 0" "${AS_A[@]}" stream tail feed-x --count 0
expect_usage '--limit 0 is below 1' "read --limit 0" "${AS_A[@]}" stream read feed-x --limit 0
expect_usage "STREAM 'F' is not an entry id" "state checks the id" "${AS_A[@]}" stream state F

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

# ---- the data plane: records into the node of the stream's owner ---------------
expect_fail_with 'stream press-feed is owned by beta-mfg; this node is alpha-svc' \
    "the node takes records only for its member's streams" \
    sh -c 'echo x | "$@"' sh "${AS_A[@]}" stream push press-feed
step "alpha publishes alpha-feed" "${AS_A[@]}" catalog publish --id alpha-feed \
    --kind stream --title "Alpha feed" --domain production --level 1 --class general \
    --price-model per_record --price 3
expect_fail_with 'stream alpha-feed was never opened' "push before the open" \
    sh -c 'echo x | "$@"' sh "${AS_A[@]}" stream push alpha-feed
step "alpha opens it" "${AS_A[@]}" stream open alpha-feed
expect_fail_with 'this node holds no record of stream alpha-feed.*\(TDEI_NOTFOUND\)' \
    "read before any record" "${AS_A[@]}" stream read alpha-feed
expect_fail_with 'ts-less is not in the catalog' "read of an unknown stream" \
    "${AS_A[@]}" stream read ts-less
expect_fail_with 'cannot open '"$T"'/none.txt' "push of a missing file" \
    "${AS_A[@]}" stream push alpha-feed "$T/none.txt"
wait_past() { # wait_past MS: until the clock is past Unix ms MS (at most 5 s)
    local end=$((SECONDS + 5))
    while [ "$(date +%s%3N)" -le "$1" ] && [ "$SECONDS" -lt "$end" ]; do
        sleep 0.05
    done
}
now=$(date +%s%3N)
{
    echo "{\"ts\":$now,\"t\":1}"
    echo "plain line 2"
    echo "{\"ts\":$((now + 1500)),\"t\":3}"
    printf '%s\r\n' '{"t":4}'
} >"$T/in.txt"
expect_out '^records sent +4$' "push a file of JSON and raw lines" \
    "${AS_A[@]}" stream push alpha-feed "$T/in.txt"
read_all() { # read_all N: node A gives N records of alpha-feed within 10 s
    local end=$((SECONDS + 10))
    while [ "$SECONDS" -lt "$end" ]; do
        run "${AS_A[@]}" stream read alpha-feed
        [ "$status" -eq 0 ] && [ "$(wc -l <"$OUT")" -eq "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
read_all 4 && ok "the 4 records are appended and read back" || fail "read after the push"
tr -d '\r' <"$T/in.txt" >"$T/want.txt"
cmp -s "$OUT" "$T/want.txt" && ok "read gives the lines as pushed (CR LF ends cut)" ||
    fail "read differs from the pushed lines"
run "${AS_A[@]}" --json stream read alpha-feed --from 2 --limit 1
has "^\{\"seq\":2,\"ts\":$((now + 1500)),\"height\":[0-9]+,\"stored_ms\":[0-9]+,\"data\":\"\{\\\\\"ts\\\\\":$((now + 1500)),\\\\\"t\\\\\":3\}\"\}\$" \
    "read --json: a JSON line's ts is the record's source time"
run "${AS_A[@]}" --json stream read alpha-feed --from 3
has "^\{\"seq\":3,\"ts\":$((now + 1500))," \
    "a line timed when read never goes back before the line before it"
run "${AS_A[@]}" --json stream read alpha-feed --from 0 --limit 1
has "^\{\"seq\":0,\"ts\":$now," "the first record's ts is its JSON ts"
expect_out '^plain line 2$' "read --from 1 --limit 1" "${AS_A[@]}" stream read alpha-feed \
    --from 1 --limit 1
expect_out '^\{"t":4\}$' "tail --from 3 --count 1 prints the record and exits" \
    timeout 20 "${AS_A[@]}" stream tail alpha-feed --from 3 --count 1
run "${AS_A[@]}" stream state alpha-feed
has '^role +owner$' "state: this node's member owns it"
has '^appended +4 records in [1-4] batches$' "state: 4 records appended"
has '^held +seq 0 to 3$' "state: seqs 0-3 held"

# Bad lines stop the push: what came before is sent, nothing after.
wait_past $((now + 1500))
printf 'a\n\nb\n' >"$T/empty.txt"
expect_fail_with "line 2 of $T/empty.txt: it is empty; a record has at least one byte; 1 records before it were sent, nothing after it" \
    "an empty line" "${AS_A[@]}" stream push alpha-feed "$T/empty.txt"
printf '{"ts":"soon"}\n' >"$T/badts.txt"
expect_fail_with 'line 1 of .*badts.txt: its "ts" member is not a positive integer' \
    "a ts that is not a number" "${AS_A[@]}" stream push alpha-feed "$T/badts.txt"
later=$(($(date +%s%3N) + 300))
printf '{"ts":%s}\n{"ts":%s}\nc\n' "$later" "$((later - 1))" >"$T/back.txt"
expect_fail_with 'line 2 of .*back.txt: its "ts" is before the line before it' \
    "a ts going backwards in the input" "${AS_A[@]}" stream push alpha-feed "$T/back.txt"
printf '{"ts":5}\n' >"$T/old.txt"
expect_fail_with 'the node refused lines 1-1 .*record 0 has ts_ms 5, before [0-9]+ \(the last record this node took for the stream\).*TDEI_INVAL' \
    "a ts before the node's last record" "${AS_A[@]}" stream push alpha-feed "$T/old.txt"
wait_past "$later"
expect_out '^records sent +1$' "--raw takes a JSON line as raw, timed when read" \
    sh -c 'echo "{\"ts\":5}" | "$@"' sh "${AS_A[@]}" stream push alpha-feed --raw
read_all 7 && ok "the lines before each bad one were appended, and the raw one" ||
    fail "read after the bad lines"
printf '%s\n' a '{"ts":'"$later"'}' '{"ts":5}' >"$T/want2.txt"
tail -n 3 "$OUT" | cmp -s - "$T/want2.txt" && ok "nothing after a bad line was sent" ||
    fail "the records after the bad lines differ"
run "${AS_A[@]}" --json stream state alpha-feed
json_has '"appended_records":7,' "state --json: 7 records appended"
json_has '"refused_records":0,' "state --json: none refused"

# subscribe: the entry must be a per_record stream, the budget must fit.
expect_fail_with 'the ledger refused the subscription request: .*\(TDEI_OWN_DATASET\)' \
    "the owner cannot subscribe to its own stream" "${AS_B[@]}" stream subscribe \
    press-feed --records 5
step "alpha publishes a dataset" "${AS_A[@]}" catalog publish --id alpha-data \
    --kind dataset --title "Alpha data" --domain rd --level 1 --class general \
    --price-model one_time --price 5 --content-root "$ROOT" --size 10
expect_fail_with 'alpha-data is dataset priced one_time; subscribe takes a stream priced per_record' \
    "subscribe to a dataset" "${AS_C[@]}" stream subscribe alpha-data --records 5
expect_usage '--records 9223372036854775808 x the price 3 overflows a budget' \
    "a budget that overflows" "${AS_C[@]}" stream subscribe alpha-feed \
    --records 9223372036854775808
expect_fail_with 'the ledger refused the subscription request: .*TDEI_INSUFFICIENT_FUNDS' \
    "a budget above the balance" "${AS_C[@]}" stream subscribe alpha-feed --records 1000
finish
