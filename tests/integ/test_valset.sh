#!/usr/bin/env bash
# Validator-set changes on real tdei-node processes on 127.0.0.1
# (DESIGN.md section 5: a change decided by block H votes from H+2).
#  1. 4 validators commit. A fifth member's node starts before it is a
#     member (its peers refuse it), governance adds it as a validator at
#     height H, and it syncs as a node that does not vote; its key is in
#     no commit up to H+1, and in the commits from H+2 on. The headers'
#     validator hashes change at H+1 (next) and H+2 (this height's).
#  2. Governance removes a validator at height H2: from H2+2 on its key is
#     in no commit, and the four left keep committing.
#  3. A node wiped to an empty data dir syncs from genesis through both
#     changes: every fetched block's commit is verified against the set of
#     its height (a block beyond tip+2 waits until that set is known), and
#     none is dropped.
#  4. A raw peer (tests/integ/sync_feed) serves a fresh node the chain
#     with one commit signed again: 3 of the 4 old validators are taken
#     for H+1 and refused for H+2 (5 validators), the removed validator's
#     precommit is refused at H2+2, and a commit without quorum within
#     tip+2 is refused as it comes.
#  5. Every node has the same block id and app hash at every height it
#     holds.
# The nodes are made by `tdei localnet up` and stopped by `localnet down`,
# then started and killed by this test, by pid. Every wait is bounded.
source "$TDEI_SRCDIR/tests/cli/lib.sh"

: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"
LN=$T/ln
source "$TDEI_SRCDIR/tests/integ/net_lib.sh"

trap 'show_logs; stop_all; [ -n "${feed_pid:-}" ] && kill -KILL "$feed_pid" 2>/dev/null; "$TDEI_BIN" localnet down --dir "$LN" >/dev/null 2>&1; rm -rf "$T"' EXIT

# ---- 4 validators ------------------------------------------------------------
run "$TDEI_BIN" localnet up --nodes 4 --dir "$LN"
if [ "$status" -ne 0 ]; then
    fail "localnet up starts 4 nodes that commit"
    cat "$ERR"
    finish
fi
ok "localnet up starts 4 nodes that commit"
expect_exit 0 "localnet down stops them" "$TDEI_BIN" localnet down --dir "$LN"

for i in 0 1 2 3; do
    fast_config $i
    start_node $i
done
h0=$(height 0)
all=1
for i in 0 1 2 3; do wait_height $i $((h0 + 3)) 30 || all=0; done
check "4 validators commit (to height $((h0 + 3)) on every node)" test "$all" -eq 1

# ---- a fifth member, added as a validator --------------------------------------
"$TDEI_BIN" --home "$LN/node4" init --member mfg-5 --role manufacturer >/dev/null
cp "$LN/node0/genesis.json" "$LN/node4/genesis.json"
peer_with 4 4
fast_config 4
start_node 4
sleep 1
check "the fifth node runs before its member exists" kill -0 "${pids[4]}"
grep -q 'not a member yet' "$LN/node4/test.log" &&
    ok "it logs that it is not a member yet" ||
    fail "node 4 does not log that it is not a member yet"
key4=$(node_key 4)
for i in 0 1 2 3; do keys[$i]=$(node_key $i); done

run "$TDEI_BIN" --home "$LN/node0" member propose add --from-home "$LN/node4" --validator
pid=$(awk '$1 == "proposal" {print $2; exit}' "$OUT")
check "node 0 proposes mfg-5 as a validator" test -n "$pid"
expect_out '^result +applied$' "node 1 approves" \
    "$TDEI_BIN" --home "$LN/node1" member vote "$pid" --approve
expect_out 'outcome=passed' "node 2's approval passes it (3 of 4)" \
    "$TDEI_BIN" --home "$LN/node2" member vote "$pid" --approve
H=$(tx_height "$(last_tx)")
check "the add committed at a height ($H)" test -n "$H"
H=${H:-1}
expect_out '"validator": true' "the ledger shows mfg-5 as a validator" \
    api 0 member show mfg-5

check "the chain reaches H+6 = $((H + 6))" wait_height 0 $((H + 6)) 40
check "the fifth node syncs to H+6" wait_height 4 $((H + 6)) 40
vh_before=$(block_field 0 $((H + 1)) validators_hash)
nvh_before=$(block_field 0 "$H" next_validators_hash)
nvh_at=$(block_field 0 $((H + 1)) next_validators_hash)
vh_after=$(block_field 0 $((H + 2)) validators_hash)
check "header H+1 announces the new set (next_validators_hash changes)" \
    test -n "$nvh_at" -a "$nvh_at" != "$nvh_before" -a "$vh_before" = "$nvh_before"
check "header H+2 carries it as validators_hash" \
    test -n "$vh_after" -a "$vh_after" = "$nvh_at" -a "$vh_after" != "$vh_before"
early=0
for ((b = H - 1; b <= H + 1; b++)); do
    [ "$b" -ge 1 ] && signers 0 $b | grep -q "$key4" && early=1
done
check "mfg-5's key is in no commit up to H+1" test "$early" -eq 0
voted=0
end=$((SECONDS + 30))
while [ "$SECONDS" -lt "$end" ] && [ "$voted" -eq 0 ]; do
    top=$(height 0)
    for ((b = H + 2; b < top; b++)); do
        signers 0 $b | grep -q "$key4" && { voted=1; first=$b; break; }
    done
    sleep 0.5
done
check "from H+2 on, mfg-5's key is among the commit signers (first at ${first:-none})" \
    test "$voted" -eq 1
expect_out '"validator": true' "node 4's status says it is a validator" api 4 status

# ---- a validator removed -------------------------------------------------------
m3=$(member_of 3)
run "$TDEI_BIN" --home "$LN/node0" member propose remove "$m3"
pid=$(awk '$1 == "proposal" {print $2; exit}' "$OUT")
check "node 0 proposes removing $m3" test -n "$pid"
expect_out '^result +applied$' "node 1 approves" \
    "$TDEI_BIN" --home "$LN/node1" member vote "$pid" --approve
expect_out '^result +applied$' "node 2 approves" \
    "$TDEI_BIN" --home "$LN/node2" member vote "$pid" --approve
expect_out 'outcome=passed' "mfg-5's approval passes it (4 of 5)" \
    "$TDEI_BIN" --home "$LN/node4" member vote "$pid" --approve
H2=$(tx_height "$(last_tx)")
check "the removal committed at a height ($H2)" test -n "$H2"
H2=${H2:-1}
check "the four validators left keep committing (to H2+8)" \
    wait_height 0 $((H2 + 8)) 40
gone=1
for ((b = H2 + 2; b <= H2 + 7; b++)); do
    s=$(signers 0 $b)
    [ -z "$s" ] && gone=0
    echo "$s" | grep -q "${keys[3]}" && gone=0
done
check "from H2+2 on, $m3's key is in no commit" test "$gone" -eq 1
check "header H2+2's validators_hash differs from H2+1's" \
    test "$(block_field 0 $((H2 + 2)) validators_hash)" != "$(block_field 0 $((H2 + 1)) validators_hash)"
kill_node 3

# ---- a node syncs from genesis through both changes ----------------------------
kill_node 1
rm -rf "$LN/node1/data"
: >"$LN/node1/test.log"
start_node 1
target=$(height 0)
check "node 1 from an empty data dir syncs to height $target" wait_height 1 "$target" 60
grep -q 'fetched block dropped' "$LN/node1/test.log" &&
    fail "node 1 dropped a fetched block (a commit did not verify)" ||
    ok "node 1 verified every fetched commit against its height's set"
for b in $((H + 1)) $((H + 2)) $((H2 + 2)); do
    [ "$(block_field 1 $b validators_hash)" = "$(block_field 0 $b validators_hash)" ] ||
        fail "node 1's header $b differs"
done
h=$(height 0)
check "and the network, node 1 among it, keeps committing" wait_height 1 $((h + 3)) 30

# ---- block sync takes a commit only from the set of its height -----------------
# A fresh node (node 1's keys and genesis, an empty data dir, no peers, an
# ephemeral p2p port) is fed the chain by sync_feed, a raw peer that
# serves node 0's blocks with one commit signed again by keys it is given.
FEED=$T/feed
FEEDER=$TDEI_BUILDDIR/tests/integ/sync_feed
chain=$(grep -oE '"chain_id": *"[a-z0-9-]+"' "$LN/node0/genesis.json" | grep -oE '"[a-z0-9-]+"$' | tr -d '"')
mkdir -p "$FEED"
cp -r "$LN/node1/keys" "$LN/node1/genesis.json" "$LN/node1/config.ini" "$FEED/"
sed -i -e 's/^peers = .*/peers = /' \
    -e '/^\[p2p\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:0/' "$FEED/config.ini"
feed_pid=""
# feed FORGE SIGNERS...: start the fresh node, let sync_feed serve it with
# the commit of height FORGE signed by the node keys of nodes SIGNERS;
# $status is sync_feed's exit, $OUT its line; the node's height is in
# $feed_height; the node is killed after.
feed() {
    local forge=$1 keys="" port="" i
    shift
    for i in "$@"; do keys="$keys${keys:+,}$LN/node$i/keys/node.key"; done
    rm -rf "$FEED/data"
    : >"$FEED/test.log"
    "$TDEI_NODE_BIN" --home "$FEED" >>"$FEED/test.log" 2>&1 &
    feed_pid=$!
    for _ in $(seq 1 100); do
        port=$(grep -m1 -oE 'msg="started" listen=[^ ]* port=[0-9]+' "$FEED/test.log" | grep -oE '[0-9]+$')
        [ -n "$port" ] && [ "$port" != 0 ] && break
        sleep 0.1
    done
    run "$FEEDER" --addr "127.0.0.1:${port:-1}" --chain "$chain" \
        --key "$LN/node0/keys/node.key" --source "$LN/node0/api.sock" \
        --forge "$forge" --sign "$keys"
    sleep 0.5
    feed_height=$("$TDEI_BIN" --node "$FEED/api.sock" --json status 2>/dev/null |
        grep -m1 -oE '^  "height": *[0-9]+' | grep -oE '[0-9]+$')
    kill -KILL "$feed_pid" 2>/dev/null
    wait "$feed_pid" 2>/dev/null
    feed_pid=""
}
# Height H+1 is still voted by the 4 genesis validators: 3 of them are a
# quorum, and the node takes that commit.
feed $((H + 1)) 0 1 2
[ "$status" -eq 4 ] && ok "a commit of H+1 by 3 of the 4 validators of H+1 is taken" ||
    fail "commit of H+1 by 3 of 4 (exit $status: $(cat "$OUT"))"
# From H+2 the set has 5 members: the same 3 are no quorum. The block is
# fetched before that set is known (the first batch runs past tip+2),
# kept, and dropped before it is committed; the peer is cut off.
feed $((H + 2)) 0 1 2
[ "$status" -eq 0 ] && ok "a commit of H+2 by 3 old validators is refused (${feed_height:-?} committed)" ||
    fail "commit of H+2 by the old set (exit $status: $(cat "$OUT"))"
check "the node committed up to H+1 = $((H + 1)) and no further" test "${feed_height:-0}" -eq $((H + 1))
grep -q 'fetched block dropped.*code=TDEI_NO_QUORUM' "$FEED/test.log" &&
    ok "it logs the dropped block: no quorum of the set of H+2" ||
    fail "the feed node does not log the dropped block"
# After the removal the set of H2+2 is {0, 1, 2, mfg-5}: a commit that
# counts the removed validator is refused.
feed $((H2 + 2)) 0 1 2 3
[ "$status" -eq 0 ] && ok "a commit of H2+2 signed by the removed validator too is refused" ||
    fail "commit of H2+2 with the removed validator (exit $status: $(cat "$OUT"))"
grep -q 'code=TDEI_NOT_VOTER' "$FEED/test.log" &&
    ok "as a vote from outside the set of H2+2" ||
    fail "the feed node does not name the outsider's vote"
# Within tip+2 the set is known when the block comes: refused at once.
feed 2 0 1
[ "$status" -eq 0 ] && ok "a commit of height 2 by 2 of 4 is refused as it comes" ||
    fail "commit of height 2 by 2 of 4 (exit $status: $(cat "$OUT"))"
check "the node committed height 1 only" test "${feed_height:-0}" -le 1

# ---- refusals at startup --------------------------------------------------------
# A member that genesis does not name needs peers to join the chain by.
LONE=$T/lone
mkdir -p "$LONE"
cp -r "$LN/node4/keys" "$LN/node4/genesis.json" "$LN/node4/config.ini" "$LONE/"
sed -i -e 's/^peers = .*/peers = /' "$LONE/config.ini"
expect_fail_with 'mfg-5 .*is not in genesis.json, so its node joins a running chain and needs p2p.peers' \
    "a node of a member outside genesis without p2p.peers is refused at start" \
    timeout 20 "$TDEI_NODE_BIN" --home "$LONE"
# A node key that is not the member's on the ledger is refused at start.
cp "$LN/node4/keys/node.key" "$FEED/keys/node.key"
rm -rf "$FEED/data"
expect_fail_with "keys/node.key .* is not the node key the ledger gives member $(member_of 1)" \
    "a node key that is not the member's on the ledger is refused at start" \
    timeout 20 "$TDEI_NODE_BIN" --home "$FEED"

# ---- one chain -----------------------------------------------------------------
top=$(height 0)
for i in 1 2 4; do
    t=$(height $i)
    [ "$t" -lt "$top" ] && top=$t
done
# ids I H: block H's id and app hash on node I, as one word.
ids() {
    api "$1" block show "$2" | grep -oE '"(block_id|app_hash)": *"[0-9a-f]{64}"' |
        tr -d ' \n'
}
same=1
for ((b = 1; b <= top; b++)); do
    ref=$(ids 0 $b)
    for i in 1 2 4; do
        if [ -z "$ref" ] || [ "$(ids $i $b)" != "$ref" ]; then
            same=0
            echo "  height $b differs on node $i"
            break 2
        fi
    done
done
check "nodes 0, 1, 2 and 4 have the same block id and app hash at heights 1..$top" \
    test "$same" -eq 1
# The removed member's node stopped where it was cut off; what it holds
# is the same chain.
start_node 3
sleep 1
t3=$(height 3)
same3=1
for ((b = 1; b <= t3; b++)); do
    [ "$(ids 3 $b)" = "$(ids 0 $b)" ] || same3=0
done
check "the removed validator's node holds the same chain up to its height $t3" \
    test "$t3" -ge "$H2" -a "$same3" -eq 1

alive=1
for i in 0 1 2 4; do
    kill -0 "${pids[$i]}" 2>/dev/null || { alive=0; echo "  node $i is gone"; }
done
check "no running node died along the way" test "$alive" -eq 1
finish
