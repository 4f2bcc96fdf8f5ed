#!/usr/bin/env bash
# Proof bundles on real tdei-node processes on 127.0.0.1 (issue 8,
# doc/bundle.md), with a validator-set change in the middle:
#  1. 4 validators; mfg-1 publishes a level-2 dataset, plat-2 requests it
#     and mfg-1 approves. Governance then adds a fifth validator (its
#     node runs and syncs): a change decided at H votes from H+2. After
#     it, mfg-1 delivers and plat-2 confirms.
#  2. `tdei audit dataset` writes the bundle; `tdei verify` checks it with
#     genesis.json alone: the timeline holds publish, request, approve,
#     deliver and confirm, on both sides of the change, and the change
#     (5 validators from H+2) was followed.
#  3. Tampering fails, naming what failed: single bytes flipped at over
#     1,000 positions across every section (checked in-process by
#     tests/integ/bundle_tamper with the code of `tdei verify`), and at
#     every position of a small synthetic bundle; one flip per section
#     through `tdei verify` itself, an event removed (the
#     first, one in the middle, the last), two events swapped, and a
#     commit cut below the quorum of its height's set, before and after
#     the change.
#  4. The exchange's own bundle verifies too.
# The nodes are made by `tdei localnet up`, stopped by `localnet down`,
# then started and killed by this test, by pid. Every wait is bounded.
source "$TDEI_SRCDIR/tests/cli/lib.sh"

: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"
: "${TDEI_BUILDDIR:?TDEI_BUILDDIR must name the build tree}"
TAMPER=$TDEI_BUILDDIR/tests/integ/bundle_tamper
LN=$T/ln
source "$TDEI_SRCDIR/tests/integ/net_lib.sh"

trap 'show_logs; stop_all; "$TDEI_BIN" localnet down --dir "$LN" >/dev/null 2>&1; rm -rf "$T"' EXIT

as() { # as I ARGS...: the tdei CLI as node I's member
    "$TDEI_BIN" --home "$LN/node$1" "${@:2}"
}

# expect_invalid TEXT NAME FILE: `tdei verify FILE` exits 3 and names TEXT
# (a grep -E pattern) on stderr.
expect_invalid() {
    run "$TDEI_BIN" verify "$3" --genesis "$GEN"
    if [ "$status" -eq 3 ] && grep -qE -- "$1" "$ERR" && grep -q '^FAILED: ' "$OUT"; then
        ok "$2"
    else
        fail "$2 (exit $status, wanted 3 and stderr matching '$1')"
    fi
}

ROOT=$(printf 'cd%.0s' $(seq 1 32))
KEY=$(printf '11%.0s' $(seq 1 32))

# ---- 4 validators, a dataset and its request -------------------------------------
run "$TDEI_BIN" localnet up --nodes 4 --dir "$LN"
if [ "$status" -ne 0 ]; then
    fail "localnet up starts 4 nodes that commit"
    cat "$ERR"
    finish
fi
ok "localnet up starts 4 nodes that commit"
expect_exit 0 "localnet down stops them" "$TDEI_BIN" localnet down --dir "$LN"
GEN=$LN/node0/genesis.json
for i in 0 1 2 3; do
    fast_config $i
    start_node $i
done
all=1
for i in 0 1 2 3; do wait_height $i 2 30 || all=0; done
check "4 validators commit" test "$all" -eq 1

step "mfg-1 publishes line-data (level 2)" as 1 catalog publish --id line-data \
    --kind dataset --title "Line 3 vibration" --domain production --level 2 \
    --class important --price-model one_time --price 250 --content-root "$ROOT"
H_PUB=$(last_height)
expect_exit 0 "mfg-1's node will not deliver by itself" \
    as 1 catalog delivery line-data manual
step "plat-2 requests it" as 2 exchange request line-data --price 250 \
    --purpose "predictive maintenance"
X=$(last_tx)
step "mfg-1 approves" as 1 exchange approve "$X"
H_APPROVE=$(last_height)

# ---- a fifth validator ------------------------------------------------------------
"$TDEI_BIN" --home "$LN/node4" init --member mfg-5 --role manufacturer >/dev/null
cp "$GEN" "$LN/node4/genesis.json"
peer_with 4 4
fast_config 4
start_node 4
run as 0 member propose add --from-home "$LN/node4" --validator
pid=$(awk '$1 == "proposal" {print $2; exit}' "$OUT")
check "svc-0 proposes mfg-5 as a validator" test -n "$pid"
step "mfg-1 approves the proposal" as 1 member vote "$pid" --approve
expect_out 'outcome=passed' "plat-2's approval passes it (3 of 4)" \
    as 2 member vote "$pid" --approve
H=$(tx_height "$(last_tx)")
check "the change was decided at a height ($H)" test -n "$H"
H=${H:-1}
check "the chain passes H+3 with the new set" wait_height 0 $((H + 3)) 40
check "the fifth node syncs" wait_height 4 $((H + 3)) 40

# ---- delivery and confirmation under the new set ---------------------------------
step "mfg-1 delivers" as 1 exchange deliver "$X" --sealed-key "$KEY" --content-root "$ROOT"
H_DELIVER=$(last_height)
step "plat-2 confirms" as 2 exchange confirm "$X"
H_CONFIRM=$(last_height)
check "delivery and confirmation come after the change (from $((H + 2)))" \
    test "${H_DELIVER:-0}" -ge $((H + 2)) -a "${H_APPROVE:-999999}" -lt $((H + 2))
check "the chain commits past the confirmation" wait_height 0 $((H_CONFIRM + 2)) 30

# ---- the bundle, verified offline --------------------------------------------------
B=$T/line-data.json
expect_out '^validator changes +1$' "audit dataset writes the bundle with the change" \
    as 0 audit dataset line-data -o "$B"
has "^events +5 \(heights $H_PUB to $H_CONFIRM\)\$" "... with its 5 events"
ran=("${pids[@]}")
stop_all
pids=()
gone=1
for p in "${ran[@]}"; do kill -0 "$p" 2>/dev/null && gone=0; done
check "no node of the test runs while the bundle is verified" test "$gone" -eq 1
expect_out '^VERIFIED: the history of dataset line-data holds from its creation at height '"$H_PUB to height $H_CONFIRM" \
    "tdei verify: the bundle holds, with genesis.json alone" \
    "$TDEI_BIN" verify "$B" --genesis "$GEN"
has "^validator sets: the genesis set; from height $((H + 2)), 5 validators\$" \
    "the verifier followed the change from H+2"
has " mfg-1 +catalog_publish +250 +applied " "timeline: publish"
has " plat-2 +exchange_request +250 +applied " "timeline: request"
has " mfg-1 +exchange_approve .*status approved" "timeline: approve"
has " mfg-1 +exchange_deliver .*status delivered" "timeline: deliver"
has " plat-2 +exchange_confirm +250 +applied .*status settled" "timeline: confirm, 250 paid"
run "$TDEI_BIN" verify "$B" --genesis "$GEN" --json
json_has '"verdict":"verified"' "verify --json: verified"
json_has '"validator_changes":[{"from_height":'"$((H + 2))"',"validators":5}]' \
    "verify --json: the change"

# ---- the proofs, checked by an RFC 6962 verifier that is not tdei's ------------------
CHECK=$TDEI_SRCDIR/tests/integ/rfc6962_check.py
if command -v python3 >/dev/null 2>&1; then
    expect_out '^10 proofs checked, 0 failed$' \
        "tests/integ/rfc6962_check.py (Python, no tdei code) checks every proof" \
        python3 "$CHECK" "$B"
    # Blocks of 15 txs give audit paths of 4 levels: a synthetic chain.
    mkdir -p "$T/synth"
    run "$TDEI_BUILDDIR/tests/bench/bench_bundle" --events 300 --rounds 1 --out "$T/synth"
    check "bench_bundle writes a synthetic 300-event bundle" test "$status" -eq 0
    expect_out '^600 proofs checked, 0 failed$' "... whose 4-level paths it checks too" \
        python3 "$CHECK" "$T/synth/bundle.json"
    expect_out '^VERIFIED: ' "... as does tdei verify" \
        "$TDEI_BIN" verify "$T/synth/bundle.json" --genesis "$T/synth/genesis.json"
    line=$(grep -n '"tx_proof"' "$T/synth/bundle.json" | sed -n 7p | cut -d: -f1)
    # The first digit of its first path hash, changed (0 <-> another).
    sed -e "${line}s/\"path\": \[\"0/\"path\": [\"Q/" \
        -e "${line}s/\"path\": \[\"[1-9a-f]/\"path\": [\"0/" \
        -e "${line}s/\"path\": \[\"Q/\"path\": [\"1/" \
        "$T/synth/bundle.json" >"$T/synth/bad.json"
    run python3 "$CHECK" "$T/synth/bad.json"
    [ "$status" -eq 1 ] && grep -q '^events\[6\] tx proof: path$' "$OUT" &&
        ok "... and it catches a changed path hash" || fail "rfc6962_check on a changed path (exit $status)"
else
    echo "# skip: no python3, the independent RFC 6962 check did not run"
fi

# ---- tampering -----------------------------------------------------------------------
run timeout 300 "$TAMPER" flips "$B" "$GEN" --per-section 320 --seed 8
positions=$(grep -oE '"positions": [0-9]+' "$OUT" | grep -oE '[0-9]+$')
if [ "$status" -eq 0 ] && [ "${positions:-0}" -ge 1000 ] &&
    grep -q '"still_verified": 0' "$OUT" &&
    ! grep -qE '": 0[,}]' <(grep -oE '"per_section": \{[^}]*\}' "$OUT"); then
    ok "$positions single-byte flips across every section: none verifies ($(cat "$OUT"))"
else
    fail "byte flips (exit $status)"
fi
# Every byte of a small synthetic bundle (6 events over 3 blocks of 5 txs,
# a validator-set change), each flipped by a random mask.
mkdir -p "$T/small"
run "$TDEI_BUILDDIR/tests/bench/bench_bundle" --events 6 --per-block 2 --others 3 \
    --rounds 1 --out "$T/small"
run timeout 300 "$TAMPER" flips "$T/small/bundle.json" "$T/small/genesis.json" \
    --per-section 100000000 --seed 3
all_bytes=$(grep -oE '"bytes": [0-9]+' "$OUT" | grep -oE '[0-9]+$')
if [ "$status" -eq 0 ] && [ -n "$all_bytes" ] &&
    grep -q "\"positions\": $all_bytes," "$OUT" && grep -q '"still_verified": 0' "$OUT"; then
    ok "all $all_bytes bytes of a small bundle flipped, one at a time: none verifies"
else
    fail "every byte of a small bundle (exit $status: $(cat "$OUT"))"
fi
for s in tdei_bundle chain_id object as_of validator_changes headers events; do
    "$TAMPER" flip "$B" "$T/flip-$s.json" "$s"
    run "$TDEI_BIN" verify "$T/flip-$s.json" --genesis "$GEN"
    [ "$status" -eq 3 ] && grep -q '^FAILED: ' "$OUT" &&
        ok "tdei verify: a byte flipped in $s fails: $(sed -n 's/^FAILED: //p' "$OUT" | cut -c1-100)" ||
        fail "a byte flipped in $s (exit $status)"
done
"$TAMPER" remove-event "$B" "$T/cut-first.json" 0
expect_invalid 'events\[0\].*32 zero bytes: the object.s creation' \
    "the first event removed fails" "$T/cut-first.json"
"$TAMPER" remove-event "$B" "$T/cut-mid.json" 2
expect_invalid 'events\[2\].*the history has a gap' \
    "an event in the middle removed fails" "$T/cut-mid.json"
"$TAMPER" remove-event "$B" "$T/cut-last.json" 4
expect_invalid 'as_of: head is not the head after the last event' \
    "the last event removed fails" "$T/cut-last.json"
"$TAMPER" swap-events "$B" "$T/swap.json" 1 3
expect_invalid 'events\[1\].*(gap or is out of order|block order)' \
    "two events swapped fail" "$T/swap.json"
# Commits cut below the quorum: the first header (4 validators, quorum 3)
# and the last (5 validators, quorum 4).
first=$(grep -m1 -oE '^  \{"height": [0-9]+, "header"' "$B" | grep -oE '[0-9]+')
last=$(grep -oE '^  \{"height": [0-9]+, "header"' "$B" | tail -n1 | grep -oE '[0-9]+')
"$TAMPER" drop-signatures "$B" "$T/q1.json" "$first" 2 2>/dev/null
expect_invalid "headers\[0\] \(height $first\): the commit does not hold" \
    "a commit of 2 of 4 signatures (height $first) fails" "$T/q1.json"
grep -q 'TDEI_NO_QUORUM' "$ERR" && ok "... named as no quorum" || fail "no quorum not named"
"$TAMPER" drop-signatures "$B" "$T/q2.json" "$last" 3 2>/dev/null
expect_invalid "\(height $last\): the commit does not hold" \
    "a commit of 3 of 5 signatures (height $last, after the change) fails" "$T/q2.json"
grep -q 'TDEI_NO_QUORUM' "$ERR" && ok "... named as no quorum" || fail "no quorum not named"

# ---- the exchange's own bundle -------------------------------------------------------
for i in 0 1 2 3 4; do start_node $i; done
check "the nodes run again" wait_height 0 $((H_CONFIRM + 3)) 40
expect_out '^events +4 ' "audit exchange writes its bundle" \
    as 2 audit exchange "$X" -o "$T/x.json"
expect_out "^VERIFIED: the history of exchange $X" "the exchange's bundle verifies" \
    "$TDEI_BIN" verify "$T/x.json" --genesis "$GEN"
finish
