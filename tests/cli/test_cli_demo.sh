#!/usr/bin/env bash
# `tdei localnet demo` on a 3-node localnet and `tdei bench --data` on a
# 2-node one, through the real binaries: the demo passes every step on a
# running localnet and again with new ids, fails with exit 1 naming the
# step when one cannot succeed, refuses a localnet that runs only in
# part, and starts and stops a stopped one; the bench prints its JSON
# (structure only, never speed). The nodes bind only 127.0.0.1 and
# sockets under $T; every command is bounded by `timeout`; on exit the
# trap stops exactly the pids this test's localnets recorded.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"
source "$TDEI_SRCDIR/tests/cli/localnet_lib.sh"

DEMO=$T/demo
TDEI=(timeout 300 "$TDEI_BIN")
trap 'stop_recorded; rm -rf "$T"' EXIT

# balance_of MEMBER: the member's balance, asked of node0.
balance_of() {
    "$TDEI_BIN" --home "$DEMO/node0" account show "$1" |
        awk '$1 == "balance" {print $2}'
}

# ---- the demo on a running localnet -----------------------------------------
expect_out 'node2 +plat-2 +[0-9]+ +running' "up --nodes 3 for the demo" \
    "${TDEI[@]}" localnet up --nodes 3 --dir "$DEMO" --wait-timeout 60
pids=$(cat "$DEMO"/node*/node.pid)
run "${TDEI[@]}" localnet demo --dir "$DEMO" --size-mib 2 --records 50
[ "$status" -eq 0 ] && ok "the demo exits 0" || fail "the demo exit $status"
has '^    \$ tdei --home .*/node1 --json catalog publish --id press-log-h[0-9]+ .* --file .*/dataset\.bin$' \
    "the demo shows the commands it runs, as the owner"
has '^    ok: on the ledger: 2097152 bytes, 32 sealed chunks of 64 KiB, content root [0-9a-f]{64}$' \
    "the file is published with its size and root"
has '^    \$ tdei --home .*/node1 --json exchange approve [0-9a-f]{64}$' \
    "the owner approves the level 2 request"
has '^    ok: approved \(owner: mfg-1, regulator: not needed\)$' \
    "the approval is on the ledger"
has '^    ok: delivered at height [0-9]+: a sealed key of 80 bytes, the requested root$' \
    "the owner's node delivers on its own"
published=$(awk '$1 == "published" {print $3}' "$OUT")
fetched=$(awk '$1 == "fetched" {print $3}' "$OUT")
[ ${#published} -eq 64 ] && [ "$published" = "$fetched" ] &&
    ok "the fetched file has the published SHA-256" ||
    fail "sha256 '$published' published, '$fetched' fetched"
has '^    ok: byte-identical$' "the demo says so"
has '^    ok: subscription [0-9a-f]{64} is live, 100 credits in escrow$' \
    "the subscription prepays 50 records x 2 credits"
has '^    ok: 50 of 50 records, seq 0-49, data and timestamps as pushed$' \
    "the tail receives every record, in order"
has '^    mfg-1 +1000000000 -> 1000000350 credits \(\+350\)$' \
    "the owner gains exactly 250 + 50 x 2"
has '^    plat-2 +1000000000 -> 999999650 credits \(-350\)$' \
    "the platform pays exactly that"
has '^    [0-9]+ +[0-9:.]+ +plat-2 +exchange request +250 +applied exchange.requested$' \
    "the timeline shows the request and its escrow"
has '^    [0-9]+ +[0-9:.]+ +mfg-1 +exchange deliver +- +applied exchange.delivered$' \
    "the timeline shows the delivery by the owner's node"
has '^    [0-9]+ +[0-9:.]+ +plat-2 +exchange confirm +250 +applied exchange.settled$' \
    "the timeline shows the settlement"
has '^    [0-9]+ +[0-9:.]+ +mfg-1 +stream append: 50 records +100 +applied stream.charged$' \
    "the timeline shows the append that charged the subscription"
[ "$(grep -c 'txs, a gapless chain from its first tx to the head on the ledger$' "$OUT")" -eq 2 ] &&
    ok "both timelines follow the history chain to the ledger's head" ||
    fail "a timeline lacks its chain check"
has '^    \$ tdei --home .*/node0 --json audit dataset press-log-h[0-9]+ -o .*/bundle\.json$' \
    "the auditor's node writes the dataset's proof bundle"
has '^    \$ tdei --json verify .*/bundle\.json --genesis .*/node0/genesis\.json$' \
    "tdei verify runs with genesis.json and no node"
has '^      +[0-9]+ +[0-9T:.-]+Z +plat-2 +exchange_confirm +250 +applied$' \
    "the verified timeline holds the confirmation at its price"
has '^    ok: VERIFIED without a node: 5 events, 10 inclusion proofs, [0-9]+ headers with [0-9]+ commit signatures \(.*/bundle\.json\)$' \
    "the bundle verifies offline"
has '^demo: every step did what it should$' "the demo ends with its verdict"
alive=0
for pid in $pids; do is_node "$pid" && alive=$((alive + 1)); done
[ "$alive" -eq 3 ] && ok "the demo leaves a running localnet running" ||
    fail "$alive of 3 nodes run after the demo"
run1=$(ls -d "$DEMO"/demo/press-log-h* 2>/dev/null | head -n 1)
[ -n "$run1" ] && [ -s "$run1/01-catalog-publish.out" ] && [ -s "$run1/bundle.json" ] &&
    [ ! -e "$run1/dataset.bin" ] && [ ! -e "$run1/fetched.bin" ] &&
    ok "each command's output and the bundle stay, the payload files go" ||
    fail "the run's files are not as expected in '$run1'"

# ---- again on the same localnet: new entry ids -------------------------------
run "${TDEI[@]}" localnet demo --dir "$DEMO" --size-mib 1 --records 5
[ "$status" -eq 0 ] && ok "a second demo on the same localnet exits 0" ||
    fail "the second demo exit $status"
has '^    mfg-1 +1000000350 -> 1000000610 credits \(\+260\)$' \
    "the second run moves 250 + 5 x 2 again"
[ "$(ls -d "$DEMO"/demo/press-log-h* | wc -l)" -eq 2 ] &&
    ok "the second run took new entry ids" || fail "the runs share entry ids"

# ---- a step that cannot succeed: exit 1, the step named ----------------------
# plat-2 keeps 100 credits: its request of 250 is refused by the ledger.
have=$(balance_of plat-2)
run "$TDEI_BIN" --home "$DEMO/node2" tx transfer --to svc-0 --amount $((have - 100))
[ "$(balance_of plat-2)" = 100 ] && ok "plat-2 holds 100 credits" ||
    fail "plat-2 holds $(balance_of plat-2)"
run "${TDEI[@]}" localnet demo --dir "$DEMO" --size-mib 1 --records 5
[ "$status" -eq 1 ] && ok "the demo exits 1 when a step fails" ||
    fail "the failing demo exit $status"
has '^    FAILED: the command exited 1$' "the failed step is marked"
has 'TDEI_INSUFFICIENT_FUNDS' "its command's error is shown"
grep -qE '^tdei: error: the demo failed at step 4 \(plat-2 requests dataset press-log-h[0-9]+' "$ERR" &&
    ok "stderr names the step that failed" || fail "stderr lacks the step"
hasnt '^demo: every step' "no verdict of success"
run "$TDEI_BIN" --home "$DEMO/node0" tx transfer --to plat-2 --amount $((have - 100))
[ "$(balance_of plat-2)" = "$have" ] && ok "plat-2 has its credits back" ||
    fail "plat-2 holds $(balance_of plat-2)"

# ---- a localnet that runs in part is refused ---------------------------------
pid2=$(cat "$DEMO/node2/node.pid")
is_node "$pid2" && kill -TERM "$pid2"
for _ in $(seq 1 100); do is_node "$pid2" || break; sleep 0.1; done
runs=$(ls -d "$DEMO"/demo/press-log-h* | wc -l)
expect_fail_with 'node2 of the localnet in .* is stopped while others run; restart them' \
    "the demo refuses a localnet that runs in part" \
    "${TDEI[@]}" localnet demo --dir "$DEMO"
[ "$status" -eq 1 ] && ok "that exits 1" || fail "exit $status"
[ "$(ls -d "$DEMO"/demo/press-log-h* | wc -l)" -eq "$runs" ] &&
    ok "the refused demo ran nothing" || fail "the refused demo ran"
expect_out 'stopped 2 of 3 nodes' "down stops the rest" \
    "${TDEI[@]}" localnet down --dir "$DEMO"

# ---- a stopped localnet: the demo starts it and stops it ---------------------
run "${TDEI[@]}" localnet demo --dir "$DEMO" --size-mib 1 --records 5
[ "$status" -eq 0 ] && ok "the demo runs a stopped localnet" ||
    fail "the demo on a stopped localnet exit $status"
has '^starting the 3-node localnet in .* \(the demo stops it at the end\)$' \
    "it says it starts the localnet"
has '^stopping the localnet the demo started$' "it says it stops it"
left=0
for f in "$DEMO"/node*/node.pid; do
    [ -f "$f" ] && is_node "$(cat "$f")" && left=$((left + 1))
done
[ "$left" -eq 0 ] && ok "no node of the localnet runs after it" ||
    fail "$left nodes still run"

# ---- bench --data: structure only, never speed -------------------------------
BD=$T/bd
run "${TDEI[@]}" bench --data --payload-mib 2 --stream-rate 100 \
    --stream-seconds 2 --dir "$BD"
[ "$status" -eq 0 ] && ok "bench --data runs" || fail "bench --data exit $status"
for field in nodes payload_mb payload_chunks chunks_fetched chunks_refetched \
    payload_transfer_s payload_transfer_mb_s payload_fetch_s payload_mb_s \
    stream_rate stream_seconds stream_push_s stream_records stream_received \
    stream_latency_ms p50 p99 max ingest_busy elapsed_s; do
    grep -q "\"$field\":" "$OUT" && ok "bench --data prints $field" ||
        fail "bench --data lacks $field"
done
json_has '"payload_mb":2.0,"payload_chunks":32,' "the payload is 2 MiB in 32 chunks"
json_has '"payload_identical":true' "the fetched payload is the published one"
json_has '"stream_records":200,"stream_received":200,' \
    "every record pushed reached the subscriber"
rate=$(sed -nE 's/^ *"payload_mb_s": ([0-9.e+-]+),?$/\1/p' "$OUT")
awk -v r="${rate:-0}" 'BEGIN { exit !(r > 0) }' &&
    ok "the payload moved at a measured rate" || fail "payload_mb_s '$rate'"
[ ! -e "$BD/node0/node.pid" ] && [ ! -e "$BD/node1/node.pid" ] &&
    ok "bench --data stopped its localnet" || fail "bench --data left a pid file"
finish
