#!/usr/bin/env bash
# tdei audit and tdei verify on one node (doc/bundle.md): usage refusals
# and --help; a dataset taken through a full exchange (publish, a refused
# request, request, approve, deliver, confirm) gets a bundle that
# verifies offline with its timeline (table and --json); so do the
# exchange, the consumer member and a stream entry; the refusals of audit
# (an unknown object, the wrong kind, an object without history, a last
# event whose next block is not committed within --wait) and of verify
# (another chain's genesis, a changed byte, a removed event, a missing
# file, a bad genesis) exit with their codes and say what failed.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

ROOT=$(printf 'cd%.0s' $(seq 1 32))
KEY=$(printf '11%.0s' $(seq 1 32))
X0=$(printf 'ab%.0s' $(seq 1 32)) # an exchange id nobody made

# ---- help and usage ------------------------------------------------------------
for cmd in dataset stream exchange member; do
    expect_help audit "$cmd"
done
expect_out '^  exchange +write the proof bundle of an exchange' \
    "audit --help lists the commands" "$TDEI_BIN" audit --help
run "$TDEI_BIN" verify --help
[ "$status" -eq 0 ] && grep -qF 'usage: tdei [--home DIR] [--node ADDR] [--json] verify BUNDLE --genesis FILE' "$OUT" &&
    ok "verify --help" || fail "verify --help"
net_create || fail "net_create"
expect_usage '--output BUNDLE is required' "audit needs -o" \
    "${AS_A[@]}" audit dataset press-line
expect_usage "entry id 'Press' is not 3-64 bytes" "audit checks an entry id" \
    "${AS_A[@]}" audit dataset Press -o "$T/b.json"
expect_usage "member id 'X' is not 3-32 bytes" "audit checks a member id" \
    "${AS_A[@]}" audit member X -o "$T/b.json"
expect_usage "exchange id 'abc' is not 64 lower-case hex digits" \
    "audit checks an exchange id" "${AS_A[@]}" audit exchange abc -o "$T/b.json"
expect_usage "unexpected argument 'more'" "audit takes one id" \
    "${AS_A[@]}" audit dataset press-line more -o "$T/b.json"
expect_usage '--wait 601 is outside 0-600' "audit bounds --wait" \
    "${AS_A[@]}" audit dataset press-line -o "$T/b.json" --wait 601
expect_usage "unknown command 'audit block'" "audit knows its kinds" \
    "${AS_A[@]}" audit block 1 -o "$T/b.json"
expect_usage '--genesis FILE is required' "verify needs --genesis" \
    "$TDEI_BIN" verify "$T/b.json"
expect_usage 'missing operand: give BUNDLE' "verify needs a bundle" \
    "$TDEI_BIN" verify --genesis "$A/genesis.json"
expect_fail_with 'cannot open bundle .*/none.json' "verify: a missing bundle exits 1" \
    "$TDEI_BIN" verify "$T/none.json" --genesis "$A/genesis.json"
[ "$status" -eq 1 ] && ok "... with exit 1" || fail "missing bundle: exit $status"

# ---- a full exchange, audited ----------------------------------------------------
node_start "$A" && ok "tdei-node starts" || fail "tdei-node did not start"
step "publish press-line (level 2)" "${AS_B[@]}" catalog publish --id press-line \
    --kind dataset --title "Press line 4" --domain production --level 2 \
    --class important --price-model one_time --price 120 --content-root "$ROOT"
expect_refused TDEI_POLICY 'must state a purpose' "a request without purpose is refused" \
    "${AS_C[@]}" exchange request press-line --price 120
step "request" "${AS_C[@]}" exchange request press-line --price 120 --purpose tuning
X=$(last_tx)
step "approve" "${AS_B[@]}" exchange approve "$X"
step "deliver" "${AS_B[@]}" exchange deliver "$X" --sealed-key "$KEY" \
    --content-root "$ROOT"
step "confirm" "${AS_C[@]}" exchange confirm "$X"
h_confirm=$(last_height)
# Blocks come only when txs wait here: the confirm's results root is in
# the next block, which nothing makes yet.
expect_fail_with "the last event is in block $h_confirm; its results root is in header $((h_confirm + 1)), not committed within 1 s" \
    "audit waits for the block after the last event, then says so" \
    "${AS_A[@]}" audit dataset press-line -o "$T/ds.json" --wait 1
[ ! -e "$T/ds.json" ] && ok "... and writes no bundle" || fail "a bundle was written"
step "a transfer makes the next block" "${AS_A[@]}" tx transfer --to beta-mfg --amount 1
expect_out "^events +6 \(heights [0-9]+ to $h_confirm\)\$" "audit dataset writes the bundle" \
    "${AS_A[@]}" audit dataset press-line -o "$T/ds.json"
has '^validator changes +0$' "no validator-set change on this chain"
head -c 40 "$T/ds.json" | grep -q '"tdei_bundle": 1' && ok "the bundle is the JSON format" ||
    fail "the bundle does not start as doc/bundle.md says"

# verify: the timeline and the verdict, with no node.
node_stop
expect_out '^VERIFIED: the history of dataset press-line holds from its creation' \
    "verify checks the bundle offline (no node runs)" \
    "$TDEI_BIN" verify "$T/ds.json" --genesis "$A/genesis.json"
has ' catalog_publish +120 +applied +entry press-line$' "timeline: the publish, by price"
has '^ +[0-9]+ +[0-9T:.-]+Z +beta-mfg +catalog_publish' "timeline: who published"
has ' gamma-plat +exchange_request +120 +TDEI_POLICY ' "timeline: the refused request"
has 'must state a purpose' "timeline: the refusal's reason"
has "gamma-plat +exchange_request +120 +applied +entry press-line, exchange ${X:0:16}\.\., status requested" \
    "timeline: the request"
has ' beta-mfg +exchange_approve +- +applied +exchange .*status approved$' "timeline: the approval"
has ' beta-mfg +exchange_deliver +- +applied +exchange .*status delivered$' "timeline: the delivery"
has ' gamma-plat +exchange_confirm +120 +applied +exchange .*status settled$' "timeline: the confirmation, paid 120"
has '^checked: 6 events \(12 inclusion proofs, 6 tx signatures\)' "the checks are counted"
hasnt '^note:' "a settled exchange leaves no open deadline"
run "$TDEI_BIN" --json verify "$T/ds.json" --genesis "$A/genesis.json"
json_has '"verdict":"verified"' "verify --json: the verdict"
json_has '"action":"exchange_confirm","price":120,"result":"applied"' "verify --json: the rows"
json_has '"member":"gamma-plat","member_source":"event"' "verify --json: the member and where it comes from"
expect_out '"verdict": "verified"' "verify takes --json after the group too" \
    "$TDEI_BIN" verify "$T/ds.json" --genesis "$A/genesis.json" --json
# Each proof of a bundle is a `tdei proof` inclusion document.
grep '"tx_proof"' "$T/ds.json" | sed -n 3p | grep -oE '"result_proof": \{[^}]*\}' |
    sed 's/^"result_proof": //' >"$T/proof.json"
expect_out '^valid: inclusion of leaf 0 in tree of size 1 under root [0-9a-f]{64}$' \
    "tdei proof verify checks a result proof of the bundle on its own" \
    "$TDEI_BIN" proof verify "$T/proof.json"

# ---- refusals of verify ----------------------------------------------------------------
mkdir -p "$T/other"
"$TDEI_BIN" --home "$T/other" init --member other-svc --role public_service >/dev/null
"$TDEI_BIN" --home "$T/other" genesis new --chain-id tdei-other >/dev/null
"$TDEI_BIN" --home "$T/other" genesis add-member --from-home "$T/other" --validator >/dev/null
run "$TDEI_BIN" verify "$T/ds.json" --genesis "$T/other/genesis.json"
[ "$status" -eq 3 ] && grep -q 'bundle is for chain tdei-cli, but genesis.json is for chain tdei-other' "$ERR" &&
    ok "another chain's genesis: exit 3, named" || fail "another chain's genesis (exit $status)"
has '^FAILED: .*\(TDEI_CHAIN_ID\)$' "... and the verdict says FAILED"
# One hex digit of the third event's tx changed.
line=$(grep -n '^  {"height"' "$T/ds.json" | grep '"tx_proof"' | sed -n 3p | cut -d: -f1)
sed "${line}s/\"tx\": \"0a\(..\)/\"tx\": \"0b\1/" "$T/ds.json" >"$T/flip.json"
cmp -s "$T/ds.json" "$T/flip.json" && fail "the flip changed nothing"
run "$TDEI_BIN" verify "$T/flip.json" --genesis "$A/genesis.json"
[ "$status" -eq 3 ] && grep -qE 'bundle events\[2\]' "$ERR" &&
    ok "a changed tx byte: exit 3, the event named" || fail "changed tx byte (exit $status)"
# The first event removed: the history no longer starts at creation.
line=$(grep -n '^  {"height"' "$T/ds.json" | grep '"tx_proof"' | sed -n 1p | cut -d: -f1)
sed "${line}d" "$T/ds.json" >"$T/cut.json"
run "$TDEI_BIN" verify "$T/cut.json" --genesis "$A/genesis.json"
[ "$status" -eq 3 ] && grep -q '32 zero bytes: the object.s creation' "$ERR" &&
    ok "the first event removed: exit 3, the gap named" || fail "first event removed (exit $status)"
printf '{"tdei_bundle": 1' >"$T/short.json"
expect_fail_with 'bundle is not JSON' "a truncated bundle is refused" \
    "$TDEI_BIN" verify "$T/short.json" --genesis "$A/genesis.json"
[ "$status" -eq 3 ] && ok "... with exit 3" || fail "truncated bundle: exit $status"
printf '{}' >"$T/bad-genesis.json"
expect_fail_with 'genesis' "a genesis that does not parse exits 1" \
    "$TDEI_BIN" verify "$T/ds.json" --genesis "$T/bad-genesis.json"
[ "$status" -eq 1 ] && ok "... with exit 1" || fail "bad genesis: exit $status"

# ---- the other kinds ---------------------------------------------------------------
node_start "$A" && ok "tdei-node starts again" || fail "tdei-node did not restart"
expect_out '^events +4 ' "audit exchange: its 4 steps" \
    "${AS_A[@]}" audit exchange "$X" -o "$T/x.json"
expect_out '^VERIFIED: the history of exchange '"$X" "the exchange's bundle verifies" \
    "$TDEI_BIN" verify "$T/x.json" --genesis "$A/genesis.json"
expect_out '^events +[0-9]+ ' "audit member gamma-plat" \
    "${AS_C[@]}" audit member gamma-plat -o "$T/m.json"
expect_out '^VERIFIED: the history of member gamma-plat' "the member's bundle verifies" \
    "$TDEI_BIN" verify "$T/m.json" --genesis "$A/genesis.json"
step "publish a stream" "${AS_B[@]}" catalog publish --id press-feed --kind stream \
    --title "Press feed" --domain operation --level 1 --class general \
    --price-model per_record --price 2
step "open it" "${AS_B[@]}" stream open press-feed
step "another block" "${AS_A[@]}" tx transfer --to beta-mfg --amount 1
expect_out '^events +2 ' "audit stream press-feed" \
    "${AS_A[@]}" audit stream press-feed -o "$T/s.json"
run "$TDEI_BIN" verify "$T/s.json" --genesis "$A/genesis.json"
[ "$status" -eq 0 ] && grep -q ' stream_open ' "$OUT" && ok "the stream's bundle verifies, with its opening" ||
    fail "stream bundle (exit $status)"
expect_fail_with 'entry press-feed is a stream, not a dataset; run `tdei audit stream press-feed`' \
    "audit dataset on a stream names the command to use" \
    "${AS_A[@]}" audit dataset press-feed -o "$T/no.json"
expect_fail_with 'the ledger has no such object' "an unknown dataset" \
    "${AS_A[@]}" audit dataset no-such-entry -o "$T/no.json"
[ "$status" -eq 1 ] && ok "... exits 1" || fail "unknown dataset: exit $status"
expect_fail_with 'no exchange has this id on the ledger' "an unknown exchange" \
    "${AS_A[@]}" audit exchange "$X0" -o "$T/no.json"
expect_fail_with 'the object has no history on the ledger' "a member no tx touched" \
    "${AS_A[@]}" audit member delta-aud -o "$T/no.json"
expect_fail_with "cannot create $T/nodir/b.json.tmp" "an output directory that does not exist" \
    "${AS_A[@]}" audit dataset press-line -o "$T/nodir/b.json"
[ ! -e "$T/no.json" ] && ok "no refused audit wrote a file" || fail "a refused audit wrote a file"
finish
