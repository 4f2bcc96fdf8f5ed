#!/usr/bin/env bash
# The payload commands of the CLI: catalog publish and catalog version with
# --file, catalog delivery, exchange deliver without a key (the node
# delivers), exchange transfer and exchange fetch. Usage refusals and
# --help first; then, against one node (alpha-svc's, which all members
# talk to): a file imported and published from a relative path, the root
# the catalog then holds, a manual entry waiting for `exchange deliver`, an
# automatic one delivered by the node, the transfer state on the owner's
# node, and the node's refusals (exit 1 with the code and the reason). The
# full transfer between two nodes is in tests/integ/test_payload.sh.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

X=$(printf 'ab%.0s' $(seq 1 32)) # an exchange id nobody made
ROOT=$(printf 'cd%.0s' $(seq 1 32))
PUB=(catalog publish --kind dataset --title "Line data" --domain production
    --level 1 --class general --price-model one_time --price 20)

# ---- help ------------------------------------------------------------------
expect_help exchange fetch
expect_help exchange transfer
expect_help catalog delivery
expect_out '^  fetch +fetch and decrypt a delivered payload$' \
    "exchange --help lists fetch" "$TDEI_BIN" exchange --help
has '^  transfer +show a payload.s transfer here$' "exchange --help lists transfer"
expect_out '^  delivery +deliver automatically or by hand$' \
    "catalog --help lists delivery" "$TDEI_BIN" catalog --help
expect_out '^  --file PATH +dataset: the payload; the node imports it' \
    "publish --help shows --file" "$TDEI_BIN" catalog publish --help

# ---- usage refusals --------------------------------------------------------------
net_create || fail "net_create"
expect_usage '--output FILE is required' "fetch needs an output" \
    "${AS_C[@]}" exchange fetch "$X"
expect_usage "EXCHANGE-ID 'xyz' is not 64 hex digits" "fetch checks the id" \
    "${AS_C[@]}" exchange fetch xyz -o out
expect_usage '--timeout 0 is outside 1-3600' "fetch checks the wait" \
    "${AS_C[@]}" exchange fetch "$X" -o out --timeout 0
expect_usage '--timeout 3601 is outside 1-3600' "fetch bounds the wait" \
    "${AS_C[@]}" exchange fetch "$X" -o out --timeout 3601
expect_usage '--output is empty' "fetch needs a file name" \
    "${AS_C[@]}" exchange fetch "$X" -o ""
expect_usage "EXCHANGE-ID 'x' is not 64 hex digits" "transfer checks the id" \
    "${AS_C[@]}" exchange transfer x
expect_usage "'sometimes' is neither auto nor manual" "delivery checks the mode" \
    "${AS_A[@]}" catalog delivery line-a sometimes
expect_usage 'missing operand: give ID auto\|manual' "delivery needs a mode" \
    "${AS_A[@]}" catalog delivery line-a
expect_usage "ID 'Line' is not an entry id" "delivery checks the id" \
    "${AS_A[@]}" catalog delivery Line manual
expect_usage '--file goes with a dataset and without --content-root and --size' \
    "publish: --file or --content-root" "${AS_A[@]}" "${PUB[@]}" --id line-a \
    --file x.bin --content-root "$ROOT"
expect_usage '--file goes with a dataset' "publish: a stream has no file" \
    "${AS_A[@]}" catalog publish --id line-s --kind stream --title s \
    --domain production --level 1 --class general --price-model per_record \
    --price 1 --file x.bin
expect_usage 'give the new version as --file PATH or --content-root HEX' \
    "version: not both" "${AS_A[@]}" catalog version line-a --file x.bin \
    --content-root "$ROOT"
expect_usage '--size goes with --content-root' "version: --file finds the size" \
    "${AS_A[@]}" catalog version line-a --file x.bin --size 10

# ---- against a node ------------------------------------------------------------------
node_start "$A" && ok "tdei-node starts" || fail "tdei-node did not start"
head -c 200000 /dev/urandom >"$T/line-a.bin"
cd "$T" || exit 1
run "${AS_A[@]}" "${PUB[@]}" --id line-a --file line-a.bin
if [ "$status" -eq 0 ] &&
    grep -qE "^imported $T/line-a.bin: 200000 bytes, 4 chunks, root [0-9a-f]{64}\$" "$OUT" &&
    grep -qE '^result +applied$' "$OUT"; then
    ok "publish --file: a relative path, imported and published"
else
    fail "publish --file (exit $status)"
fi
root_a=$(grep -oE 'root [0-9a-f]{64}' "$OUT" | grep -oE '[0-9a-f]{64}')
run "${AS_A[@]}" catalog show line-a
has "^content root +$root_a\$" "the catalog holds the imported root"
has '^size +200000$' "and the file's size"
expect_fail_with "open $T/none.bin: No such file or directory \(TDEI_NOTFOUND\)" \
    "publish --file of a missing file fails before publishing" \
    "${AS_A[@]}" "${PUB[@]}" --id line-x --file none.bin
expect_fail_with 'entry line-x is not on the ledger' "nothing was published" \
    "${AS_A[@]}" catalog show line-x
step "beta publishes with a root by hand" "${AS_B[@]}" "${PUB[@]}" --id line-b \
    --content-root "$ROOT" --size 100

# delivery settings
expect_out '^delivery +manual$' "catalog delivery line-a manual" \
    "${AS_A[@]}" catalog delivery line-a manual
run "${AS_A[@]}" --json catalog delivery line-a manual
json_has '{"entry":"line-a","delivery":"manual"}' "catalog delivery --json"
expect_fail_with 'entry line-b is owned by beta-mfg; this node delivers for alpha-svc only \(TDEI_NOT_OWNER\)' \
    "delivery of another member's entry is refused" "${AS_A[@]}" catalog delivery line-b manual
expect_fail_with 'no catalog entry line-z.*\(TDEI_UNKNOWN_DATASET\)' \
    "delivery of an unknown entry is refused" "${AS_A[@]}" catalog delivery line-z auto

# manual: the exchange waits for `exchange deliver`
step "gamma requests line-a (level 1: approved at once)" "${AS_C[@]}" exchange request line-a --price 20
X1=$(last_tx)
sleep 0.5
expect_out '^status +approved$' "a manual entry is not delivered by the node" \
    "${AS_A[@]}" exchange show "$X1"
expect_usage '--content-root, --nonce, --no-wait and --passphrase-file go with --sealed-key or --key-file' \
    "deliver without a key takes no tx option" "${AS_A[@]}" exchange deliver "$X1" --no-wait
step "gamma requests beta's line-b" "${AS_C[@]}" exchange request line-b --price 20
XB=$(last_tx)
expect_fail_with "entry line-b is owned by beta-mfg; its owner's node delivers \(this node is alpha-svc's\) \(TDEI_NOT_OWNER\)" \
    "alpha's node does not deliver beta's entry" "${AS_B[@]}" exchange deliver "$XB"
step "exchange deliver without a key: the node delivers" "${AS_A[@]}" exchange deliver "$X1"
has "^event +exchange.delivered id=$X1 dataset=line-a by=alpha-svc " "the delivery's event"
run "${AS_A[@]}" exchange show "$X1"
has '^status +delivered$' "show: delivered"
has "^delivered root +$root_a\$" "show: the imported root"
expect_fail_with 'the exchange is delivered; only an approved exchange is delivered \(TDEI_EXCHANGE_STATE\)' \
    "a second delivery is refused" "${AS_A[@]}" exchange deliver "$X1"
expect_fail_with "no exchange has this id; check it with .tdei exchange list. \(TDEI_UNKNOWN_EXCHANGE\)" \
    "deliver of an unknown exchange" "${AS_A[@]}" exchange deliver "$X"

# transfer state on the owner's node; fetch is for the consumer's node
run "${AS_A[@]}" exchange transfer "$X1"
has '^state +complete$' "transfer: complete on the owner's node"
has '^chunks +4 of 4 here$' "transfer: every chunk here"
has '^fetching +no$' "transfer: nothing to pull"
run "${AS_A[@]}" --json exchange transfer "$X1"
json_has "\"content_root\":\"$root_a\",\"state\":\"complete\",\"size\":200000,\"chunks\":4," \
    "transfer --json"
expect_fail_with 'the consumer of this exchange is gamma-plat; this node fetches for alpha-svc only \(TDEI_NOT_PARTY\)' \
    "fetch through another member's node is refused" "${AS_C[@]}" exchange fetch "$X1" -o got.bin
[ -e "$T/got.bin" ] && fail "fetch wrote a file" || ok "and writes nothing"
expect_fail_with 'no exchange has this id.*\(TDEI_UNKNOWN_EXCHANGE\)' \
    "transfer of an unknown exchange" "${AS_A[@]}" exchange transfer "$X"

# automatic again
expect_out '^delivery +auto$' "catalog delivery line-a auto" \
    "${AS_A[@]}" catalog delivery line-a auto
step "beta requests line-a" "${AS_B[@]}" exchange request line-a --price 20
X2=$(last_tx)
delivered=0
for _ in $(seq 1 100); do
    if "${AS_A[@]}" exchange show "$X2" | grep -qE '^status +delivered$'; then
        delivered=1
        break
    fi
    sleep 0.1
done
[ "$delivered" -eq 1 ] && ok "the node delivers an automatic entry on its own" ||
    fail "not delivered"
grep -q "msg=\"delivered\" exchange=${X2:0:16}.* by=auto" "$T/node.log" &&
    ok "the node logs the automatic delivery" || fail "no delivery in the log"

# a new version from a file
head -c 70000 /dev/urandom >"$T/line-a2.bin"
run "${AS_A[@]}" catalog version line-a --file line-a2.bin
if [ "$status" -eq 0 ] && grep -qE '^imported .*line-a2.bin: 70000 bytes, 2 chunks' "$OUT" &&
    grep -qE '^result +applied$' "$OUT"; then
    ok "catalog version --file imports version 2 and publishes it"
else
    fail "catalog version --file (exit $status)"
fi
root_2=$(grep -oE 'root [0-9a-f]{64}' "$OUT" | grep -oE '[0-9a-f]{64}')
run "${AS_A[@]}" catalog show line-a
has '^version +2$' "the entry is at version 2"
has "^content root +$root_2\$" "with the new root"
expect_fail_with 'entry line-q is not on the ledger' "version --file of an unknown entry" \
    "${AS_A[@]}" catalog version line-q --file line-a2.bin
finish
