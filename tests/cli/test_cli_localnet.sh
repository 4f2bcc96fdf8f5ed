#!/usr/bin/env bash
# `tdei localnet` and `tdei bench` with one node (--nodes 1), the
# refusals of `localnet demo` and `bench --data`, through the real
# binaries. The nodes bind only 127.0.0.1 and sockets under $T;
# every command is bounded by `timeout`; on exit (even a failed one) the
# trap stops exactly the pids this test's localnets recorded, and only
# when /proc/PID/exe is a tdei-node.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"
source "$TDEI_SRCDIR/tests/cli/localnet_lib.sh"

LN=$T/ln
BENCH=$T/bench
TDEI=(timeout 120 "$TDEI_BIN")

trap 'stop_recorded; rm -rf "$T"' EXIT

# ---- refusals: exit 2, nothing created -----------------------------------
expect_usage '--nodes 0 is outside 1-16' "up refuses --nodes 0" \
    "${TDEI[@]}" localnet up --nodes 0 --dir "$LN"
expect_usage '--nodes 17 is outside 1-16' "up refuses --nodes 17" \
    "${TDEI[@]}" localnet up --nodes 17 --dir "$LN"
echo keep >"$T/file"
expect_usage 'is not a directory' "up refuses a --dir that is a file" \
    "${TDEI[@]}" localnet up --nodes 1 --dir "$T/file"
[ "$(cat "$T/file")" = keep ] && ok "the file is unchanged" ||
    fail "the file was changed"
long=$T/$(printf 'd%.0s' $(seq 1 100))
expect_usage 'fit the nodes. API socket paths' "up refuses a --dir too long" \
    "${TDEI[@]}" localnet up --nodes 1 --dir "$long"
mkdir "$T/other" && echo x >"$T/other/x"
expect_usage 'not empty and holds no localnet' "up refuses a non-empty --dir" \
    "${TDEI[@]}" localnet up --nodes 1 --dir "$T/other"
expect_usage "unknown option '--bogus'" "up refuses an unknown option" \
    "${TDEI[@]}" localnet up --bogus --dir "$LN"
expect_usage 'leaves no room for 2 nodes' "up refuses ports past 65535" \
    "${TDEI[@]}" localnet up --nodes 2 --base-port 65535 --dir "$LN"
expect_usage 'holds no localnet' "status refuses a dir without a localnet" \
    "${TDEI[@]}" localnet status --dir "$LN"
expect_usage 'holds no localnet' "down refuses a dir without a localnet" \
    "${TDEI[@]}" localnet down --dir "$LN"
[ ! -e "$LN" ] && ok "no refusal created the directory" ||
    fail "a refusal created $LN"
expect_usage 'not both' "bench refuses --rate with --max" \
    "${TDEI[@]}" bench --nodes 1 --rate 5 --max --dir "$BENCH"
expect_usage '--nodes 0 is outside 1-16' "bench refuses --nodes 0" \
    "${TDEI[@]}" bench --nodes 0 --dir "$BENCH"
[ ! -e "$BENCH" ] && ok "no bench refusal created its directory" ||
    fail "a bench refusal created $BENCH"
expect_help localnet up
expect_help bench

# ---- demo and bench --data: refusals, exit 2, nothing created ---------------
expect_usage '--size-mib 0 is outside 1-1024' "demo refuses --size-mib 0" \
    "${TDEI[@]}" localnet demo --size-mib 0 --dir "$LN"
expect_usage '--records 0 is outside 1-10000' "demo refuses --records 0" \
    "${TDEI[@]}" localnet demo --records 0 --dir "$LN"
expect_usage '--records 10001 is outside 1-10000' \
    "demo refuses more records than one read holds" \
    "${TDEI[@]}" localnet demo --records 10001 --dir "$LN"
expect_usage '--step-timeout 1 is outside 5-3600' \
    "demo refuses --step-timeout 1" \
    "${TDEI[@]}" localnet demo --step-timeout 1 --dir "$LN"
expect_usage '--nodes 2 is outside 3-16' "demo refuses to create 2 nodes" \
    "${TDEI[@]}" localnet demo --nodes 2 --dir "$LN"
expect_usage "unknown option '--bogus'" "demo refuses an unknown option" \
    "${TDEI[@]}" localnet demo --bogus --dir "$LN"
expect_usage 'is not a directory' "demo refuses a --dir that is a file" \
    "${TDEI[@]}" localnet demo --dir "$T/file"
expect_usage 'not empty and holds no localnet' \
    "demo refuses a non-empty --dir without a localnet" \
    "${TDEI[@]}" localnet demo --dir "$T/other"
expect_usage 'fit the nodes. API socket paths' "demo refuses a --dir too long" \
    "${TDEI[@]}" localnet demo --dir "$long"
expect_usage 'fit the nodes. API socket paths' \
    "bench --data refuses a --dir too long" \
    "${TDEI[@]}" bench --data --dir "$long"
[ ! -e "$LN" ] && ok "no demo refusal created the directory" ||
    fail "a demo refusal created $LN"
expect_usage 'measure the ledger.s txs; --data measures the data plane' \
    "bench --data refuses --rate" \
    "${TDEI[@]}" bench --data --rate 5 --dir "$BENCH"
expect_usage 'give one kind' "bench --data refuses --duration" \
    "${TDEI[@]}" bench --data --duration 3 --dir "$BENCH"
expect_usage 'give one kind' "bench --data refuses --max" \
    "${TDEI[@]}" bench --data --max --dir "$BENCH"
expect_usage '--data needs 2 nodes or more' "bench --data refuses --nodes 1" \
    "${TDEI[@]}" bench --data --nodes 1 --dir "$BENCH"
expect_usage '--payload-mib 0 is outside 1-4096' \
    "bench --data refuses --payload-mib 0" \
    "${TDEI[@]}" bench --data --payload-mib 0 --dir "$BENCH"
expect_usage '--stream-rate 0 is outside 1-100000' \
    "bench --data refuses --stream-rate 0" \
    "${TDEI[@]}" bench --data --stream-rate 0 --dir "$BENCH"
expect_usage 'is over 1000000 records' \
    "bench --data refuses more than 1000000 records" \
    "${TDEI[@]}" bench --data --stream-rate 100000 --stream-seconds 11 \
    --dir "$BENCH"
expect_usage 'need --data' "bench refuses --payload-mib without --data" \
    "${TDEI[@]}" bench --payload-mib 5 --dir "$BENCH"
expect_usage 'need --data' "bench refuses --stream-rate without --data" \
    "${TDEI[@]}" bench --stream-rate 5 --dir "$BENCH"
expect_usage 'is not a directory' "bench --data refuses a --dir that is a file" \
    "${TDEI[@]}" bench --data --dir "$T/file"
[ ! -e "$BENCH" ] && ok "no bench --data refusal created its directory" ||
    fail "a bench --data refusal created $BENCH"
expect_help localnet demo

# ---- up, status, logs, down, restart --------------------------------------
# up waits for height 1: the node makes empty blocks (once a second).
expect_out 'svc-0 +[0-9]+ +running +[1-9]' "up --nodes 1 starts one node that commits" \
    "${TDEI[@]}" localnet up --nodes 1 --dir "$LN" --wait-timeout 30
pid=$(cat "$LN/node0/node.pid" 2>/dev/null)
is_node "$pid" && ok "node.pid names a running tdei-node" ||
    fail "node.pid '$pid' is not a running tdei-node"
grep -qE '^listen = 127\.0\.0\.1:[0-9]+$' "$LN/node0/config.ini" &&
    ok "config.ini has a loopback p2p address" || fail "no p2p listen"
cmp -s "$LN/node0/genesis.json" /dev/null && fail "empty genesis" ||
    ok "the home has its genesis"
# A self-transfer is refused by the ledger but committed.
run "${TDEI[@]}" --home "$LN/node0" tx transfer --to svc-0 --amount 1
grep -qE '^height +[1-9][0-9]*$' "$OUT" && ok "a tx is committed" ||
    fail "no tx committed"
expect_out '"running": true' "status --json shows the node running" \
    "${TDEI[@]}" localnet status --dir "$LN" --json
json_has "\"pid\":$pid" "status shows the recorded pid"
grep -qE '^ +"height": [1-9]' "$OUT" && ok "status shows the height" ||
    fail "status shows no height over 0"
json_has '"member":"svc-0"' "status shows the member"
expect_out '^data plane +chunks served 0 \(0 bytes\), refused 0; fetched 0 ' \
    "tdei status shows the payload counters" \
    "${TDEI[@]}" --home "$LN/node0" status
has '^streams +records ingested 0, appended 0, refused 0; ' \
    "tdei status shows the stream counters"
run "${TDEI[@]}" --home "$LN/node0" --json status
json_has '"data_plane":{"chunks_served":0,"chunks_refused":0,"chunks_fetched":0,' \
    "status --json has the data-plane counters"
json_has '"records_received":0,"batches_bad":0}' \
    "status --json has the last of them"
expect_usage 'the demo needs 3 nodes or more.*holds a 1-node localnet' \
    "demo refuses a 1-node localnet" \
    "${TDEI[@]}" localnet demo --dir "$LN"
expect_usage 'holds a 1-node localnet; give --nodes 1' \
    "demo refuses --nodes that differ from the localnet" \
    "${TDEI[@]}" localnet demo --nodes 4 --dir "$LN"
[ ! -e "$LN/demo" ] && [ "$(cat "$LN/node0/node.pid")" = "$pid" ] &&
    is_node "$pid" && ok "the refused demos wrote nothing and left the node" ||
    fail "a refused demo changed the localnet"
expect_out "node0 +svc-0 +$pid +running +[1-9][0-9]* " "status prints a table" \
    "${TDEI[@]}" localnet status --dir "$LN"
expect_fail_with 'already runs a localnet.*TDEI_EXISTS' \
    "up refuses a running localnet" \
    "${TDEI[@]}" localnet up --nodes 1 --dir "$LN"
[ "$(cat "$LN/node0/node.pid")" = "$pid" ] && is_node "$pid" &&
    ok "the refused up left the node alone" || fail "the refused up changed it"
expect_out 'started' "logs prints the node's log" \
    "${TDEI[@]}" localnet logs --dir "$LN" --lines 50
expect_usage '--node 1 is outside 0-0' "logs refuses a node it lacks" \
    "${TDEI[@]}" localnet logs --dir "$LN" --node 1
run "${TDEI[@]}" --node "$LN/node0/api.sock" --json status
before=$(grep -m1 -oE '^  "height": *[0-9]+' "$OUT" | grep -oE '[0-9]+$')
expect_out 'stopped 1 of 1 nodes' "down stops the node" \
    "${TDEI[@]}" localnet down --dir "$LN"
is_node "$pid" && fail "pid $pid still runs" || ok "the recorded pid exited"
[ ! -e "$LN/node0/node.pid" ] && ok "down removes the pid file" ||
    fail "the pid file stayed"
expect_out 'node0 +svc-0 +- +stopped' "status shows it stopped" \
    "${TDEI[@]}" localnet status --dir "$LN"
expect_usage 'holds a 1-node localnet' "up refuses another --nodes on it" \
    "${TDEI[@]}" localnet up --nodes 4 --dir "$LN"
expect_out 'restarting the 1-node localnet' "up restarts a stopped localnet" \
    "${TDEI[@]}" localnet up --dir "$LN" --wait-timeout 30
after=$(awk '$1 == "node0" {print $5}' "$OUT")
[ -n "$before" ] && [ -n "$after" ] && [ "$after" -ge "$before" ] &&
    ok "the restarted node kept its chain (height $before -> $after)" ||
    fail "the restarted node lost its chain (height ${before:-?} -> ${after:-?})"
expect_out 'stopped 1 of 1 nodes' "down stops it again" \
    "${TDEI[@]}" localnet down --dir "$LN"

# ---- bench: structure only, never speed ------------------------------------
run "${TDEI[@]}" bench --nodes 1 --duration 2 --rate 50 --dir "$BENCH"
[ "$status" -eq 0 ] && ok "bench --nodes 1 runs" || fail "bench exit $status"
for field in nodes duration_s offered_tps committed_tps latency_ms p50 p95 \
    p99 rss_mib verify_per_sec_per_core cores bound_tps ratio refused failed; do
    grep -q "\"$field\":" "$OUT" && ok "bench prints $field" ||
        fail "bench lacks $field"
done
committed=$(sed -nE 's/^ *"committed_tps": ([0-9.e+-]+),?$/\1/p' "$OUT")
awk -v c="${committed:-0}" 'BEGIN { exit !(c > 0) }' &&
    ok "bench committed txs" || fail "bench committed none ('$committed')"
[ ! -e "$BENCH/node0/node.pid" ] && ok "bench stopped its localnet" ||
    fail "bench left a pid file"
finish
