#!/usr/bin/env bash
# tdei member: usage refusals, --help, and against a real node with four
# members: list, show, params, a params proposal passing through votes,
# proposal show and list, key rotation, an add that passes and a suspend
# that fails, and explicit nonces.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
source "$TDEI_SRCDIR/tests/cli/net.sh"

H64=$(printf 'ab%.0s' $(seq 1 32))
BADKEY=$(printf 'ff%.0s' $(seq 1 32)) # above the field size: no point

# ---- help ------------------------------------------------------------------
for cmd in "member list" "member show" "member propose add" \
    "member propose remove" "member propose suspend" \
    "member propose key-change" "member propose params" "member vote" \
    "member proposal show" "member proposal list" "member rotate-key" \
    "member params"; do
    # shellcheck disable=SC2086
    expect_help $cmd
done
expect_out '^  propose ' "member --help lists the commands" "$TDEI_BIN" member --help
expect_out '^  key-change ' "member propose --help lists the kinds" \
    "$TDEI_BIN" member propose --help
expect_out 'above 2/3 of the voting' "vote --help explains the thresholds" \
    "$TDEI_BIN" member vote --help

# ---- usage refusals (no node needed) --------------------------------------------
net_create || fail "net_create"
expect_usage 'usage: tdei member COMMAND' "member alone" "${AS_A[@]}" member
expect_usage "unknown command 'member bogus'" "an unknown command" "${AS_A[@]}" member bogus
expect_usage 'missing operand: give MEMBER' "show needs a member" "${AS_A[@]}" member show
expect_usage "MEMBER 'Bad_Id' is not a member id" "show checks the id" \
    "${AS_A[@]}" member show Bad_Id
expect_usage "unexpected argument 'two'" "show takes one member" \
    "${AS_A[@]}" member show one-x two
expect_usage "unexpected argument 'x'" "list takes no operand" "${AS_A[@]}" member list x
expect_usage "unknown option '--bogus'" "an unknown option" "${AS_A[@]}" member list --bogus
expect_usage 'usage: tdei member propose COMMAND' "propose alone" "${AS_A[@]}" member propose
expect_usage 'missing operand: give NAME VALUE' "propose params needs both" \
    "${AS_A[@]}" member propose params approve_ttl
expect_usage "no governable param is named 'nope'.*member params" \
    "propose params checks the name" "${AS_A[@]}" member propose params nope 1
expect_usage 'approve_ttl 0 is outside 1-31536000' "propose params checks the range" \
    "${AS_A[@]}" member propose params approve_ttl 0
expect_usage "VALUE 'soon' is not a whole number" "propose params checks the number" \
    "${AS_A[@]}" member propose params approve_ttl soon
expect_usage 'level1.roles 1 is outside 0-30, an even mask' "a roles mask names roles" \
    "${AS_A[@]}" member propose params level1.roles 1
expect_usage 'give --member, --role, --node-key, --operator-key and --encryption-key, or --from-home' \
    "propose add needs the member" "${AS_A[@]}" member propose add --name x
expect_usage "--role 'boss' is not one of public_service, platform, manufacturer or auditor" \
    "propose add checks the role" "${AS_A[@]}" member propose add --role boss
expect_usage "--node-key 'zz' is not 64 hex digits" "propose add checks hex" \
    "${AS_A[@]}" member propose add --node-key zz
expect_usage '--node-key is not a valid x-only secp256k1 public key' \
    "propose add checks the curve" "${AS_A[@]}" member propose add --member new-one \
    --role platform --node-key "$BADKEY" --operator-key "$BADKEY" --encryption-key "$H64"
expect_usage "--member 'X' is not a member id" "propose add checks the id" \
    "${AS_A[@]}" member propose add --member X --role platform --node-key "$H64" \
    --operator-key "$H64" --encryption-key "$H64"
expect_usage 'tx member_propose adds an auditor as a validator' \
    "the ledger's own field rules run before signing" \
    "${AS_A[@]}" member propose add --from-home "$D" --member new-aud --validator
expect_usage 'give the MEMBER concerned' "propose remove needs a member" \
    "${AS_A[@]}" member propose remove
expect_usage "MEMBER 'beta-mfg' and --member 'gamma-plat' differ" \
    "one member only" "${AS_A[@]}" member propose suspend beta-mfg --member gamma-plat
expect_usage 'give --node-key HEX, --encryption-key HEX or both' \
    "key-change needs a key" "${AS_A[@]}" member propose key-change beta-mfg
expect_usage "unknown option '--node-key'" "remove takes no key" \
    "${AS_A[@]}" member propose remove beta-mfg --node-key "$H64"
expect_usage 'missing operand: give PROPOSAL-ID' "vote needs an id" \
    "${AS_A[@]}" member vote --approve
expect_usage "PROPOSAL-ID 'abc' is not 64 hex digits" "vote checks the id" \
    "${AS_A[@]}" member vote abc --approve
expect_usage 'give --approve or --reject' "vote needs a side" "${AS_A[@]}" member vote "$H64"
expect_usage 'give --approve or --reject' "vote takes one side" \
    "${AS_A[@]}" member vote "$H64" --approve --reject
expect_usage "PROPOSAL-ID 'xyz' is not 64 hex digits" "proposal show checks the id" \
    "${AS_A[@]}" member proposal show xyz
expect_usage 'give --add KEYHEX, --remove KEYHEX or both' "rotate-key needs a key" \
    "${AS_A[@]}" member rotate-key
expect_usage '--add and --remove name the same key' "rotate-key keys differ" \
    "${AS_A[@]}" member rotate-key --add "$H64" --remove "$H64"
expect_usage '--nonce 0 is below 1' "a zero nonce" \
    "${AS_A[@]}" member propose params approve_ttl 100 --nonce 0
expect_usage '--timeout-ms 999999 is outside 1-120000' "a long wait" \
    "${AS_A[@]}" member propose params approve_ttl 100 --timeout-ms 999999
expect_usage "option '--nonce' needs a value" "a missing value" \
    "${AS_A[@]}" member propose params approve_ttl 100 --nonce
expect_fail_with 'cannot connect to .*api.sock.*is tdei-node running' \
    "without a node: says how to fix it" "${AS_A[@]}" member list

# ---- against a node ------------------------------------------------------------
node_start "$A" && ok "tdei-node starts" || fail "tdei-node did not start"
expect_out '^alpha-svc +public_service +active +yes' "member list: the validator" \
    "${AS_A[@]}" member list
grep -qE '^delta-aud +auditor +active +no' "$OUT" && ok "member list: the auditor" ||
    fail "member list: no auditor row"
grep -qE '^4 members at height 0$' "$OUT" && ok "member list counts" || fail "member list count"
expect_out '"id": "gamma-plat"' "member list --json" "${AS_A[@]}" --json member list
expect_out '^role +manufacturer$' "member show" "${AS_B[@]}" member show beta-mfg
grep -cE '^operator key +[0-9a-f]{64}$' "$OUT" | grep -qx 1 && ok "member show: one operator key" ||
    fail "member show: operator keys"
expect_fail_with 'member nobody-here is not on the ledger \(TDEI_NOTFOUND\)' \
    "member show of nobody" "${AS_A[@]}" member show nobody-here
[ "$status" -eq 1 ] && ok "member show of nobody exits 1" || fail "exit $status"
expect_out '^approve_ttl +7200 +1-31536000 +blocks a request waits' "member params" \
    "${AS_A[@]}" member params
[ "$(grep -cE '^(level[123]\.|[a-z_]+ +[0-9])' "$OUT")" -eq 21 ] &&
    ok "member params shows all 21 params" || fail "member params count"
expect_out '"name": "level3.approval"' "member params --json" "${AS_A[@]}" --json member params

# A params proposal: 3 voters, so it passes at the third approval.
expect_out '^result +applied$' "propose params" \
    "${AS_A[@]}" member propose params approve_ttl 100
pid=$(awk '$1 == "proposal" {print $2}' "$OUT")
[[ "$pid" =~ ^[0-9a-f]{64}$ ]] && ok "the proposal id is printed" || fail "no proposal id"
expect_out '^status +open$' "proposal show: open" "${AS_A[@]}" member proposal show "$pid"
grep -qE '^approvals +1: alpha-svc$' "$OUT" && ok "the proposer approves" || fail "approvals"
grep -qE '^voters +3 now: passes at 3 approvals, fails at 1 rejections$' "$OUT" &&
    ok "proposal show gives the thresholds" || fail "thresholds"
grep -qE '^expires +1001 ' "$OUT" && ok "proposal show: expiry" || fail "expiry"
expect_out '^result +applied$' "beta approves" "${AS_B[@]}" member vote "$pid" --approve
expect_out '^approvals +2: alpha-svc, beta-mfg$' "two approvals" \
    "${AS_A[@]}" member proposal show "$pid"
expect_refused TDEI_NOT_VOTER 'delta-aud is an auditor' "an auditor cannot vote" \
    "${AS_D[@]}" member vote "$pid" --approve
expect_out 'outcome=passed' "gamma's approval passes it" \
    "${AS_C[@]}" member vote "$pid" --approve
expect_out '^status +passed$' "proposal show: passed" "${AS_A[@]}" member proposal show "$pid"
expect_out '^approve_ttl +100 ' "the param changed" "${AS_A[@]}" member params
expect_refused TDEI_PROPOSAL_CLOSED 'already passed' "a decided proposal takes no vote" \
    "${AS_B[@]}" member vote "$pid" --reject
expect_out '"status": "passed"' "proposal show --json" \
    "${AS_A[@]}" --json member proposal show "$pid"
expect_fail_with "member proposal $H64 is not on the ledger" "an unknown proposal" \
    "${AS_A[@]}" member proposal show "$H64"
expect_refused TDEI_UNKNOWN_PROPOSAL '' "a vote on nothing" \
    "${AS_B[@]}" member vote "$H64" --approve

# Key rotation without a vote.
"$TDEI_BIN" keys new --out "$T/extra.key" >/dev/null
extra=$("$TDEI_BIN" --json keys show --key "$T/extra.key" |
    sed -n 's/.*"public": "\([0-9a-f]*\)".*/\1/p')
expect_out 'member.key_rotate member=beta-mfg keys=2' "rotate-key --add" \
    "${AS_B[@]}" member rotate-key --add "$extra"
expect_out "^operator key +$extra\$" "the key is on the member" \
    "${AS_A[@]}" member show beta-mfg
own=$("$TDEI_BIN" --json --home "$B" keys show --key operator |
    sed -n 's/.*"public": "\([0-9a-f]*\)".*/\1/p')
expect_refused TDEI_SIGNING_KEY '' "the signing key stays" \
    "${AS_B[@]}" member rotate-key --remove "$own"
expect_out 'keys=1' "rotate-key --remove" "${AS_B[@]}" member rotate-key --remove "$extra"

# An add that passes, a suspend that fails.
"$TDEI_BIN" --home "$T/eps" init --member eps-mfg --role manufacturer >/dev/null
expect_out '^result +applied$' "propose add --from-home" \
    "${AS_A[@]}" member propose add --from-home "$T/eps" --name "Eps Works"
add=$(awk '$1 == "proposal" {print $2}' "$OUT")
expect_out '^name +Eps Works$' "the add proposal shows the name" \
    "${AS_A[@]}" member proposal show "$add"
"${AS_B[@]}" member vote "$add" --approve >/dev/null
expect_out 'outcome=passed' "the add passes" "${AS_C[@]}" member vote "$add" --approve
expect_out '^eps-mfg +manufacturer +active +no +Eps Works$' "the new member is listed" \
    "${AS_A[@]}" member list
expect_out '^result +applied$' "propose suspend" \
    "${AS_A[@]}" member propose suspend gamma-plat
sus=$(awk '$1 == "proposal" {print $2}' "$OUT")
expect_out 'outcome=open' "one rejection of four voters is not enough" \
    "${AS_B[@]}" member vote "$sus" --reject
expect_out 'outcome=failed' "two rejections of four voters fail it" \
    "${AS_C[@]}" member vote "$sus" --reject
expect_out "^$sus +suspend +gamma-plat +failed +1 +2 " "proposal list" \
    "${AS_A[@]}" member proposal list
expect_out '^gamma-plat +platform +active' "gamma stays active" "${AS_A[@]}" member list
expect_out '"proposal_id": "[0-9a-f]{64}"' "propose --json names the proposal id" \
    "${AS_A[@]}" --json member propose suspend eps-mfg
grep -qE '"code_name": "TDEI_OK|"code": 0' "$OUT" && ok "propose --json gives the code" ||
    fail "propose --json: no code"

# Back-to-back txs with explicit nonces: alpha has sent 4 txs so far.
expect_out '^nonce +5$' "--nonce with --no-wait" \
    "${AS_A[@]}" member propose remove delta-aud --nonce 5 --no-wait
expect_out '^nonce +6$' "the next nonce right after" \
    "${AS_A[@]}" member propose key-change delta-aud --encryption-key "$H64" --nonce 6 --no-wait
for _ in $(seq 1 100); do
    "${AS_A[@]}" member proposal list 2>/dev/null | grep -q '^6 proposals' && break
    sleep 0.05
done
expect_out '^6 proposals at height' "both committed" "${AS_A[@]}" member proposal list
expect_fail_with 'TDEI_NONCE_USED' "a used nonce is refused" \
    "${AS_A[@]}" member propose remove delta-aud --nonce 5
finish
