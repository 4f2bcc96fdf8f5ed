#!/usr/bin/env bash
# Payloads between real tdei-node processes on 127.0.0.1 (issue 7, DESIGN.md
# section 9), on a 4-node localnet: svc-0 (public_service, the regulator),
# mfg-1 (the owner), plat-2 and mfg-3 (consumers).
#
#   1. mfg-1 publishes a 50 MiB file with `catalog publish --file`; plat-2
#      requests it, mfg-1 approves, mfg-1's node delivers on its own, and
#      `exchange fetch` on plat-2's node writes a byte-identical file;
#      plat-2 confirms and the balances move by exactly the price. mfg-1's
#      node runs with the test hook TDEI_TEST_FLIP_CHUNK=5: the first time
#      it serves chunk 5 it flips one bit of it, so plat-2's node must catch
#      that chunk against the content root, ask for it again, and still
#      write the right file (refetched >= 1, fetched = the chunk count).
#   2. A member without a grant (mfg-3, speaking channel 5 with its node
#      key through p2p_probe while its node is down) asking mfg-1's node
#      for plat-2's chunks is refused (TDEI_NOT_PARTY).
#   3. Revocation: mfg-3 requests the dataset, it is approved and
#      delivered, and a probe with mfg-3's node key gets chunks (an index
#      past the chunk count is a protocol fault: the connection closes);
#      the regulator revokes the grant, and the next chunk request is
#      refused (TDEI_NO_GRANT). mfg-3's node, back and catching up, stops
#      pulling it at the revocation.
#   4. mfg-3 (its node now with payload.parallel = 1, so the transfer takes
#      a while) gets a second 50 MiB dataset; mfg-1's node is killed (by
#      pid) mid-transfer and started again; the transfer completes, the
#      fetched file is identical, and the chunks fetched over the whole run
#      equal the chunk count: no verified chunk was fetched twice.
#
# The nodes are created by `tdei localnet up`, stopped by `localnet down`,
# then started and killed by this test, by pid.
source "$TDEI_SRCDIR/tests/cli/lib.sh"

: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"
: "${TDEI_BUILDDIR:?TDEI_BUILDDIR must name the build tree}"
PROBE=$TDEI_BUILDDIR/tests/integ/p2p_probe
LN=$T/ln
source "$TDEI_SRCDIR/tests/integ/net_lib.sh"
SIZE=$((50 * 1024 * 1024))
CHUNKS=800 # 50 MiB in 64 KiB chunks
PRICE=500
FLIP=5

trap 'show_logs; stop_all; "$TDEI_BIN" localnet down --dir "$LN" >/dev/null 2>&1; rm -rf "$T"' EXIT

as() { # as I ARGS...: tdei as node I's member, through node I
    local i=$1
    shift
    "$TDEI_BIN" --home "$LN/node$i" "$@"
}
as_via() { # as_via I J ARGS...: as node I's member, through node J's API
    local i=$1 j=$2
    shift 2
    "$TDEI_BIN" --home "$LN/node$i" --node "$LN/node$j/api.sock" "$@"
}
# xstatus I X: the status of exchange X as node I shows it.
xstatus() { as "$1" exchange show "$2" 2>/dev/null | awk '$1 == "status" {print $2}'; }
wait_status() { # wait_status I X STATUS SECONDS
    local end=$((SECONDS + $4))
    while [ "$SECONDS" -lt "$end" ]; do
        [ "$(xstatus "$1" "$2")" = "$3" ] && return 0
        sleep 0.2
    done
    return 1
}
# tfield I X FIELD: a number of `exchange transfer X --json` on node I.
tfield() {
    as "$1" --json exchange transfer "$2" 2>/dev/null |
        grep -m1 -oE "\"$3\": *[0-9]+" | grep -oE '[0-9]+$'
}
balance_of() { as 0 account show "$1" | awk '$1 == "balance" {print $2}'; }
probe() { # probe KEY-NODE ARGS...: p2p_probe at mfg-1's node with node KEY-NODE's key
    "$PROBE" --addr "127.0.0.1:$port1" --chain tdei-localnet \
        --key "$LN/node$1/keys/node.key" "${@:2}"
}

# ---- the network -------------------------------------------------------------------
run "$TDEI_BIN" localnet up --nodes 4 --dir "$LN"
if [ "$status" -ne 0 ]; then
    fail "localnet up starts 4 nodes that commit"
    for i in 0 1 2 3; do tail -n 20 "$LN/node$i/node.log" 2>/dev/null; done
    finish
fi
ok "localnet up starts 4 nodes that commit"
expect_exit 0 "localnet down stops them" "$TDEI_BIN" localnet down --dir "$LN"
for i in 0 1 2 3; do
    # Short consensus timeouts: the chain goes on quickly while a node is
    # down.
    sed -i -e 's/^timeout_propose_ms = .*/timeout_propose_ms = 1000/' \
        -e 's/^timeout_prevote_ms = .*/timeout_prevote_ms = 400/' \
        -e 's/^timeout_precommit_ms = .*/timeout_precommit_ms = 400/' \
        -e 's/^timeout_\(propose\|prevote\|precommit\)_delta_ms = .*/timeout_\1_delta_ms = 100/' \
        -e 's/^backoff_max_ms = .*/backoff_max_ms = 500/' \
        -e 's/^ban_ms = .*/ban_ms = 1500/' \
        "$LN/node$i/config.ini"
done
start_node 0
start_node 1 TDEI_TEST_FLIP_CHUNK=$FLIP
start_node 2
start_node 3
h0=$(height 0)
for i in 0 1 2 3; do
    check "node $i commits" wait_height $i $((h0 + 2)) 30
done
port1=$(sed -n 's/^listen = 127.0.0.1://p' "$LN/node1/config.ini")
grep -q 'msg="test hook on" TDEI_TEST_FLIP_CHUNK=5' "$LN/node1/test.log" &&
    ok "mfg-1's node warns that the test hook is on" ||
    fail "mfg-1's node does not warn about the test hook"

# ---- 1. publish, request, approve, auto-deliver, fetch, confirm -------------------
head -c "$SIZE" /dev/urandom >"$T/a.bin"
cd "$T" || exit 1
run as 1 catalog publish --id ds-a --kind dataset --title "Press line A" \
    --domain production --level 2 --class general --price-model one_time \
    --price "$PRICE" --file a.bin
if [ "$status" -eq 0 ] && grep -qE "^imported $T/a.bin: $SIZE bytes, $CHUNKS chunks, root [0-9a-f]{64}\$" "$OUT" &&
    grep -qE '^result +applied$' "$OUT"; then
    ok "publish --file a.bin (relative) imports 50 MiB and publishes it"
else
    fail "publish --file a.bin"
fi
root_a=$(grep -oE 'root [0-9a-f]{64}' "$OUT" | grep -oE '[0-9a-f]{64}')
run as 2 catalog show ds-a
has "^content root +$root_a\$" "the catalog holds the imported root"
has "^size +$SIZE( |\$)" "and its size"
plat_before=$(balance_of plat-2)
mfg_before=$(balance_of mfg-1)
step "plat-2 requests ds-a" as 2 exchange request ds-a --price "$PRICE" --purpose "line tuning"
X1=$(last_tx)
step "mfg-1 approves it" as 1 exchange approve "$X1"
t0=$(date +%s%N)
check "mfg-1's node delivers it on its own" wait_status 2 "$X1" delivered 30
run as 2 exchange show "$X1"
has "^delivered root +$root_a\$" "the delivery names the content root"
has '^sealed key +[0-9a-f]{160}$' "and a sealed key"
grep -q 'msg="delivered" exchange='"${X1:0:16}"'.* by=auto' "$LN/node1/test.log" &&
    ok "mfg-1's node logs its automatic delivery" || fail "no delivery in mfg-1's log"
run as 2 exchange fetch "$X1" -o a.out --timeout 120
t1=$(date +%s%N)
if [ "$status" -eq 0 ] && cmp -s "$T/a.bin" "$T/a.out"; then
    ok "exchange fetch writes a byte-identical file"
else
    fail "exchange fetch (exit $status)"
fi
has "^file +$T/a.out\$" "fetch made the relative path absolute"
has "^fetched +$CHUNKS chunks" "every chunk was fetched once ($CHUNKS)"
refetched=$(awk '$1 == "refetched" {print $2}' "$OUT")
check "the flipped chunk $FLIP was caught and asked again (refetched $refetched)" \
    test "${refetched:-0}" -ge 1
grep -q "msg=\"chunk refused\" exchange=${X1:0:16} index=$FLIP code=TDEI_BADPROOF" \
    "$LN/node2/test.log" && ok "plat-2's node logs the chunk that failed its proof" ||
    fail "plat-2's node does not log the bad chunk"
ms=$(((t1 - t0) / 1000000))
echo "# 50 MiB from approval to a written file in $ms ms" \
    "($((SIZE / 1024 * 1000 / (ms > 0 ? ms : 1) / 1024)) MiB/s, delivery included)"
expect_out '^state +complete$' "exchange transfer: complete on the consumer's node" \
    as 2 exchange transfer "$X1"
has "^chunks +$CHUNKS of $CHUNKS here\$" "exchange transfer: every chunk here"
has '^fetching +no$' "exchange transfer: no longer pulling"
expect_out '^state +complete$' "exchange transfer: complete on the owner's node" \
    as 1 exchange transfer "$X1"
step "plat-2 confirms" as 2 exchange confirm "$X1"
check "plat-2 paid exactly the price" test "$(balance_of plat-2)" -eq $((plat_before - PRICE))
check "mfg-1 got exactly the price" test "$(balance_of mfg-1)" -eq $((mfg_before + PRICE))
run as 2 exchange fetch "$X1" -o a2.out
[ "$status" -eq 0 ] && cmp -s "$T/a.bin" "$T/a2.out" &&
    ok "a second fetch after the confirm writes the file again" ||
    fail "second fetch (exit $status)"

# ---- 2. no grant, no chunks -------------------------------------------------------------
# The probes speak with mfg-3's node key while mfg-3's node is down (a
# node keeps one connection per key).
kill_node 3
run probe 3 chunk "$X1" 0 1
if [ "$status" -eq 5 ] && grep -q 'refused: index 0, TDEI_NOT_PARTY: member mfg-3 is not the consumer' "$OUT"; then
    ok "mfg-3 (no grant) asking for plat-2's chunks is refused"
else
    fail "mfg-3's chunk request (exit $status)"
fi

# ---- 3. revocation bites at once ----------------------------------------------------
step "mfg-3 requests ds-a (through svc-0's node)" \
    as_via 3 0 exchange request ds-a --price "$PRICE" --purpose "press study"
X2=$(last_tx)
step "mfg-1 approves it" as 1 exchange approve "$X2"
check "mfg-1's node delivers it" wait_status 0 "$X2" delivered 30
run probe 3 chunk "$X2" 0 1 "$((CHUNKS - 1))"
[ "$status" -eq 0 ] && [ "$(grep -c '^chunk: ' "$OUT")" -eq 3 ] &&
    grep -qE "^chunk: index $((CHUNKS - 1)), 65552 sealed bytes, [0-9]+ proof hashes" "$OUT" &&
    ok "mfg-3's key gets chunks of its delivered exchange, with proofs" ||
    fail "mfg-3's chunk request before the revocation (exit $status)"
run probe 3 chunk "$X2" "$CHUNKS"
[ "$status" -eq 6 ] && ok "an index past the chunk count closes the connection" ||
    fail "index past the count (exit $status)"
sleep 1.7 # the key's ban (p2p.ban_ms) ends
run probe 3 chunk "$X2" $(seq 0 16)
[ "$status" -eq 6 ] && ok "17 indexes in one request (at most 16) close the connection" ||
    fail "17 indexes (exit $status)"
sleep 1.7
step "mfg-3 confirms it (through svc-0's node): a grant only a revocation ends" \
    as_via 3 0 exchange confirm "$X2"
step "the regulator revokes the grant" as 0 exchange revoke "$X2" --reason incident
check "mfg-1's node has the revocation" wait_status 1 "$X2" revoked 20
run probe 3 chunk "$X2" 3
if [ "$status" -eq 5 ] && grep -q 'refused: index 3, TDEI_NO_GRANT: the grant was revoked' "$OUT"; then
    ok "the next chunk request after the revocation is refused"
else
    fail "chunk request after the revocation (exit $status)"
fi
# mfg-3's node, back with a slow window for part 4, does not pull X2.
sed -i -e 's/^parallel = .*/parallel = 1/' "$LN/node3/config.ini"
start_node 3
check "mfg-3's node catches up" wait_height 3 "$(height 0)" 40
# Catching up, it may start on the delivery, and stops at the revocation.
run as 3 exchange transfer "$X2"
if [ "$status" -eq 0 ] && grep -qE '^fetching +no$' "$OUT" &&
    grep -qE '^last error +.*revoked.*\(TDEI_NO_GRANT\)$' "$OUT" &&
    ! grep -qE "^chunks +$CHUNKS of" "$OUT"; then
    ok "mfg-3's node does not pull the revoked exchange ($(awk '$1 == "chunks" {print $2}' "$OUT") chunks)"
else
    fail "mfg-3's node and the revoked exchange (exit $status)"
fi
expect_fail_with 'TDEI_NO_GRANT' "fetch of a revoked exchange is refused" \
    as 3 exchange fetch "$X2" -o "$T/x2.out"

# ---- 4. the owner's node dies mid-transfer --------------------------------------------------
head -c "$SIZE" /dev/urandom >"$T/b.bin"
step "mfg-1 publishes ds-b with --file" as 1 catalog publish --id ds-b --kind dataset \
    --title "Press line B" --domain production --level 1 --class general \
    --price-model one_time --price 7 --file "$T/b.bin"
step "mfg-3 requests ds-b (level 1: approved at once)" as 3 exchange request ds-b --price 7
X3=$(last_tx)
check "mfg-1's node delivers it" wait_status 3 "$X3" delivered 30
killed=0
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
    p=$(tfield 3 "$X3" chunks_present)
    if [ "${p:-0}" -ge 80 ]; then
        kill_node 1
        killed=1
        break
    fi
    sleep 0.05
done
present=$(tfield 3 "$X3" chunks_present)
check "mfg-1's node is killed mid-transfer ($present of $CHUNKS chunks here)" \
    test "$killed" -eq 1 -a "${present:-0}" -lt "$CHUNKS"
sleep 1
start_node 1
check "mfg-1's node is back" wait_height 1 "$(height 0)" 40
end=$((SECONDS + 90))
while [ "$SECONDS" -lt "$end" ] && [ "$(tfield 3 "$X3" chunks_present)" != "$CHUNKS" ]; do
    sleep 0.5
done
check "the transfer completes after the restart" test "$(tfield 3 "$X3" chunks_present)" = "$CHUNKS"
run as 3 exchange fetch "$X3" -o "$T/b.out"
[ "$status" -eq 0 ] && cmp -s "$T/b.bin" "$T/b.out" &&
    ok "the fetched file is byte-identical" || fail "fetch of ds-b (exit $status)"
has "^fetched +$CHUNKS chunks" "chunks fetched over the run = the chunk count: none twice"
has '^refetched +0 ' "no chunk failed its proof (the restarted node has no test hook)"
grep -q "msg=\"transfer started\" exchange=${X3:0:16}" "$LN/node3/test.log" &&
    ok "mfg-3's node logs its transfer" || fail "no transfer in mfg-3's log"

alive=1
for i in 0 1 2 3; do
    kill -0 "${pids[$i]}" 2>/dev/null || {
        alive=0
        echo "  node $i is gone"
    }
done
check "no node died along the way (each started pid still runs)" test "$alive" -eq 1
finish
