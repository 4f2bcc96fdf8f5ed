#!/usr/bin/env bash
# tdei exchange and tdei account: usage refusals, --help, and against a
# real node: four exchanges taken through every op (request, approve,
# deliver with a raw or a sealed key from --sealed-key or --key-file,
# confirm, reject, dispute, resolve both ways, revoke by the regulator and
# by both parties), checked through what exchange show and list (table and
# --json), account escrow and account show then print; the ledger's
# refusals exit 1 with the reason; a raw key cannot be sealed without its
# exchange.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

X=$(printf 'ab%.0s' $(seq 1 32))          # an exchange id nobody made
ROOT=$(printf 'cd%.0s' $(seq 1 32))
ROOT2=$(printf 'ce%.0s' $(seq 1 32))
KEY=$(printf '11%.0s' $(seq 1 32))        # a raw 32-byte content key
SEALED=$(printf '22%.0s' $(seq 1 80))     # an 80-byte sealed key

# ---- help ------------------------------------------------------------------
for cmd in request approve reject deliver confirm dispute resolve revoke \
    show list; do
    expect_help exchange "$cmd"
done
expect_help account show
expect_help account escrow
expect_out '^  escrow +show the escrow of an exchange' "account --help lists escrow" \
    "$TDEI_BIN" account --help
expect_out '^  resolve +resolve a dispute' "exchange --help lists the commands" \
    "$TDEI_BIN" exchange --help

# ---- usage refusals --------------------------------------------------------------
net_create || fail "net_create"
expect_usage 'usage: tdei exchange COMMAND' "exchange alone" "${AS_C[@]}" exchange
expect_usage '--price N is required' "request needs the price" \
    "${AS_C[@]}" exchange request press-line
expect_usage 'missing operand: give ENTRY' "request needs an entry" \
    "${AS_C[@]}" exchange request --price 5
expect_usage "ENTRY 'Press' is not an entry id" "request checks the entry" \
    "${AS_C[@]}" exchange request Press --price 5
expect_usage "--budget '-1' is not a whole number" "request checks the budget" \
    "${AS_C[@]}" exchange request press-line --price 5 --budget -1
expect_usage 'tx exchange_request purpose .*(longer|bytes)' "the ledger's purpose rule" \
    "${AS_C[@]}" exchange request press-line --price 5 --purpose "$(printf 'p%.0s' $(seq 1 300))"
expect_usage "EXCHANGE-ID 'abc' is not 64 hex digits" "approve checks the id" \
    "${AS_B[@]}" exchange approve abc
expect_usage "unexpected argument 'more'" "approve takes one id" \
    "${AS_B[@]}" exchange approve "$X" more
expect_usage "unknown option '--reason'" "confirm takes no reason" \
    "${AS_C[@]}" exchange confirm "$X" --reason late
expect_usage '--content-root, --nonce, --no-wait and --passphrase-file go with --sealed-key or --key-file' \
    "deliver without a key (the node's) takes no root" "${AS_B[@]}" exchange deliver "$X" \
    --content-root "$ROOT"
expect_usage 'give the content key as --sealed-key HEX or --key-file FILE, not both' \
    "deliver takes one key" "${AS_B[@]}" exchange deliver "$X" --sealed-key "$KEY" \
    --key-file /nonexistent
expect_usage '--sealed-key is neither 64 hex digits \(a content key\) nor 160' \
    "deliver checks the key length" "${AS_B[@]}" exchange deliver "$X" --sealed-key abcd
expect_fail_with 'cannot open the key file /nonexistent/key' "deliver: a missing key file" \
    "${AS_B[@]}" exchange deliver "$X" --key-file /nonexistent/key
printf 'not a key\n' >"$T/bad.key"
expect_usage 'holds neither a 32-byte content key nor an 80-byte sealed key' \
    "deliver: a key file of the wrong size" "${AS_B[@]}" exchange deliver "$X" \
    --key-file "$T/bad.key"
expect_usage "--content-root 'zz' is not 64 hex digits" "deliver checks the root" \
    "${AS_B[@]}" exchange deliver "$X" --sealed-key "$SEALED" --content-root zz
expect_usage '--reason TEXT is required' "dispute needs a reason" \
    "${AS_C[@]}" exchange dispute "$X"
expect_usage 'give --refund or --pay-owner' "resolve needs an outcome" \
    "${AS_A[@]}" exchange resolve "$X"
expect_usage 'give --refund or --pay-owner' "resolve takes one outcome" \
    "${AS_A[@]}" exchange resolve "$X" --refund --pay-owner
expect_usage 'missing operand: give EXCHANGE-ID' "revoke needs an id" \
    "${AS_A[@]}" exchange revoke --reason misuse
expect_usage "EXCHANGE-ID 'xyz' is not 64 hex digits" "show checks the id" \
    "${AS_A[@]}" exchange show xyz
expect_usage "--status 'open' is not one of requested, approved, delivered, settled" \
    "list checks the status" "${AS_A[@]}" exchange list --status open
expect_usage "--member 'B' is not a member id" "list checks the member" \
    "${AS_A[@]}" exchange list --member B
expect_usage "EXCHANGE-ID '12' is not 64 hex digits" "account escrow checks the id" \
    "${AS_A[@]}" account escrow 12
expect_usage 'missing operand: give EXCHANGE-ID' "account escrow needs an id" \
    "${AS_A[@]}" account escrow
expect_usage "MEMBER 'X' is not a member id" "account show checks the member" \
    "${AS_A[@]}" account show X

# ---- against a node ------------------------------------------------------------
node_start "$A" && ok "tdei-node starts" || fail "tdei-node did not start"
expect_out '^0 exchanges at height [0-9]+$' "list with no exchanges" \
    "${AS_A[@]}" exchange list
expect_out '"exchanges": \[\]' "list --json" "${AS_A[@]}" --json exchange list \
    --member gamma-plat --status settled
# param NAME: the value of a ledger parameter.
param() { "${AS_A[@]}" member params | awk -v n="$1" '$1 == n {print $2}'; }
approve_ttl=$(param approve_ttl)
deliver_ttl=$(param deliver_ttl)
confirm_ttl=$(param confirm_ttl)
l1_ttl=$(param level1.grant_ttl)
# beta-mfg's two datasets: level 2 (the owner approves) and level 1 (automatic).
step "publish press-line (level 2)" "${AS_B[@]}" catalog publish --id press-line \
    --kind dataset --title "Press line 4" --domain production --level 2 \
    --class important --price-model one_time --price 120 --content-root "$ROOT"
step "publish press-l1 (level 1)" "${AS_B[@]}" catalog publish --id press-l1 \
    --kind dataset --title "Press line 1" --domain production --level 1 \
    --class general --price-model one_time --price 30 --content-root "$ROOT2"

# ---- request ---------------------------------------------------------------------
expect_refused TDEI_PRICE_MISMATCH \
    'exchange_request expects 100 credits; the catalog price of press-line is 120' \
    "a wrong price names both figures" "${AS_C[@]}" exchange request press-line \
    --price 100 --purpose "line tuning"
balance gamma-plat 500 "after a refused request"
step "request" "${AS_C[@]}" exchange request press-line --price 120 \
    --purpose "line tuning" --grant-ttl 100
X1=$(last_tx)
h=$(last_height)
has "^exchange +$X1\$" "request prints the exchange id: its tx id"
has "^event +exchange.requested id=$X1 dataset=press-line by=gamma-plat escrow=120 " \
    "request prints its event"
balance gamma-plat 380 "after the request"
run "${AS_A[@]}" account escrow "$X1"
has "^exchange +$X1\$" "account escrow: the id"
has '^escrow +120$' "account escrow: the price"
has '^consumer +gamma-plat$' "account escrow: the consumer"
has '^status +requested$' "account escrow: the status"
run "${AS_A[@]}" --json account escrow "$X1"
json_has '{"exchange":"'"$X1"'","escrow":120,"consumer":"gamma-plat","status":"requested",' \
    "account escrow --json"
run "${AS_A[@]}" exchange show "$X1"
has '^entry +press-line \(dataset, version 1\)$' "show: the entry and its version"
has "^content root +$ROOT\$" "show: the root requested"
has '^consumer +gamma-plat$' "show: the consumer"
has '^owner +beta-mfg \(at request\)$' "show: the owner"
has '^status +requested$' "show: requested"
has '^escrow +120 \(escrow account 120\)$' "show: the escrow"
has '^purpose +line tuning$' "show: the purpose"
has '^approvals +owner missing, regulator not needed$' "show: the owner's approval missing"
has "^deadline +height $((h + approve_ttl)) for the approval; open\$" \
    "show: the approval deadline"
has '^grant +100 blocks$' "show: the grant length asked for"
run "${AS_A[@]}" exchange list --member gamma-plat
has "^$X1 +press-line +gamma-plat +beta-mfg +requested +120 +120 +$((h + approve_ttl))\$" \
    "list --member: the row"
has '^1 exchanges at height [0-9]+$' "list --member: the count"

# ---- approve, deliver a raw key, confirm, revoke by both parties -------------
expect_refused TDEI_NOT_PARTY \
    "level 2 needs the owner's approval \(beta-mfg\); 0 of 1 approvals present" \
    "the consumer does not approve" "${AS_C[@]}" exchange approve "$X1"
step "approve" "${AS_B[@]}" exchange approve "$X1"
h=$(last_height)
has "^event +exchange.approved id=$X1 dataset=press-line by=beta-mfg approvals=1 of 1 "\
"status=approved\$" "approve prints 1 of 1 approvals"
run "${AS_A[@]}" exchange show "$X1"
has '^status +approved$' "show: approved"
has '^approvals +owner given by beta-mfg, regulator not needed$' "show: the owner's approval"
has "^deadline +height $((h + deliver_ttl)) for the delivery; open\$" \
    "show: the delivery deadline"
step "request a second time" "${AS_C[@]}" exchange request press-line --price 120 \
    --purpose "second line"
X2=$(last_tx)
balance gamma-plat 260 "after the second request"
run "${AS_A[@]}" exchange list --status requested
has "^$X2 +press-line +gamma-plat +beta-mfg +requested " "list --status: the requested one"
hasnt "^$X1 " "list --status: not the approved one"
run "${AS_A[@]}" --json exchange list --member beta-mfg --status approved
json_has "\"exchanges\":[{\"id\":\"$X1\",\"entry\":\"press-line\"," "list --json: the approved one"
[ "$(grep -c '"id":' "$OUT")" -eq 1 ] && ok "list --json: only that one" ||
    fail "list --json: $(grep -c '"id":' "$OUT") exchanges"
step "deliver a raw key with --sealed-key" "${AS_B[@]}" exchange deliver "$X1" \
    --sealed-key "$KEY" --content-root "$ROOT"
h=$(last_height)
run "${AS_A[@]}" exchange show "$X1"
has '^status +delivered$' "show: delivered"
has '^sealed key +[0-9a-f]{160}$' "show: the raw key went out sealed (80 bytes)"
hasnt "$KEY" "show: the raw key is not on the ledger"
has "^delivered root +$ROOT\$" "show: the delivered root"
has "^delivered +height $h\$" "show: the delivery height"
has "^deadline +height $((h + confirm_ttl)) for the confirmation \(then the owner is paid\); "\
"open\$" "show: the confirmation deadline"
step "confirm" "${AS_C[@]}" exchange confirm "$X1"
h=$(last_height)
run "${AS_A[@]}" exchange show "$X1"
has '^status +settled$' "show: settled"
has '^escrow +0 \(escrow account 0\)$' "show: escrow 0"
has "^grant +100 blocks, live through height $((h + 100)) \(live now\)\$" "show: the grant"
has '^deadline +-$' "show: no deadline once settled"
expect_out '^escrow +0$' "account escrow: 0 once settled" "${AS_A[@]}" account escrow "$X1"
balance beta-mfg 620 "after the confirm"
balance gamma-plat 260 "after the confirm"
expect_refused TDEI_NOT_PARTY '' "an auditor does not revoke" \
    "${AS_D[@]}" exchange revoke "$X1"
step "revoke by the owner" "${AS_B[@]}" exchange revoke "$X1" --reason "contract ended"
has "^event +grant.revoke_consent id=$X1 " "the owner's revoke is a consent"
run "${AS_A[@]}" exchange show "$X1"
has '^status +settled$' "show: one consent leaves the grant settled"
has '^revoke consent +owner yes, consumer no$' "show: the owner's consent"
has '^note +contract ended$' "show: the reason"
step "revoke by the consumer" "${AS_C[@]}" exchange revoke "$X1"
has "^event +grant.revoked id=$X1 " "the second consent revokes"
run "${AS_A[@]}" exchange show "$X1"
has '^status +revoked$' "show: revoked"
has '^revoke consent +owner yes, consumer yes$' "show: both consents"

# ---- reject ------------------------------------------------------------------------
step "reject" "${AS_B[@]}" exchange reject "$X2" --reason "not now"
h=$(last_height)
run "${AS_A[@]}" exchange show "$X2"
has '^status +rejected$' "show: rejected"
has '^escrow +0 \(escrow account 0\)$' "show: a rejection empties the escrow"
has '^note +not now$' "show: the rejection's reason"
has "^closed +height $h\$" "show: the closing height"
balance gamma-plat 380 "after the rejection"

# ---- dispute, resolve --refund (a raw key from a file) -----------------------
step "request press-l1" "${AS_C[@]}" exchange request press-l1 --price 30
X3=$(last_tx)
run "${AS_A[@]}" exchange show "$X3"
has '^status +approved$' "show: level 1 is approved at once"
has '^approvals +owner not needed, regulator not needed$' "show: no approval needed"
printf '%s\n' "$KEY" >"$T/content.key"
step "deliver a raw key with --key-file" "${AS_B[@]}" exchange deliver "$X3" \
    --key-file "$T/content.key" --content-root "$ROOT2"
run "${AS_A[@]}" exchange show "$X3"
has '^sealed key +[0-9a-f]{160}$' "show: the key from the file went out sealed"
step "dispute" "${AS_C[@]}" exchange dispute "$X3" --reason "root differs"
run "${AS_A[@]}" exchange show "$X3"
has '^status +disputed$' "show: disputed"
has '^escrow +30 \(escrow account 30\)$' "show: a dispute holds the escrow"
has '^deadline +-$' "show: a dispute has no deadline"
has '^note +root differs$' "show: the dispute's reason"
balance gamma-plat 350 "during the dispute"
expect_refused TDEI_ROLE 'public_service' "only public_service resolves" \
    "${AS_B[@]}" exchange resolve "$X3" --pay-owner
step "resolve --refund" "${AS_A[@]}" exchange resolve "$X3" --refund
run "${AS_A[@]}" exchange show "$X3"
has '^status +refunded$' "show: refunded"
has '^escrow +0 \(escrow account 0\)$' "show: the refund empties the escrow"
balance gamma-plat 380 "after the refund"

# ---- dispute, resolve --pay-owner (a sealed key from a file), revoke ------------
step "request press-l1 again" "${AS_C[@]}" exchange request press-l1 --price 30
X4=$(last_tx)
printf '%s\n' "$SEALED" >"$T/sealed.key"
step "deliver a sealed key with --key-file" "${AS_B[@]}" exchange deliver "$X4" \
    --key-file "$T/sealed.key" --content-root "$ROOT2"
run "${AS_A[@]}" exchange show "$X4"
has "^sealed key +$SEALED\$" "show: a sealed key is kept as given"
step "dispute again" "${AS_C[@]}" exchange dispute "$X4" --reason "slow"
step "resolve --pay-owner" "${AS_A[@]}" exchange resolve "$X4" --pay-owner \
    --reason "delivered as published"
h=$(last_height)
run "${AS_A[@]}" exchange show "$X4"
has '^status +settled$' "show: settled by the resolution"
has '^escrow +0 \(escrow account 0\)$' "show: the owner was paid from escrow"
has '^note +delivered as published$' "show: the resolution's reason"
has "^grant +$l1_ttl blocks, live through height $((h + l1_ttl)) \(live now\)\$" \
    "show: the longest level 1 grant is live"
balance beta-mfg 650 "after the resolution"
balance gamma-plat 350 "after the resolution"
step "revoke by the regulator" "${AS_A[@]}" exchange revoke "$X4" --reason misuse
has "^event +grant.revoked id=$X4 dataset=press-l1 by=alpha-svc " "the regulator revokes at once"
run "${AS_A[@]}" exchange show "$X4"
has '^status +revoked$' "show: revoked by the regulator"
has '^revoke consent +owner no, consumer no$' "show: no consents were needed"

# ---- lists and the books -----------------------------------------------------------
run "${AS_A[@]}" exchange list --status revoked
[ "$(awk 'NR > 1 && NF == 8 {print $1}' "$OUT" | sort | tr '\n' ' ')" = \
    "$(printf '%s\n' "$X1" "$X4" | sort | tr '\n' ' ')" ] &&
    ok "list --status revoked: both revoked exchanges" || fail "list --status revoked"
has '^2 exchanges at height [0-9]+$' "list --status: the count"
run "${AS_A[@]}" exchange list --member gamma-plat --status refunded
has "^$X3 +press-l1 +gamma-plat +beta-mfg +refunded +30 +0 +0\$" \
    "list --member --status: the refunded one"
has '^1 exchanges at height' "list --member --status: only that one"
expect_out '^0 exchanges at height' "list --member of an outsider" \
    "${AS_A[@]}" exchange list --member delta-aud
balance alpha-svc 1000 "at the end"
balance delta-aud 0 "at the end"
expect_fail_with "exchange $X is not on the ledger \(TDEI_NOTFOUND\)" \
    "a raw key is sealed to the exchange's consumer: it must exist" \
    "${AS_B[@]}" exchange deliver "$X" --sealed-key "$KEY" --content-root "$ROOT"
[ "$status" -eq 1 ] && ok "that exits 1" || fail "exit $status"
expect_fail_with "exchange $X is not on the ledger \(TDEI_NOTFOUND\)" \
    "show of an unknown exchange" "${AS_A[@]}" exchange show "$X"
expect_out '^balance +1000$' "account show of the home's member" "${AS_A[@]}" account show
expect_out '"role": "auditor"' "account show --json" "${AS_A[@]}" --json account show delta-aud
expect_fail_with "exchange $X is not on the ledger \(TDEI_NOTFOUND\)" \
    "account escrow of an unknown exchange" "${AS_A[@]}" account escrow "$X"
[ "$status" -eq 1 ] && ok "that exits 1" || fail "exit $status"
finish
