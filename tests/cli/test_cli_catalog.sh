#!/usr/bin/env bash
# tdei catalog: usage refusals, --help, and against a real node: each op
# applied and what `catalog show` (table and --json) then prints, the
# ledger's refusals (exit 1 with the code and the reason), `catalog search`
# over the published entries before and after a withdrawal, show of an
# unknown entry.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

ROOT=$(printf 'cd%.0s' $(seq 1 32))
ROOT2=$(printf 'ce%.0s' $(seq 1 32))
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
expect_usage 'a dataset needs --file PATH or --content-root HEX' "a dataset has a root" \
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
expect_usage 'give the new version as --file PATH or --content-root HEX' "version needs a root" \
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
node_start "$A" && ok "tdei-node starts" || fail "tdei-node did not start"
# ---- publish, show ---------------------------------------------------------------
step "publish a dataset" "${AS_B[@]}" "${PUB[@]}" --tag stamping --tag press \
    --may-derive --schema csv-v1 --description "Stroke force per die"
has '^event +catalog.published id=press-line by=beta-mfg kind=dataset parents=0$' \
    "publish prints its event"
h1=$(last_height)
run "${AS_C[@]}" catalog show press-line
has '^entry +press-line$' "show: the id"
has '^owner +beta-mfg$' "show: the publisher's member owns it"
has '^publisher +beta-mfg$' "show: the publisher"
has '^version +1$' "show: version 1"
has '^tags +press, stamping$' "show: the tags, sorted"
has '^domain +production$' "show: the domain"
has '^level +2$' "show: the level"
has '^class +important$' "show: the class"
has '^price +one_time 120$' "show: the price"
has '^license +may derive: yes, may resell: no$' "show: the license"
has '^status +active$' "show: active"
has "^content root +$ROOT\$" "show: the content root"
has "^created +height $h1\$" "show: the height it was published at"
has '^offer to +-$' "show: no offer"
has '^pending +-$' "show: nothing pending"
has "^1 +$h1 +4096 +$ROOT +-\$" "show: the version row, no previous root"
[ "$(grep -cE '^[0-9]+ +[0-9]+ +[0-9]+ +[0-9a-f]{64} ' "$OUT")" -eq 1 ] &&
    ok "show: one version row" || fail "show: not one version row"
run "${AS_C[@]}" --json catalog show press-line
json_has '"id":"press-line","kind":"dataset","title":"Press line 4",' "show --json: id, kind, title"
json_has '"tags":["press","stamping"],"domain":"production","level":2,"class":"important",' \
    "show --json: sorted tags and the labels"
json_has '"owner":"beta-mfg","publisher":"beta-mfg","version":1,"status":"active",' \
    "show --json: owner, publisher, version, status"
json_has '"versions":[{"version":1,"content_root":"'"$ROOT"'","size":4096,'\
'"schema":"csv-v1","height":'"$h1"',"prev_root":""}]' \
    "show --json: one version"
step "publish a stream (the domain by number)" "${AS_B[@]}" catalog publish \
    --id press-feed --kind stream --title "Press feed" --domain 3 --level 1 \
    --class general --price-model per_record --price 2
run "${AS_C[@]}" catalog show press-feed
has '^domain +operation$' "show: domain 3 is operation"
has '^price +per_record 2$' "show: a stream's price"
hasnt '^VERSION ' "show: a stream has no versions"
expect_refused TDEI_DATASET_EXISTS 'catalog_publish: the id press-line is taken' \
    "republishing an id" "${AS_C[@]}" "${PUB[@]}"
has '^reason +catalog_publish: the id press-line is taken \(ids are never reused' \
    "the reason is on stdout too"
expect_refused TDEI_ROLE 'delta-aud is an auditor; auditors observe and never publish' \
    "an auditor publishes nothing" "${AS_D[@]}" "${PUB[@]}" --id audit-line
expect_refused TDEI_LINEAGE 'parent base-set is not in the catalog' \
    "a parent must be on the ledger" "${AS_B[@]}" "${PUB[@]}" --id derived-line \
    --parent base-set

# ---- version -----------------------------------------------------------------------
expect_refused TDEI_NOT_OWNER 'only its owner beta-mfg may do this; gamma-plat is not the owner' \
    "version by a non-owner" "${AS_C[@]}" catalog version press-line --content-root "$ROOT2"
step "version" "${AS_B[@]}" catalog version press-line --content-root "$ROOT2" --size 5000 \
    --schema csv-v2
has "^event +catalog.versioned id=press-line by=beta-mfg version=2 root=$ROOT2\$" \
    "version prints its event"
h2=$(last_height)
run "${AS_C[@]}" catalog show press-line
has '^version +2$' "show: version 2"
has "^content root +$ROOT2\$" "show: the new root"
has '^schema +csv-v2$' "show: the new schema"
has "^1 +$h1 +4096 +$ROOT +-\$" "show: the first version row stays"
has "^2 +$h2 +5000 +$ROOT2 +$ROOT\$" "show: the second row's previous root is v1's"
expect_refused TDEI_DATASET_STATE 'the content root is the one of version 2' \
    "a version with the current root" \
    "${AS_B[@]}" catalog version press-line --content-root "$ROOT2"

# ---- reprice -----------------------------------------------------------------------
step "reprice" "${AS_B[@]}" catalog reprice press-line --price-model one_time --price 150 \
    --may-resell
has '^event +catalog.repriced id=press-line by=beta-mfg model=one_time amount=150$' \
    "reprice prints its event"
run "${AS_C[@]}" catalog show press-line
has '^price +one_time 150$' "show: the new price"
has '^license +may derive: no, may resell: yes$' "show: the license is replaced"
expect_refused TDEI_DATASET_STATE 'per_record pricing does not fit a dataset' \
    "a dataset is not priced per record" \
    "${AS_B[@]}" catalog reprice press-line --price-model per_record --price 1

# ---- classify, approve-lowering ------------------------------------------------
step "classify: raise" "${AS_B[@]}" catalog classify press-line --level 3 \
    --class important --domain rd
has '^event +classify.set id=press-line by=beta-mfg level=3 class=important domain=rd$' \
    "a raise applies (its event)"
run "${AS_C[@]}" catalog show press-line
has '^level +3$' "show: raised to level 3"
has '^domain +rd$' "show: the new domain"
has '^pending +-$' "show: a raise leaves nothing pending"
step "classify: lower" "${AS_B[@]}" catalog classify press-line --level 1 --class general
has '^event +classify.lowering_requested id=press-line by=beta-mfg level=1 '\
'class=general domain=unchanged$' \
    "a lowering is requested (its event)"
run "${AS_C[@]}" catalog show press-line
has '^level +3$' "show: the level stays until approved"
has '^class +important$' "show: the class stays until approved"
has '^pending +level 1 general, domain kept \(awaits a public_service approval\)$' \
    "show: the pending lowering"
run "${AS_C[@]}" --json catalog show press-line
json_has '"pending_level":1,"pending_class":"general","pending_domain":""' \
    "show --json: the pending lowering"
expect_refused TDEI_ROLE 'public_service' "a platform does not approve a lowering" \
    "${AS_C[@]}" catalog approve-lowering press-line
step "approve-lowering" "${AS_A[@]}" catalog approve-lowering press-line
has '^event +classify.approved id=press-line by=alpha-svc level=1 class=general domain=unchanged$' \
    "approve-lowering prints its event"
run "${AS_C[@]}" catalog show press-line
has '^level +1$' "show: lowered to level 1"
has '^class +general$' "show: lowered to general"
has '^domain +rd$' "show: the domain kept"
has '^pending +-$' "show: nothing pending after the approval"
expect_refused TDEI_NOTHING_PENDING 'no lowering is pending' \
    "approve-lowering with nothing pending" \
    "${AS_A[@]}" catalog approve-lowering press-line

# ---- search --------------------------------------------------------------------------
# ids: the ids of the last search's table rows (or --json hits), in order.
ids() { awk '/^ID / {t = 1; next} t && NF > 2 && $2 ~ /^[0-9]+$/ {printf "%s ", $1}' "$OUT"; }
json_ids() { grep -oE '^      "id": "[a-z0-9-]+"' "$OUT" | cut -d'"' -f4 | tr '\n' ' '; }
run "${AS_C[@]}" catalog search press
[ "$(ids)" = "press-line press-feed " ] && ok "search: a word, best match first" ||
    fail "search press: ids '$(ids)'"
has '^press-line +5 +dataset L1/general +active +beta-mfg +150 one_time +Press line 4$' \
    "search: the row of an entry"
has '^2 of 2 matches from offset 0 at height [0-9]+$' "search: the count"
run "${AS_C[@]}" --json catalog search press
[ "$(json_ids)" = "press-line press-feed " ] && ok "search --json: the same ids" ||
    fail "search --json: ids '$(json_ids)'"
json_has '"total":2,' "search --json: the total"
run "${AS_C[@]}" catalog search force
[ "$(ids)" = "press-line " ] && ok "search: a word of the description" ||
    fail "search force: ids '$(ids)'"
run "${AS_C[@]}" catalog search press --kind stream
[ "$(ids)" = "press-feed " ] && ok "search: a word and a filter" ||
    fail "search press --kind stream: ids '$(ids)'"

# ---- ownership -------------------------------------------------------------------
step "offer" "${AS_B[@]}" catalog offer press-line --to gamma-plat
run "${AS_C[@]}" catalog show press-line
has '^offer to +gamma-plat$' "show: the offer"
has '^owner +beta-mfg$' "show: an offer alone changes no owner"
step "cancel-offer" "${AS_B[@]}" catalog cancel-offer press-line
run "${AS_C[@]}" catalog show press-line
has '^offer to +-$' "show: the offer is gone"
expect_refused TDEI_NOTHING_PENDING 'no offer is open' "accept without an offer" \
    "${AS_C[@]}" catalog accept press-line
step "offer again" "${AS_B[@]}" catalog offer press-line --to gamma-plat
step "accept" "${AS_C[@]}" catalog accept press-line
has '^event +ownership.accepted id=press-line by=gamma-plat from=beta-mfg to=gamma-plat$' \
    "accept prints its event"
run "${AS_C[@]}" catalog show press-line
has '^owner +gamma-plat$' "show: the new owner"
has '^publisher +beta-mfg$' "show: the publisher stays"
has '^offer to +-$' "show: the offer is consumed"
expect_refused TDEI_NOT_OWNER 'gamma-plat' "the former owner cannot withdraw" \
    "${AS_B[@]}" catalog withdraw press-line

# ---- withdraw ------------------------------------------------------------------------
step "withdraw" "${AS_C[@]}" catalog withdraw press-line
run "${AS_C[@]}" catalog show press-line
has '^status +withdrawn$' "show: withdrawn"
expect_refused TDEI_DATASET_STATE 'already withdrawn' "withdraw twice" \
    "${AS_C[@]}" catalog withdraw press-line
expect_refused TDEI_DATASET_EXISTS 'the id press-line is taken' \
    "a withdrawn id is never reused" "${AS_B[@]}" "${PUB[@]}"
run "${AS_C[@]}" catalog search press
[ "$(ids)" = "press-feed " ] && ok "search: a withdrawn entry is gone" ||
    fail "search press after withdraw: ids '$(ids)'"
run "${AS_C[@]}" catalog search press --status withdrawn
[ "$(ids)" = "press-line " ] && ok "search --status withdrawn finds it" ||
    fail "search --status withdrawn: ids '$(ids)'"
has '^press-line +5 +dataset L1/general +withdrawn +gamma-plat ' \
    "search: the withdrawn row and its owner"
expect_fail_with 'catalog entry no-such-entry is not on the ledger \(TDEI_NOTFOUND\)' \
    "show of an unknown entry" "${AS_A[@]}" catalog show no-such-entry
[ "$status" -eq 1 ] && ok "show of an unknown entry exits 1" || fail "exit $status"
finish
