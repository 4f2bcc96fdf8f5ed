#!/usr/bin/env bash
# tdei catalog: usage refusals, --help, and against a real node: every op
# builds a tx the node admits (the contracts are not built in this branch:
# see expect_not_built), show of an unknown entry.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

ROOT=$(printf 'cd%.0s' $(seq 1 32))
PUB=(catalog publish --id press-line --kind dataset --title "Press line 4"
    --domain production --level 2 --class important --price-model one_time
    --price 120 --content-root "$ROOT" --size 4096)

# ---- help ------------------------------------------------------------------
for cmd in publish version withdraw reprice show classify approve-lowering \
    offer accept cancel-offer; do
    expect_help catalog "$cmd"
done
expect_out '^  approve-lowering +approve a pending lowering' "catalog --help lists the commands" \
    "$TDEI_BIN" catalog --help
expect_out '^  --tag TAG +a tag, 1-32 bytes of \[a-z0-9._-\] \(repeat it, at most' \
    "publish --help: repeatable options" "$TDEI_BIN" catalog publish --help
grep -qE '^  --domain DOMAIN .*rd, production,' "$OUT" && ok "publish --help: choices" ||
    fail "publish --help: no choices"

# ---- usage refusals --------------------------------------------------------------
net_create || fail "net_create"
expect_usage 'usage: tdei catalog COMMAND' "catalog alone" "${AS_B[@]}" catalog
expect_usage '--id ID is required' "publish needs an id" \
    "${AS_B[@]}" catalog publish --kind dataset
expect_usage "--id 'Press' is not an entry id: 3-64 bytes of \[a-z0-9-\]" \
    "publish checks the id" "${AS_B[@]}" "${PUB[@]}" --id Press
expect_usage "--kind 'table' is not one of dataset or stream" "publish checks the kind" \
    "${AS_B[@]}" "${PUB[@]}" --kind table
expect_usage "--domain 'mining' is not one of rd, production, operation, management or external" \
    "publish checks the domain" "${AS_B[@]}" "${PUB[@]}" --domain mining
expect_usage '--level 4 is outside 1-3' "publish checks the level" \
    "${AS_B[@]}" "${PUB[@]}" --level 4
expect_usage "--class 'secret' is not one of general, important or core" \
    "publish checks the class" "${AS_B[@]}" "${PUB[@]}" --class secret
expect_usage "--price-model 'free' is not one of one_time, per_record or subscription" \
    "publish checks the model" "${AS_B[@]}" "${PUB[@]}" --price-model free
expect_usage "--price '1.5' is not a whole number" "publish checks the price" \
    "${AS_B[@]}" "${PUB[@]}" --price 1.5
expect_usage '--period 0 is below 1' "publish checks the period" \
    "${AS_B[@]}" "${PUB[@]}" --period 0
expect_usage "--tag 'a' is given twice" "publish refuses a repeated tag" \
    "${AS_B[@]}" "${PUB[@]}" --tag a --tag b --tag a
many=()
for i in $(seq 1 17); do many+=(--tag "t$i"); done
expect_usage '--tag is given more than 16 times' "publish counts tags" \
    "${AS_B[@]}" "${PUB[@]}" "${many[@]}"
expect_usage "--parent 'base-set' is given twice" "publish refuses a repeated parent" \
    "${AS_B[@]}" "${PUB[@]}" --parent base-set --parent base-set
expect_usage "--content-root 'cafe' is not 64 hex digits" "publish checks the root" \
    "${AS_B[@]}" "${PUB[@]}" --content-root cafe
expect_usage 'a dataset needs --content-root HEX' "a dataset has a root" \
    "${AS_B[@]}" catalog publish --id press-line --kind dataset --title t \
    --domain rd --level 1 --class general --price-model one_time
expect_usage 'a stream is priced per_record or by subscription, not one_time \(TDEI_MALFORMED\)' \
    "the ledger's price rule runs before signing" "${AS_B[@]}" catalog publish \
    --id press-feed --kind stream --title t --domain rd --level 1 --class general \
    --price-model one_time
expect_usage 'a stream has no content_root or size' "a stream has no root" \
    "${AS_B[@]}" catalog publish --id press-feed --kind stream --title t --domain rd \
    --level 1 --class general --price-model per_record --content-root "$ROOT"
expect_usage 'level 1 with class 3 \(core\) is not an allowed pair' \
    "the ledger's label rule runs before signing" "${AS_B[@]}" "${PUB[@]}" --level 1 --class core
expect_usage 'period is set exactly for the subscription model' "a subscription has a period" \
    "${AS_B[@]}" "${PUB[@]}" --price-model subscription
expect_usage "tags .* entry \"UP\" is not valid" "the ledger's tag rule" \
    "${AS_B[@]}" "${PUB[@]}" --tag UP
expect_usage 'names itself as a parent' "an entry is not its own parent" \
    "${AS_B[@]}" "${PUB[@]}" --parent press-line
expect_usage 'missing operand: give ID' "version needs an id" \
    "${AS_B[@]}" catalog version --content-root "$ROOT"
expect_usage '--content-root HEX is required' "version needs a root" \
    "${AS_B[@]}" catalog version press-line
expect_usage "ID 'x' is not an entry id" "version checks the id" \
    "${AS_B[@]}" catalog version x --content-root "$ROOT"
expect_usage '--price N is required' "reprice needs a price" \
    "${AS_B[@]}" catalog reprice press-line --price-model one_time
expect_usage "unexpected argument 'other-id'" "withdraw takes one id" \
    "${AS_B[@]}" catalog withdraw press-line other-id
expect_usage '--class CLASS is required' "classify needs a class" \
    "${AS_B[@]}" catalog classify press-line --level 2
expect_usage '--level 0 is outside 1-3' "classify checks the level" \
    "${AS_B[@]}" catalog classify press-line --level 0 --class general
expect_usage '--to MEMBER is required' "offer needs a member" \
    "${AS_B[@]}" catalog offer press-line
expect_usage "--to 'Gamma' is not a member id" "offer checks the member" \
    "${AS_B[@]}" catalog offer press-line --to Gamma
expect_usage 'missing operand: give ID' "accept needs an id" "${AS_C[@]}" catalog accept
expect_usage "unknown option '--to'" "cancel-offer takes no member" \
    "${AS_B[@]}" catalog cancel-offer press-line --to gamma-plat
expect_usage 'missing operand: give ID' "approve-lowering needs an id" \
    "${AS_A[@]}" catalog approve-lowering
expect_usage "ID 'A' is not an entry id" "show checks the id" "${AS_A[@]}" catalog show A

# ---- against a node ------------------------------------------------------------
node_start && ok "tdei-node starts" || fail "tdei-node did not start"
expect_not_built catalog_publish "publish a dataset" "${AS_B[@]}" "${PUB[@]}" \
    --tag stamping --tag press --may-derive --parent base-set --schema csv-v1
expect_not_built catalog_publish "publish a stream" "${AS_B[@]}" catalog publish \
    --id press-feed --kind stream --title "Press feed" --domain 3 --level 1 \
    --class general --price-model per_record --price 2
expect_not_built catalog_version "version" "${AS_B[@]}" catalog version press-line \
    --content-root "$ROOT" --size 5000 --schema csv-v2
expect_not_built catalog_withdraw "withdraw" "${AS_B[@]}" catalog withdraw press-line
expect_not_built catalog_reprice "reprice" "${AS_B[@]}" catalog reprice press-line \
    --price-model subscription --price 50 --period 100 --may-resell
expect_not_built classify_set "classify" "${AS_B[@]}" catalog classify press-line \
    --level 1 --class general --domain rd
expect_not_built classify_approve "approve-lowering" "${AS_A[@]}" catalog \
    approve-lowering press-line
expect_not_built ownership_offer "offer" "${AS_B[@]}" catalog offer press-line \
    --to gamma-plat
expect_not_built ownership_accept "accept" "${AS_C[@]}" catalog accept press-line
expect_not_built ownership_cancel "cancel-offer" "${AS_B[@]}" catalog cancel-offer press-line
expect_fail_with 'catalog entry no-such-entry is not on the ledger \(TDEI_NOTFOUND\)' \
    "show of an unknown entry" "${AS_A[@]}" catalog show no-such-entry
[ "$status" -eq 1 ] && ok "show of an unknown entry exits 1" || fail "exit $status"
finish
