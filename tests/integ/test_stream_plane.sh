#!/usr/bin/env bash
# Real-time streams between the nodes of a 4-validator network on
# 127.0.0.1 (DESIGN.md section 9, issue 7): member mfg-1 opens a stream
# priced per record; plat-2 and mfg-3 subscribe, each with a budget for
# exactly the records pushed; a collector pushes them at a steady rate
# into mfg-1's node (stream_gen | tdei stream push). Mid-stream mfg-3's
# node is killed and started again: it asks for the batches it missed.
# At the end both subscribers hold every record, in order, byte-identical
# to the input (stream read, and plat-2's stream tail that followed the
# stream live), each paid exactly records x price and the owner got the
# sum. Before that, a batch whose time is far in the past is refused by
# the contract (TDEI_STREAM_STALE) and reported: stream state, and a
# warning in the owner's log. Prints the end-to-end latency (record
# generated at the collector to record stored at plat-2's node) p50/p99.
# Then batch requests as another node sends them (stream_probe): served
# when paid for, refused with a reason otherwise, a malformed one closes
# the connection; and the owner's node killed with a batch stored but not
# committed appends it after its restart, and with records taken but not
# cut yet batches them after its restart. Last, a subscription whose
# budget ends inside a batch is sent only the records it paid for, with
# the proof that they begin the batch.
#
# Settable: TDEI_STREAM_RECORDS (default 100000), TDEI_STREAM_RATE
# (records per second, default 4000), TDEI_STREAM_RESTART (default 1; 0
# leaves mfg-3's node running, for a latency figure undisturbed by it).
# Every wait is bounded; the whole run stays under about 3 minutes with
# the defaults.
#
# The homes are created by `tdei localnet up` and stopped by `localnet
# down`; the test then starts and kills its nodes itself, by pid.
source "$TDEI_SRCDIR/tests/cli/lib.sh"

: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"
: "${TDEI_BUILDDIR:?TDEI_BUILDDIR must name the build tree}"
GEN=$TDEI_BUILDDIR/tests/integ/stream_gen
PROBE=$TDEI_BUILDDIR/tests/integ/stream_probe
RECORDS=${TDEI_STREAM_RECORDS:-100000}
RATE=${TDEI_STREAM_RATE:-4000}
RESTART=${TDEI_STREAM_RESTART:-1}
PRICE=2
STREAM=press-feed
LN=$T/ln
source "$TDEI_SRCDIR/tests/integ/net_lib.sh"
tail_pid=""
push_pid=""

stop_all() {
    local p
    for p in $tail_pid $push_pid "${pids[@]}"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done
    for p in $tail_pid $push_pid "${pids[@]}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null
    done
}
trap 'show_logs; stop_all; "$TDEI_BIN" localnet down --dir "$LN" >/dev/null 2>&1; rm -rf "$T"' EXIT

for tool in "$GEN" "$PROBE"; do
    if [ ! -x "$tool" ]; then
        echo "not ok - $tool is missing; build it with make check"
        exit 1
    fi
done
case "$RECORDS$RATE$RESTART" in
*[!0-9]*) echo "TDEI_STREAM_RECORDS, _RATE and _RESTART are numbers"; exit 2 ;;
esac

as() { # as I ARGS...: the tdei command as node I's member, on its node
    local i=$1
    shift
    "$TDEI_BIN" --home "$LN/node$i" "$@"
}
balance() {
    as 0 --json account show "$1" 2>/dev/null |
        grep -m1 -oE '"balance": *[0-9]+' | grep -oE '[0-9]+$'
}
state_field() { # state_field I FIELD: a field of node I's stream state
    as "$1" --json stream state "$STREAM" 2>/dev/null |
        grep -m1 -oE "\"$2\": *(\"[^\"]*\"|[0-9]+)" | sed -E 's/^"[^"]*": *//; s/"//g'
}
wait_state() { # wait_state I FIELD VALUE SECONDS
    local end=$((SECONDS + $4))
    while [ "$SECONDS" -lt "$end" ]; do
        [ "$(state_field "$1" "$2")" = "$3" ] && return 0
        sleep 0.25
    done
    return 1
}
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# ---- the network ----------------------------------------------------------------
run "$TDEI_BIN" localnet up --nodes 4 --dir "$LN"
if [ "$status" -ne 0 ]; then
    fail "localnet up starts 4 nodes that commit"
    cat "$OUT" "$ERR"
    finish
fi
ok "localnet up starts 4 nodes that commit"
expect_exit 0 "localnet down stops them" "$TDEI_BIN" localnet down --dir "$LN"
for i in 0 1 2 3; do
    sed -i -e 's/^timeout_propose_ms = .*/timeout_propose_ms = 1500/' \
        -e 's/^backoff_max_ms = .*/backoff_max_ms = 1000/' \
        -e 's/^block_interval_ms = .*/block_interval_ms = 100/' \
        -e 's/^batch_ms = .*/batch_ms = 50/' \
        -e 's/^ban_ms = .*/ban_ms = 1500/' \
        "$LN/node$i/config.ini"
    start_node $i
done
h0=$(height 0)
check "the 4 nodes commit again" wait_height 3 $((h0 + 2)) 30
owner=$(sed -n 's/^member = //p' "$LN/node1/config.ini")
sub2=$(sed -n 's/^member = //p' "$LN/node2/config.ini")
sub3=$(sed -n 's/^member = //p' "$LN/node3/config.ini")

step "$owner publishes $STREAM, priced $PRICE per record" as 1 catalog publish \
    --id "$STREAM" --kind stream --title "Press line 4 pressure" --domain operation \
    --level 1 --class general --price-model per_record --price "$PRICE"
step "$owner opens it" as 1 stream open "$STREAM"

# ---- a stale batch is refused by the contract and reported ---------------------
lag=$(as 0 --json member params 2>/dev/null | grep -A1 '"name": "max_lag_ms"' |
    grep -oE '"value": *[0-9]+' | grep -oE '[0-9]+$')
[ -z "$lag" ] && lag=60000
stale=$(($(date +%s%3N) - lag - 3600000))
expect_out '^records sent +1$' "a record from an hour past max_lag_ms ($lag ms) is taken" \
    sh -c "echo '{\"ts\":$stale,\"n\":-1}' | \"\$0\" --home \"\$1\" stream push $STREAM" \
    "$TDEI_BIN" "$LN/node1"
check "its batch is refused (stream state: 1 refused record)" \
    wait_state 1 refused_records 1 30
check "the last refusal is TDEI_STREAM_STALE" \
    test "$(state_field 1 last_refusal_code)" = TDEI_STREAM_STALE
expect_out 'last refusal +TDEI_STREAM_STALE: stream_append: last_ts [0-9]+ is [0-9]+ ms behind block time' \
    "stream state gives the contract's reason" as 1 stream state "$STREAM"
grep -qE 'level=warning module=stream msg="batch refused.*stream=press-feed seq_first=0 seq_last=0 records=1 code=TDEI_STREAM_STALE' \
    "$LN/node1/test.log" && ok "the owner's node logs a warning naming the stream, seqs and reason" ||
    fail "no warning about the refused batch in the owner's log"
check "no record is appended" test "$(state_field 1 appended_records)" = 0

# ---- two subscribers, each for exactly the records pushed --------------------
o0=$(balance "$owner")
b2=$(balance "$sub2")
b3=$(balance "$sub3")
for i in 2 3; do
    run as $i --json stream subscribe "$STREAM" --records "$RECORDS" --timeout 60
    if [ "$status" -eq 0 ] && grep -q '"status": "settled"' "$OUT"; then
        ok "node $i's member subscribes for $RECORDS records (live at delivery)"
    else
        fail "node $i's member subscribes (exit $status)"
    fi
    xid[$i]=$(grep -oE '"exchange": *"[0-9a-f]{64}"' "$OUT" | grep -oE '[0-9a-f]{64}')
done
check "each budget left its balance: $((RECORDS * PRICE)) credits" \
    test "$(balance "$sub2")" -eq $((b2 - RECORDS * PRICE)) -a \
    "$(balance "$sub3")" -eq $((b3 - RECORDS * PRICE))

# plat-2 follows the stream live.
as 2 stream tail "$STREAM" --from 0 --count "$RECORDS" >"$T/tail2" 2>"$T/tail2.err" &
tail_pid=$!

# ---- the collector pushes at a steady rate; node 3 goes down meanwhile ---------
push_s=$((RECORDS / RATE + 1))
bound=$((push_s * 3 + 60))
start=$SECONDS
("$GEN" "$RECORDS" "$RATE" | tee "$T/input" |
    "$TDEI_BIN" --home "$LN/node1" stream push "$STREAM" >"$T/push.out" 2>"$T/push.err") &
push_pid=$!
if [ "$RESTART" -ne 0 ]; then
    sleep $((push_s * 2 / 5 + 1))
    kill_node 3
    sleep 3
    start_node 3
fi
end=$((start + bound))
while kill -0 "$push_pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
    sleep 0.5
done
if kill -0 "$push_pid" 2>/dev/null; then
    fail "the push of $RECORDS records did not end within $bound s"
    finish
fi
wait "$push_pid"
push_status=$?
push_pid=""
elapsed=$((SECONDS - start))
if [ "$push_status" -eq 0 ] && grep -qE "^records sent +$RECORDS\$" "$T/push.out"; then
    ok "stream push sent $RECORDS records in about $elapsed s ($RATE/s asked)"
else
    fail "stream push (exit $push_status): $(cat "$T/push.err")"
fi
check "the owner's node appended all of them" wait_state 1 appended_records "$RECORDS" 60
check "plat-2's node received all of them" wait_state 2 received_records "$RECORDS" 60
check "mfg-3's node$([ "$RESTART" -ne 0 ] && echo ", restarted mid-stream,") received all of them" \
    wait_state 3 received_records "$RECORDS" 90

# ---- complete, in order, byte-identical ------------------------------------------
for i in 1 2 3; do
    as $i stream read "$STREAM" --limit "$RECORDS" >"$T/read$i" 2>"$T/read$i.err"
    if cmp -s "$T/input" "$T/read$i"; then
        ok "node $i's stream read gives every record, in order, byte-identical"
    else
        fail "node $i's stream read differs from the input ($(wc -l <"$T/read$i") lines): $(cmp "$T/input" "$T/read$i" 2>&1 | head -1)"
    fi
done
end=$((SECONDS + 30))
while kill -0 "$tail_pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
    sleep 0.2
done
if kill -0 "$tail_pid" 2>/dev/null; then
    fail "stream tail --count $RECORDS did not end"
else
    wait "$tail_pid"
    tail_status=$?
    tail_pid=""
    cmp -s "$T/input" "$T/tail2" && [ "$tail_status" -eq 0 ] &&
        ok "plat-2's stream tail printed every record as it came, in order, byte-identical" ||
        fail "stream tail (exit $tail_status) differs: $(cmp "$T/input" "$T/tail2" 2>&1 | head -1)"
fi

# ---- charged exactly per record ---------------------------------------------------------
check "$owner received $((2 * RECORDS * PRICE)) credits, the sum of both" \
    test "$(balance "$owner")" -eq $((o0 + 2 * RECORDS * PRICE))
for i in 2 3; do
    run as 0 --json exchange show "${xid[$i]}"
    json_has "\"records\":$RECORDS" "exchange of node $i's member: $RECORDS records charged"
    json_has '"status":"ended"' "its budget is spent: the subscription ended"
done
check "balances of the subscribers are down by exactly $((RECORDS * PRICE))" \
    test "$(balance "$sub2")" -eq $((b2 - RECORDS * PRICE)) -a \
    "$(balance "$sub3")" -eq $((b3 - RECORDS * PRICE))
check "no subscriber's batch failed its checks" \
    test "$(state_field 2 bad_batches)" = 0 -a "$(state_field 3 bad_batches)" = 0
if [ "$RESTART" -ne 0 ]; then
    grep -q 'asking for missing batches' "$LN/node3/test.log" &&
        ok "mfg-3's node asked for the batches it missed" ||
        fail "mfg-3's node never asked for missing batches"
fi
check "the owner's node refused one batch only, the stale one" \
    test "$(state_field 1 refused_batches)" = 1

# ---- latency -----------------------------------------------------------------------------
as 2 --json stream read "$STREAM" --limit "$RECORDS" |
    sed -E 's/.*"ts":([0-9]+),.*"stored_ms":([0-9]+),.*/\2 \1/' |
    awk '{print $1 - $2}' | sort -n >"$T/lat"
n=$(wc -l <"$T/lat")
if [ "$n" -eq "$RECORDS" ]; then
    p50=$(sed -n "$(((n + 1) / 2))p" "$T/lat")
    p99=$(sed -n "$(((n * 99 + 99) / 100))p" "$T/lat")
    ok "latency measured over $n records"
    echo "# stream end-to-end latency (generated at the collector -> stored at plat-2's node): p50 ${p50} ms, p99 ${p99} ms ($RECORDS records at $RATE/s, 4 nodes)"
    echo "# {\"stream_records\":$RECORDS,\"rate\":$RATE,\"stream_latency_ms\":{\"p50\":$p50,\"p99\":$p99}}"
else
    fail "latency: $n of $RECORDS records read"
fi

# ---- batch requests, as another node sends them ---------------------------------
# mfg-3's node is stopped and its key asks: what it paid for comes; what
# it may not have is refused with a reason, and a malformed request closes
# the connection.
chain=$(grep -oE '"chain_id": *"[a-z0-9-]+"' "$LN/node0/genesis.json" | grep -oE '"[a-z0-9-]+"$' | tr -d '"')
p2p_addr() { sed -n '/^\[p2p\]/,$ s/^listen = //p' "$LN/node$1/config.ini"; }
kill_node 3
as3=("$PROBE" --chain "$chain" --key "$LN/node3/keys/node.key")
run "${as3[@]}" --addr "$(p2p_addr 1)" request "${xid[3]}" 0
if [ "$status" -eq 0 ] && head -n 1 "$OUT" | grep -qE '^batch 0 [0-9]+ [0-9]+$'; then
    ok "the owner's node answers mfg-3's request with the batches it paid for ($(wc -l <"$OUT"))"
else
    fail "a batch request for mfg-3's own subscription (exit $status)"
fi
expect_exit 5 "a request for plat-2's subscription is refused" \
    "${as3[@]}" --addr "$(p2p_addr 1)" request "${xid[2]}" 0
has '^refused TDEI_NOT_PARTY: the exchange.s consumer is plat-2; mfg-3 asked$' \
    "... as not the consumer's"
expect_exit 5 "a request for an exchange that does not exist is refused" \
    "${as3[@]}" --addr "$(p2p_addr 1)" request "$(printf '7%.0s' $(seq 1 64))" 0
has '^refused TDEI_UNKNOWN_EXCHANGE: ' "... as unknown"
expect_exit 5 "a request to a node that does not own the stream is refused" \
    "${as3[@]}" --addr "$(p2p_addr 0)" request "${xid[3]}" 0
has "^refused TDEI_NOT_OWNER: stream $STREAM is $owner's now" "... naming the owner"
expect_exit 6 "a request with a 31-byte exchange id closes the connection" \
    "${as3[@]}" --addr "$(p2p_addr 1)" request "${xid[3]}" 0 31
sleep 1.7 # the ban of the key ends
# A live subscription that the regulator revokes is served no more.
run "$TDEI_BIN" --home "$LN/node3" --node "$LN/node0/api.sock" --json stream subscribe \
    "$STREAM" --records 5 --timeout 60
x4=$(grep -oE '"exchange": *"[0-9a-f]{64}"' "$OUT" | grep -oE '[0-9a-f]{64}')
check "mfg-3 subscribes again (5 records)" test -n "$x4"
ts=$(date +%s%3N)
expect_out '^records sent +2$' "2 more records are pushed" \
    sh -c "printf '{\"ts\":$ts,\"n\":-2}\n{\"ts\":$ts,\"n\":-3}\n' | \"\$0\" --home \"\$1\" stream push $STREAM" \
    "$TDEI_BIN" "$LN/node1"
check "they are appended" wait_state 1 appended_records $((RECORDS + 2)) 30
expect_exit 0 "the owner's node serves them to the live subscription" \
    "${as3[@]}" --addr "$(p2p_addr 1)" request "$x4" 0
has "^batch $RECORDS [0-9]+ [0-9]+$" "... from seq $RECORDS, where it began"
step "the regulator (svc-0) revokes it" as 0 exchange revoke "$x4" --reason "incident 7"
expect_exit 5 "after the revocation the owner's node refuses it" \
    "${as3[@]}" --addr "$(p2p_addr 1)" request "$x4" 0
has '^refused TDEI_NO_GRANT: the grant was revoked at height [0-9]+' "... as revoked"
start_node 3
check "mfg-3's node comes back" wait_height 3 "$(height 0)" 40

# ---- a batch that fails its checks is not stored, and is asked for again ------
# plat-2 subscribes again; its node is down while 3 records are appended,
# and the owner's node is down when it comes back. A batch pushed by a
# node that does not own the stream is not taken; a malformed one closes
# the connection; one with the owner's key whose records do not match
# the ledger's root is counted bad and not stored, and the batch is asked
# for again; when the owner's node is back, the true batch is stored.
run as 2 --json stream subscribe "$STREAM" --records 5 --timeout 60
x5=$(grep -oE '"exchange": *"[0-9a-f]{64}"' "$OUT" | grep -oE '[0-9a-f]{64}')
check "plat-2 subscribes again (5 records)" test -n "$x5"
got2=$(state_field 2 received_records)
kill_node 2
ts=$(date +%s%3N)
expect_out '^records sent +3$' "3 records are pushed while plat-2's node is down" \
    sh -c "seq 1 3 | sed 's/^/owed-/' | \"\$0\" --home \"\$1\" stream push $STREAM" \
    "$TDEI_BIN" "$LN/node1"
check "they are appended" wait_state 1 appended_records $((RECORDS + 5)) 30
s5=$((RECORDS + 2))
h5=$(as 1 --json stream read "$STREAM" --from $s5 --limit 1 |
    grep -oE '"height":[0-9]+' | grep -oE '[0-9]+')
kill_node 1
kill_node 3
start_node 2
check "plat-2's node catches up to the append's block ($h5)" wait_height 2 "$h5" 40
as3=("$PROBE" --chain "$chain" --key "$LN/node3/keys/node.key")
as1=("$PROBE" --chain "$chain" --key "$LN/node1/keys/node.key")
expect_exit 4 "a batch pushed by a node that does not own the stream is not taken" \
    "${as3[@]}" --addr "$(p2p_addr 2)" push "$x5" "$STREAM" "$s5" "$h5" 3
grep -q 'pushed batch not taken.*code=TDEI_NOT_OWNER error="it comes from mfg-3.s node; stream press-feed is mfg-1.s"' \
    "$LN/node2/test.log" && ok "... and plat-2's node logs why" ||
    fail "no log line about the batch from a non-owner"
expect_exit 6 "a batch with a 47-byte wrapped key closes the connection" \
    "${as3[@]}" --addr "$(p2p_addr 2)" push "$x5" "$STREAM" "$s5" "$h5" 3 47
run "${as1[@]}" --addr "$(p2p_addr 2)" push "$x5" "$STREAM" "$s5" "$h5" 3
[ "$status" -eq 7 ] && grep -q "^request $s5\$" "$OUT" &&
    ok "plat-2's node asks the owner's key for the owed batch from seq $s5" ||
    fail "no batch request for the owed batch (exit $status)"
check "the altered batch is counted bad" wait_state 2 bad_batches 1 10
grep -q 'received batch failed its checks; not stored, asking again.*code=TDEI_BADPROOF' \
    "$LN/node2/test.log" && ok "... and logged: it does not match the ledger's root" ||
    fail "no log line about the bad batch"
check "nothing of it is stored" test "$(state_field 2 received_records)" = "$got2"
start_node 1
start_node 3
check "the owner's node back, plat-2's node gets the true batch" \
    wait_state 2 received_records $((got2 + 3)) 40
as 2 stream read "$STREAM" --from "$s5" --limit 3 >"$T/owed"
seq 1 3 | sed 's/^/owed-/' | cmp -s - "$T/owed" &&
    ok "the 3 records are stored, identical" || fail "the owed records differ"
as 2 stream read "$STREAM" --from $((RECORDS - 2)) --limit 10 >"$T/skip"
{ tail -n 2 "$T/input"; seq 1 3 | sed 's/^/owed-/'; } | cmp -s - "$T/skip" &&
    ok "a read on plat-2's node passes over the 2 records it never paid for" ||
    fail "read across the records plat-2 did not pay for: $(cat "$T/skip")"

# ---- the owner's node dies with a batch stored and not yet committed -----------
# Without a quorum (nodes 0 and 3 stopped) the append cannot commit; the
# owner's node is killed meanwhile. After the restart it appends the
# stored batch: the records it took are not lost.
kill_node 0
kill_node 3
ts=$(date +%s%3N)
expect_out '^records sent +10$' "10 records are taken while the chain cannot commit" \
    sh -c "seq 1 10 | sed 's/^/late-/' | \"\$0\" --home \"\$1\" stream push $STREAM" \
    "$TDEI_BIN" "$LN/node1"
check "their batch is stored and in flight" wait_state 1 in_flight 10 20
kill_node 1
start_node 0
start_node 3
start_node 1
check "after the restart the owner's node appends it" \
    wait_state 1 appended_records $((RECORDS + 15)) 60
grep -q 'appending a batch stored before the restart.*records=10' "$LN/node1/test.log" &&
    ok "the owner's node says it appends a batch stored before the restart" ||
    fail "no log line about the stored batch"
as 1 stream read "$STREAM" --from $((RECORDS + 5)) --limit 20 >"$T/late"
seq 1 10 | sed 's/^/late-/' | cmp -s - "$T/late" &&
    ok "the 10 records are on the ledger, in order" ||
    fail "the records taken before the kill differ: $(head -3 "$T/late")"

# ---- the owner's node dies with records taken and not cut yet ----------------
# Again without a quorum: 5 records go into a batch that cannot commit,
# and 7 more wait behind it (one append per stream is in flight). The
# node answered both pushes, so it keeps both in DATA/streams: after a
# kill -9 and a restart all 12 are appended, in order.
kill_node 0
kill_node 3
expect_out '^records sent +5$' "5 records are taken while the chain cannot commit" \
    sh -c "seq 1 5 | sed 's/^/first-/' | \"\$0\" --home \"\$1\" stream push $STREAM" \
    "$TDEI_BIN" "$LN/node1"
check "their batch is in flight" wait_state 1 in_flight 5 20
expect_out '^records sent +7$' "7 more are taken behind it" \
    sh -c "seq 1 7 | sed 's/^/queued-/' | \"\$0\" --home \"\$1\" stream push $STREAM" \
    "$TDEI_BIN" "$LN/node1"
check "they wait in the queue, not cut" test "$(state_field 1 queued)" = 7
kill_node 1
start_node 0
start_node 3
start_node 1
check "after the restart all 12 are appended" \
    wait_state 1 appended_records $((RECORDS + 27)) 60
grep -q 'records taken before the restart are queued again.*records=7' "$LN/node1/test.log" &&
    ok "the owner's node says it queued the 7 again after the restart" ||
    fail "no log line about the queued records"
as 1 stream read "$STREAM" --from $((RECORDS + 15)) --limit 20 >"$T/queued"
{ seq 1 5 | sed 's/^/first-/'; seq 1 7 | sed 's/^/queued-/'; } | cmp -s - "$T/queued" &&
    ok "the 12 records are on the ledger, in order, none twice" ||
    fail "the records taken before the kill differ: $(head -3 "$T/queued")"
check "nothing is left queued" test "$(state_field 1 queued)" = 0

# ---- a budget that ends inside a batch ----------------------------------------
# mfg-3 subscribes for 3 records and 6 come in one batch: its node gets
# the first 3 with the proof that they begin the batch on the ledger, and
# never the other 3.
run as 3 --json stream subscribe "$STREAM" --records 3 --timeout 60
x5=$(grep -oE '"exchange": *"[0-9a-f]{64}"' "$OUT" | grep -oE '[0-9a-f]{64}')
check "mfg-3 subscribes for 3 records" test -n "$x5"
bad3=$(state_field 3 bad_batches)
kill_node 3
expect_out '^records sent +6$' "6 records are pushed in one batch" \
    sh -c "seq 1 6 | sed 's/^/part-/' | \"\$0\" --home \"\$1\" stream push $STREAM" \
    "$TDEI_BIN" "$LN/node1"
check "they are appended" wait_state 1 appended_records $((RECORDS + 33)) 30
run "${as3[@]}" --addr "$(p2p_addr 1)" request "$x5" 0
[ "$status" -eq 0 ] && grep -qE "^batch $((RECORDS + 27)) 3 [0-9]+\$" "$OUT" &&
    ok "the owner's node sends mfg-3 the 3 records it paid for, not the 6" ||
    fail "the batch for a budget of 3 (exit $status): $(head -3 "$OUT")"
sleep 1.7 # the ban of the probe's key, if any, ends
start_node 3
check "mfg-3's node comes back" wait_height 3 "$(height 0)" 40
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ]; do
    as 3 stream read "$STREAM" --from $((RECORDS + 27)) --limit 10 >"$T/part" 2>/dev/null
    [ "$(wc -l <"$T/part")" -ge 3 ] && break
    sleep 0.25
done
seq 1 3 | sed 's/^/part-/' | cmp -s - "$T/part" &&
    ok "mfg-3 reads exactly part-1 to part-3" ||
    fail "mfg-3's records of the partly paid batch: $(head -5 "$T/part")"
check "its node took the 3 with their proof, no batch counted bad" \
    test "$(state_field 3 bad_batches)" = "${bad3:-x}"

alive=1
for i in 0 1 2 3; do
    kill -0 "${pids[$i]}" 2>/dev/null || { alive=0; echo "  node $i is gone"; }
done
check "no node died along the way" test "$alive" -eq 1
finish
