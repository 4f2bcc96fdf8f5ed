#!/usr/bin/env bash
# Observer nodes and `tdei audit chain` on real tdei-node processes on
# 127.0.0.1 (DESIGN.md section 10; issue 8).
#  1. 4 validators commit (with a few txs). An auditor's node joins late,
#     with --observer, on an empty data dir: it syncs from height 1 and
#     reports the same app hash as the validators; it says it observes
#     (start log, `tdei status`).
#  2. A validator restarted with --observer stops signing: its key leaves
#     the commit signers, and the 3 others keep committing (3 of 4 is a
#     quorum). Its status says observer, not validator.
#  3. Governance removes that member: the validator set changes while
#     the chain runs.
#  4. `tdei audit chain` against the observer re-verifies the whole chain
#     from genesis.json (through the set change) and passes; --export
#     writes the blocks it read.
#  5. Tampered copies of that export are caught at the right height
#     (--blocks-from): flipped header bytes, a commit below quorum, a
#     wrong app hash under a commit signed again by a quorum, a missing
#     commit, a block of another height; a commit signed again by the
#     removed validator counts before the change and not after it.
#  6. Bad arguments are refused (exit 2 for usage, 1 when the audit
#     cannot run) and change nothing.
#  7. node.observer = true in config.ini makes an observer as the flag
#     does; a bad value and a bad flag are refused at start.
# The nodes are made by `tdei localnet up` and stopped by `localnet down`,
# then started and killed by this test, by pid. Every wait is bounded.
source "$TDEI_SRCDIR/tests/cli/lib.sh"

: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"
: "${TDEI_BUILDDIR:?TDEI_BUILDDIR must name the build tree}"
TAMPER=$TDEI_BUILDDIR/tests/integ/chain_tamper
LN=$T/ln
source "$TDEI_SRCDIR/tests/integ/net_lib.sh"
trap 'show_logs; stop_all; "$TDEI_BIN" localnet down --dir "$LN" >/dev/null 2>&1; rm -rf "$T"' EXIT

# start_with I ARGS...: start node I with tdei-node options (--observer).
start_with() {
    "$TDEI_NODE_BIN" --home "$LN/node$1" "${@:2}" >>"$LN/node$1/test.log" 2>&1 &
    pids[$1]=$!
}

# expect_fault H CHECK NAME DIR: audit chain over DIR exits 3 and names
# the fault at height H, check CHECK (a grep -E pattern), on stderr and
# in the JSON on stdout.
expect_fault() {
    run "$TDEI_BIN" --json audit chain --genesis "$GEN" --blocks-from "$4"
    if [ "$status" -eq 3 ] && grep -qE "fault at height $1: ($2):" "$ERR" &&
        grep -qE "\"height\": *$1," "$OUT" && grep -qE "\"check\": *\"($2)\"" "$OUT"; then
        ok "$3"
    else
        fail "$3 (exit $status, wanted 3 and a fault at height $1: $2)"
    fi
}

# expect_code CODE TEXT NAME CMD...: CMD exits CODE and prints TEXT (a
# grep -E pattern) on stderr.
expect_code() {
    local code=$1 text=$2 name=$3
    shift 3
    run "$@"
    if [ "$status" -eq "$code" ] && grep -qE -- "$text" "$ERR"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted $code and stderr matching '$text')"
    fi
}

# ---- the network: 4 validators and an auditor ------------------------------
run "$TDEI_BIN" localnet up --nodes 4 --dir "$LN"
if [ "$status" -ne 0 ]; then
    fail "localnet up starts 4 nodes that commit"
    cat "$ERR"
    finish
fi
ok "localnet up starts 4 nodes that commit"
expect_exit 0 "localnet down stops them" "$TDEI_BIN" localnet down --dir "$LN"

"$TDEI_BIN" --home "$LN/node4" init --member aud-4 --role auditor >/dev/null &&
    "$TDEI_BIN" --home "$LN/node0" genesis add-member --from-home "$LN/node4" >/dev/null
check "an auditor joins the localnet's genesis" test -f "$LN/node4/config.ini"
for i in 1 2 3 4; do cp "$LN/node0/genesis.json" "$LN/node$i/genesis.json"; done
for i in 0 1 2 3; do rm -rf "$LN/node$i/data"; done
GEN=$LN/node0/genesis.json
peer_with 4 4
for i in 0 1 2 3 4; do fast_config $i 1000 200; done
for i in 0 1 2 3; do start_node $i; done
all=1
for i in 0 1 2 3; do wait_height $i 4 30 || all=0; done
check "4 validators commit (to height 4 on every node)" test "$all" -eq 1
m1=$(member_of 1)
expect_out '^result +applied$' "a transfer commits" \
    "$TDEI_BIN" --home "$LN/node0" tx transfer --to "$m1" --amount 5
expect_out '^result +applied$' "a second transfer commits" \
    "$TDEI_BIN" --home "$LN/node2" tx transfer --to "$m1" --amount 3
run "$TDEI_BIN" --home "$LN/node2" tx transfer --to nobody-here --amount 3
check "a refused transfer commits too (exit 1)" test "$status" -eq 1
check "the chain reaches height 12" wait_height 0 12 40

# ---- 1. the auditor's observer joins late on an empty data dir -------------
check "the auditor's node has no ledger yet" test ! -e "$LN/node4/data/ledger"
start_with 4 --observer
target=$(height 0)
check "the auditor's observer syncs from height 1 to $target" wait_height 4 "$target" 60
grep -q 'msg="observer: this node never signs a proposal or vote".*in_validator_set=false' \
    "$LN/node4/test.log" && ok "its start log says it observes" ||
    fail "node 4's start log does not say it observes"
grep -q 'msg="started".*observer=true' "$LN/node4/test.log" &&
    ok "its started line says observer=true" || fail "no observer=true in node 4's started line"
run api 4 status
check "its status says observer true, validator false" \
    grep -qE '"observer": *true' "$OUT"
check "... and validator false" grep -qE '"validator": *false' "$OUT"
# The app hash of height X is in header X+1 of every node's chain; the
# observer's height and app hash come from one status answer.
st=$(api 4 status)
h4=$(echo "$st" | grep -m1 -oE '^  "height": *[0-9]+' | grep -oE '[0-9]+$')
app4=$(echo "$st" | grep -m1 -oE '"app_hash": *"[0-9a-f]{64}"' | grep -oE '[0-9a-f]{64}')
h4=${h4:-1}
check "node 0 reaches $((h4 + 1))" wait_height 0 $((h4 + 1)) 30
check "the observer's app hash at height $h4 is the validators' (header $((h4 + 1)))" \
    test -n "$app4" -a "$app4" = "$(block_field 0 $((h4 + 1)) app_hash)"
same=1
for ((b = 1; b <= h4; b++)); do
    [ "$(block_field 4 $b block_id)" = "$(block_field 1 $b block_id)" ] || same=0
done
check "the observer holds the validators' blocks 1..$h4" test "$same" -eq 1

# ---- 2. a validator restarted with --observer stops signing ----------------
key3=$(node_key 3)
kill_node 3
h_kill=$(height 0)
start_with 3 --observer
check "the 3 other validators keep committing (to $((h_kill + 6)))" \
    wait_height 0 $((h_kill + 6)) 60
check "the observing validator follows the chain" wait_height 3 $((h_kill + 6)) 30
grep -q 'observer: this node never signs.*in_validator_set=true' "$LN/node3/test.log" &&
    ok "its start log says it observes though its key is in the set" ||
    fail "node 3's log does not say it observes with a key in the set"
run api 3 status
check "its status says observer true, validator false" \
    grep -qE '"observer": *true' "$OUT"
check "... and validator false" grep -qE '"validator": *false' "$OUT"
signed=0
for ((b = h_kill + 2; b <= h_kill + 6; b++)); do
    s=$(signers 0 $b)
    [ -z "$s" ] && signed=1
    echo "$s" | grep -q "$key3" && signed=1
done
check "its key is in no commit from $((h_kill + 2)) to $((h_kill + 6))" test "$signed" -eq 0
early=0
for ((b = 2; b < h_kill; b++)); do signers 0 $b | grep -q "$key3" && early=1; done
check "(it was among the signers before)" test "$early" -eq 1

# ---- 3. governance removes that member: the set changes --------------------
m3=$(member_of 3)
run "$TDEI_BIN" --home "$LN/node0" member propose remove "$m3"
pid=$(awk '$1 == "proposal" {print $2; exit}' "$OUT")
check "node 0 proposes removing $m3" test -n "$pid"
expect_out '^result +applied$' "node 1 approves" \
    "$TDEI_BIN" --home "$LN/node1" member vote "$pid" --approve
expect_out 'outcome=passed' "node 2's approval passes it (3 of 4)" \
    "$TDEI_BIN" --home "$LN/node2" member vote "$pid" --approve
H2=$(tx_height "$(last_tx)")
check "the removal committed at a height ($H2)" test -n "$H2"
H2=${H2:-1}
check "the three left keep committing (to H2+5)" wait_height 0 $((H2 + 5)) 40
check "the auditor's observer follows (to H2+5)" wait_height 4 $((H2 + 5)) 30
check "header H2+2's validators_hash differs from H2+1's" \
    test "$(block_field 0 $((H2 + 2)) validators_hash)" != "$(block_field 0 $((H2 + 1)) validators_hash)"

# ---- 4. audit chain over the whole chain -------------------------------------
EX=$T/export
top=$(height 4)
run "$TDEI_BIN" --node "$LN/node4/api.sock" audit chain --genesis "$GEN" --to "$top" --export "$EX"
if [ "$status" -eq 0 ] && grep -q 'result  *ok' "$OUT"; then
    ok "audit chain against the observer passes, heights 1..$top"
else
    fail "audit chain against the observer (exit $status)"
fi
check "it reports the set change" grep -qE 'validator sets +1 change\(s\), at heights '"$((H2 + 2))"'$' "$OUT"
check "it verified $top commits" grep -qE "^commits +$top," "$OUT"
check "it exported every block and commit" test -f "$EX/$top.block" -a -f "$EX/$top.commit" -a -f "$EX/1.block"
run "$TDEI_BIN" --node "$LN/node0/api.sock" --json audit chain --genesis "$GEN" --from 3 --to "$top"
if [ "$status" -eq 0 ] && grep -qE '"ok": *true' "$OUT" && grep -qE "\"blocks\": *$top," "$OUT" &&
    grep -qE '"validator_set_changes": *1,' "$OUT"; then
    ok "audit chain --json against a validator, --from 3, gives the same"
else
    fail "audit chain --json against node 0 (exit $status)"
fi
app_top=$(grep -oE '"app_hash": *"[0-9a-f]{64}"' "$OUT" | grep -oE '[0-9a-f]{64}')
wait_height 0 $((top + 1)) 30
check "its app hash is the chain's app hash after $top" \
    test -n "$app_top" -a "$app_top" = "$(block_field 0 $((top + 1)) app_hash)"
expect_exit 0 "audit chain over the export, offline, passes" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$EX"

# ---- 5. tampered chains -------------------------------------------------------
chain=$(grep -oE '"chain_id": *"[a-z0-9-]+"' "$GEN" | grep -oE '"[a-z0-9-]+"$' | tr -d '"')
copy() { rm -rf "$T/bad"; cp -r "$EX" "$T/bad"; }
copy
"$TAMPER" flip "$T/bad" 5 -1 && expect_fault 5 '[a-z_]+' \
    "a flipped header byte (block 5, its last) is caught at height 5" "$T/bad"
copy
"$TAMPER" flip "$T/bad" 6 -40 && expect_fault 6 '[a-z_]+' \
    "a flipped header byte (block 6, 40 from the end) is caught at height 6" "$T/bad"
copy
"$TAMPER" flip "$T/bad" 4 3 && expect_fault 4 '[a-z_]+' \
    "a flipped header byte (block 4, offset 3) is caught at height 4" "$T/bad"
copy
"$TAMPER" drop "$T/bad" 7 2 && expect_fault 7 commit \
    "a commit of 2 of 4 precommits (block 7) is caught at height 7" "$T/bad"
grep -q 'TDEI_NO_QUORUM' "$ERR" && ok "as no quorum" || fail "the fault does not say no quorum"
copy
keys="$LN/node0/keys/node.key,$LN/node1/keys/node.key,$LN/node2/keys/node.key"
"$TAMPER" app-hash "$T/bad" 9 "$chain" "$keys" && expect_fault 9 app_hash \
    "a wrong app hash under a commit signed again by 3 of 4 is caught at height 9" "$T/bad"
grep -qE '"expected": *"[0-9a-f]{64}"' "$OUT" && grep -qE '"found": *"[0-9a-f]{64}"' "$OUT" &&
    ok "with the expected and the found app hash" || fail "the app-hash fault lacks expected/found"
copy
rm "$T/bad/10.commit"
expect_fault 10 commit "a missing commit (block 10) is caught at height 10" "$T/bad"
copy
cp "$EX/12.block" "$T/bad/11.block"
expect_fault 11 height "block 12 given as block 11 is caught at height 11" "$T/bad"
# The set of each height follows the change: the removed validator's
# precommit still counts at H2+1 (4 validators, 3 make a quorum) and no
# longer at H2+2 (the 3 left).
k0=$LN/node0/keys/node.key
k1=$LN/node1/keys/node.key
k2=$LN/node2/keys/node.key
k3=$LN/node3/keys/node.key
copy
"$TAMPER" resign "$T/bad" $((H2 + 1)) "$chain" "$k0,$k1,$k3" &&
    expect_exit 0 "a commit of H2+1 signed again by 3 of its 4 validators (the removed one among them) verifies" \
        "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$T/bad"
copy
"$TAMPER" resign "$T/bad" $((H2 + 2)) "$chain" "$k0,$k1,$k3" &&
    expect_fault $((H2 + 2)) commit \
        "the same at H2+2 = $((H2 + 2)), whose set is the 3 left, is caught at H2+2" "$T/bad"
grep -q 'TDEI_NOT_VOTER' "$ERR" && ok "as a vote from outside the set of H2+2" ||
    fail "the fault does not name the outsider's vote"
copy
"$TAMPER" resign "$T/bad" $((H2 + 2)) "$chain" "$k0,$k1,$k2" &&
    expect_exit 0 "a commit of H2+2 signed again by its 3 validators verifies" \
        "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$T/bad"
copy
"$TAMPER" drop "$T/bad" $((H2 + 3)) 2 && expect_fault $((H2 + 3)) commit \
    "2 precommits of the 3 validators of H2+3 are caught at H2+3" "$T/bad"

# ---- 6. refusals ----------------------------------------------------------------
expect_code 2 '--from 0 is below 1' "--from 0 is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$EX" --from 0
expect_code 2 '--from 5 is above --to 3' "--from above --to is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$EX" --from 5 --to 3
expect_code 2 "--to 'x' is not a whole number" "--to x is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --to x
expect_code 2 'cannot be used with --blocks-from' "--export with --blocks-from is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$EX" --export "$T/ex2"
check "(and makes no directory)" test ! -e "$T/ex2"
expect_code 2 "unknown option '--fast'" "an unknown option is refused" \
    "$TDEI_BIN" audit chain --fast
expect_code 2 "unexpected|operand" "an operand is refused" \
    "$TDEI_BIN" audit chain 12
expect_code 1 'cannot open .*nowhere.json' "a missing genesis file is refused" \
    "$TDEI_BIN" audit chain --genesis "$T/nowhere.json" --blocks-from "$EX"
echo '{"chain_id": ' >"$T/broken.json"
run "$TDEI_BIN" audit chain --genesis "$T/broken.json" --blocks-from "$EX"
check "a genesis file that is not JSON is refused (exit 1)" test "$status" -eq 1
expect_code 1 'is not a directory' "--blocks-from a missing directory is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$T/none"
mkdir -p "$T/empty"
expect_code 1 'no block to audit' "--blocks-from an empty directory is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$T/empty"
expect_code 1 "--to 999999 is above the last block" "--to above the node's chain is refused" \
    "$TDEI_BIN" --node "$LN/node4/api.sock" audit chain --genesis "$GEN" --to 999999
"$TDEI_BIN" --home "$T/other" init --member other-svc --role public_service >/dev/null &&
    "$TDEI_BIN" --home "$T/other" genesis new --chain-id other-chain >/dev/null &&
    "$TDEI_BIN" --home "$T/other" genesis add-member --from-home "$T/other" --validator >/dev/null
expect_code 1 'the node runs chain .*other-chain' "the genesis of another chain is refused" \
    "$TDEI_BIN" --node "$LN/node4/api.sock" audit chain --genesis "$T/other/genesis.json"
run "$TDEI_BIN" --json audit chain --genesis "$T/other/genesis.json" --blocks-from "$EX"
[ "$status" -eq 3 ] && grep -q 'fault at height 1: chain_id' "$ERR" &&
    ok "an export audited with another chain's genesis fails at height 1 (chain_id)" ||
    fail "another chain's genesis over the export (exit $status)"
expect_code 1 'cannot connect' "no node at --node is refused" \
    "$TDEI_BIN" --node "$T/no.sock" audit chain --genesis "$GEN"
printf 'x' >"$T/file"
expect_code 1 'scratch store' "a --work-dir that is a file is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$EX" --work-dir "$T/file"
check "(the file is untouched)" test "$(cat "$T/file")" = x
expect_code 1 '--export .*/file is not a directory' "--export to a file is refused" \
    "$TDEI_BIN" --node "$LN/node4/api.sock" audit chain --genesis "$GEN" --export "$T/file"
check "(the file is untouched)" test "$(cat "$T/file")" = x
long=$(printf 'd%.0s' $(seq 1 3900))
expect_code 2 'a path of 1 to 3799 bytes' "a --work-dir path too long is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$EX" --work-dir "$T/$long"
copy
: >"$T/bad/3.block"
expect_code 1 '3.block holds 0 bytes' "an empty block file is refused" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$T/bad"
copy
printf 'not a block' >"$T/bad/3.block"
expect_fault 3 decode "a block file that does not decode is a fault at its height" "$T/bad"
mkdir -p "$T/work"
expect_exit 0 "audit chain with --work-dir passes" \
    "$TDEI_BIN" audit chain --genesis "$GEN" --blocks-from "$EX" --work-dir "$T/work"
check "and removes its scratch store" test -z "$(ls -A "$T/work")"

# ---- observer mode from config.ini; bad node options --------------------------
kill_node 4
sed -i -e '/^\[node\]/,/^\[/ s/^observer = .*/observer = true/' "$LN/node4/config.ini"
check "config.ini holds node.observer = true" grep -q '^observer = true$' "$LN/node4/config.ini"
: >"$LN/node4/test.log"
start_node 4
h=$(height 0)
check "the auditor's node, observer by config.ini, follows the chain again" \
    wait_height 4 $((h + 2)) 30
run api 4 status
check "its status says observer true" grep -qE '"observer": *true' "$OUT"
grep -q 'msg="started".*observer=true' "$LN/node4/test.log" &&
    ok "its started line says observer=true" || fail "no observer=true with node.observer = true"
mkdir -p "$T/badcfg"
cp -r "$LN/node4/keys" "$LN/node4/genesis.json" "$LN/node4/config.ini" "$T/badcfg/"
sed -i -e 's/^observer = .*/observer = yes/' "$T/badcfg/config.ini"
expect_code 1 'node.observer=yes is not one of true, false' \
    "node.observer = yes is refused at start" timeout 20 "$TDEI_NODE_BIN" --home "$T/badcfg"
check "(no ledger was made)" test ! -e "$T/badcfg/data/ledger"
expect_code 2 'run `tdei-node --help`' "tdei-node --observer=1 is refused" \
    "$TDEI_NODE_BIN" --home "$T/badcfg" --observer=1
run "$TDEI_NODE_BIN" --help
check "tdei-node --help names --observer" grep -q -- '--observer' "$OUT"

alive=1
for i in 0 1 2 3 4; do
    kill -0 "${pids[$i]}" 2>/dev/null || { alive=0; echo "  node $i is gone"; }
done
check "no node died along the way" test "$alive" -eq 1
finish
