#!/usr/bin/env bash
# A 4-validator network of real tdei-node processes on 127.0.0.1, with an
# auditor's observer node: commits with 4, 3 and (after a return) 3
# validators, stops without quorum, catches up by block sync after a
# restart and from an empty data dir, refuses a non-member key at the
# handshake, survives garbage, oversized, truncated, replayed and tampered
# frames and messages that break the protocol (a data message that does not
# decode among them), answers a chunk request it cannot serve with a
# refusal rather than a ban, and disconnects and refuses a member that
# governance removes.
# At the end every validator has the same block id and app hash at every
# height.
#
# The nodes are created by `tdei localnet up`, stopped by `localnet down`,
# given short timeouts, and then started and killed by this test, by pid.
source "$TDEI_SRCDIR/tests/cli/lib.sh"

: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"
: "${TDEI_BUILDDIR:?TDEI_BUILDDIR must name the build tree}"
PROBE=$TDEI_BUILDDIR/tests/integ/p2p_probe
LN=$T/ln
source "$TDEI_SRCDIR/tests/integ/net_lib.sh"
N=4

trap 'show_logs; stop_all; "$TDEI_BIN" localnet down --dir "$LN" >/dev/null 2>&1; rm -rf "$T"' EXIT





# block_field I H FIELD: a field of block H as node I shows it.
block_field() {
    "$TDEI_BIN" --node "$LN/node$1/api.sock" --json block show "$2" 2>/dev/null |
        grep -oE "\"$3\": *\"[0-9a-f-]+\"" | grep -oE '"[0-9a-f-]+"$' | tr -d '"'
}

# ---- the network -----------------------------------------------------------
run "$TDEI_BIN" localnet up --nodes $N --dir "$LN"
if [ "$status" -ne 0 ]; then
    fail "localnet up starts 4 nodes that commit"
    for i in 0 1 2 3; do tail -n 20 "$LN/node$i/node.log" 2>/dev/null; done
    finish
fi
ok "localnet up starts 4 nodes that commit"
expect_exit 0 "localnet down stops them" "$TDEI_BIN" localnet down --dir "$LN"

# A fifth member, an auditor whose node observes (it votes in nothing),
# joins the genesis; the chain starts again from it.
"$TDEI_BIN" --home "$LN/node4" init --member aud-4 --role auditor >/dev/null &&
    "$TDEI_BIN" --home "$LN/node0" genesis add-member --from-home "$LN/node4" >/dev/null
check "an auditor joins the localnet's genesis" test -f "$LN/node4/config.ini"
for i in 1 2 3 4; do cp "$LN/node0/genesis.json" "$LN/node$i/genesis.json"; done
for i in 0 1 2 3; do rm -rf "$LN/node$i/data"; done
sed -i -e "s/^peers = .*/peers = $(sed -n 's/^peers = //p' "$LN/node0/config.ini"),$(
    sed -n '/^\[p2p\]/,$ s/^listen = //p' "$LN/node0/config.ini")/" "$LN/node4/config.ini"
for i in 0 1 2 3 4; do
    fast_config $i
    start_node $i
done
all_reach() { # all_reach H: every node reaches height H
    local i
    for i in 0 1 2 3; do wait_height $i "$1" 30 || return 1; done
}
h0=$(height 0)
check "4 nodes commit (height $h0 -> $((h0 + 5)) on every node)" all_reach $((h0 + 5))
check "the auditor's node follows the chain" wait_height 4 $((h0 + 5)) 30

# A transfer submitted to node 0 is applied on node 3.
expect_out '^result +applied$' "a transfer submitted to node 0 commits" \
    "$TDEI_BIN" --home "$LN/node0" tx transfer --to "$(sed -n 's/^member = //p' "$LN/node3/config.ini")" \
    --amount 7
tx=$(last_tx)
expect_out '^result +applied$' "node 3 has the transfer" \
    "$TDEI_BIN" --node "$LN/node3/api.sock" tx show "$tx"

# ---- faults ------------------------------------------------------------------
kill_node 3
h=$(height 0)
check "node 3 killed: the other three keep committing" wait_height 0 $((h + 5)) 30

kill_node 2
sleep 3
h=$(height 0)
sleep 4
h2=$(height 0)
check "node 2 killed too: commits stop (no quorum: $h -> $h2)" test "$h2" -le $((h + 1))

# Nothing commits now, so a tx stays in node 0's mempool: a second one of
# the same operator key passes over the nonce it holds (TDEI_NONCE_TAKEN).
to3=$(sed -n 's/^member = //p' "$LN/node3/config.ini")
n1=$("$TDEI_BIN" --home "$LN/node0" --json tx transfer --to "$to3" --amount 1 \
    --no-wait 2>/dev/null | sed -n 's/.*"nonce": *\([0-9]*\).*/\1/p')
n2=$("$TDEI_BIN" --home "$LN/node0" --json tx transfer --to "$to3" --amount 2 \
    --no-wait 2>/dev/null | sed -n 's/.*"nonce": *\([0-9]*\).*/\1/p')
check "a pending tx's nonce is passed over by the next submit ($n1, $n2)" \
    test -n "$n1" -a "$n2" = "$((n1 + 1))"

start_node 2
check "node 2 back: commits resume" wait_height 0 $((h2 + 3)) 40
check "node 2 caught up" wait_height 2 "$(height 0)" 30

start_node 3
target=$(height 0)
check "node 3 restarted: catches up by block sync" wait_height 3 "$target" 40
key3=$(node_key 3)
voted=0
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ] && [ "$voted" -eq 0 ]; do
    top=$(height 0)
    for ((b = target + 1; b < top; b++)); do
        if "$TDEI_BIN" --node "$LN/node0/api.sock" --json block show "$b" 2>/dev/null |
            grep -q "$key3"; then
            voted=1
            break
        fi
    done
    sleep 0.5
done
check "node 3 votes again (its precommit is in a commit after catching up)" test "$voted" -eq 1

# Node 1 from an empty data dir.
kill_node 1
rm -rf "$LN/node1/data"
start_node 1
check "node 1 from an empty data dir catches up from height 1" \
    wait_height 1 "$(height 0)" 60

# ---- refusals at the port ------------------------------------------------------
port0=$(sed -n 's/^listen = 127.0.0.1://p' "$LN/node0/config.ini")
chain=$(grep -oE '"chain_id": *"[a-z0-9-]+"' "$LN/node0/genesis.json" | grep -oE '"[a-z0-9-]+"$' | tr -d '"')
"$TDEI_BIN" --home "$T/outsider" init --member outsider-co --role manufacturer >/dev/null
expect_exit 3 "a non-member key is refused at the handshake" \
    "$PROBE" --addr "127.0.0.1:$port0" --chain "$chain" --key "$T/outsider/keys/node.key" handshake
for mode in garbage oversize truncated; do
    expect_exit 0 "$mode bytes close that connection" \
        "$PROBE" --addr "127.0.0.1:$port0" --chain "$chain" --key "$T/outsider/keys/node.key" $mode
done
# Replayed and tampered sealed frames, by a member key whose node is down.
kill_node 3
# Each refusal after the handshake bans the key for ban_ms (1.5 s here):
# the next probe waits for the end of the ban.
as3=("$PROBE" --addr "127.0.0.1:$port0" --chain "$chain" --key "$LN/node3/keys/node.key")
expect_exit 0 "a replayed frame closes that connection" "${as3[@]}" replay
expect_exit 3 "the key is banned after it" "${as3[@]}" handshake
sleep 1.7
expect_exit 0 "a tampered frame closes that connection" "${as3[@]}" tamper
# Messages that decode as frames but break the protocol (proto/p2p.proto).
for m in "2 - an empty consensus message" \
    "2 1203616263 a vote that does not decode" \
    "3 0a020801 a sync request for 0 blocks" \
    "3 0a0408011011 a sync request for 17 blocks" \
    "5 0a05 a data message that does not decode"; do
    read -r ch hex what <<<"$m"
    [ "$hex" = - ] && hex=""
    sleep 1.7
    expect_exit 0 "$what closes the connection and bans the key" \
        "${as3[@]}" send "$ch" "$hex"
done
# A well-formed chunk request the node cannot serve is an answer, not a
# fault: a ChunkRefused, and the key may connect again at once.
sleep 1.7
run "${as3[@]}" chunk "$(printf 'ab%.0s' $(seq 1 32))" 0
[ "$status" -eq 5 ] && grep -q '^refused: index 0, TDEI_NOTFOUND: ' "$OUT" &&
    ok "a chunk request for an unknown exchange gets a refusal" ||
    fail "chunk request for an unknown exchange (exit $status)"
expect_exit 0 "and no ban: the key's next handshake goes through" \
    "${as3[@]}" handshake
expect_exit 4 "a Status message is taken (the connection stays)" \
    "${as3[@]}" send 4 0801
expect_exit 4 "a tx that the mempool refuses is dropped, not held against the peer" \
    "${as3[@]}" send 1 0a03616263
h=$(height 0)
check "node 0 keeps committing with its peers after the attacks" wait_height 0 $((h + 3)) 30
peers=$("$TDEI_BIN" --node "$LN/node0/api.sock" --json status |
    grep -m1 -oE '^  "peers": *[0-9]+' | grep -oE '[0-9]+$')
check "node 0 still has its 3 running peers ($peers)" test "$peers" -eq 3
sleep 2 # any ban of node 3's key ends
start_node 3
check "node 3 is accepted again after its ban and catches up" wait_height 3 "$(height 0)" 40

# ---- governance removes a member: its node is disconnected and refused ----
peers_of() {
    "$TDEI_BIN" --node "$LN/node$1/api.sock" --json status 2>/dev/null |
        grep -m1 -oE '^  "peers": *[0-9]+' | grep -oE '[0-9]+$'
}
wait_peers() { # wait_peers I N SECONDS: node I has N peers
    local end=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$end" ]; do
        [ "$(peers_of "$1")" = "$2" ] && return 0
        sleep 0.2
    done
    return 1
}
check "node 0 has 4 peers, the auditor's node among them" wait_peers 0 4 20
run "$TDEI_BIN" --home "$LN/node0" member propose remove aud-4
pid=$(awk '$1 == "proposal" {print $2; exit}' "$OUT")
expect_out '^result +applied$' "node 1 approves removing aud-4" \
    "$TDEI_BIN" --home "$LN/node1" member vote "$pid" --approve
expect_out 'outcome=passed' "node 2's approval passes it" \
    "$TDEI_BIN" --home "$LN/node2" member vote "$pid" --approve
check "the removed member's node is disconnected (node 0 has 3 peers)" wait_peers 0 3 20
sleep 2
check "and it stays refused (its node has no peer)" test "$(peers_of 4)" = 0
grep -q 'TDEI_NOT_MEMBER' "$LN/node0/test.log" &&
    ok "node 0 logs the refusal of a removed member's key" ||
    fail "node 0 does not log refusing the removed member"
h=$(height 0)
check "the four validators keep committing" wait_height 0 $((h + 3)) 30

alive=1
for i in 0 1 2 3 4; do
    kill -0 "${pids[$i]}" 2>/dev/null || { alive=0; echo "  node $i is gone"; }
done
check "no node died along the way (each started pid still runs)" test "$alive" -eq 1

# ---- one chain -------------------------------------------------------------------
top=$(height 0)
for i in 1 2 3; do
    t=$(height $i)
    [ "$t" -lt "$top" ] && top=$t
done
same=1
for ((b = 1; b <= top; b++)); do
    id0=$(block_field 0 $b block_id)
    app0=$(block_field 0 $b app_hash)
    for i in 1 2 3; do
        if [ "$(block_field $i $b block_id)" != "$id0" ] ||
            [ "$(block_field $i $b app_hash)" != "$app0" ] || [ -z "$id0" ]; then
            same=0
            echo "  height $b differs on node $i"
            break 2
        fi
    done
done
check "every node has the same block id and app hash at heights 1..$top" test "$same" -eq 1

finish
