#!/usr/bin/env bash
# The exchange rules end to end on one node, through the real tdei CLI
# (DESIGN.md section 6): governance admits members (approval, rejection
# and expiry), datasets are published at levels 1-3, requests go through
# automatic, owner and owner + regulator approval, refusals (an auditor, a
# price mismatch, missing funds) leave balances alone, escrow settles,
# refunds on rejection and expiry, a dispute resolved by the regulator, an
# ownership transfer with revenue following the owner, lineage with and
# without a license, a lowering with and without the regulator, a core
# entry held back without the regulator, a grant revoked by the regulator,
# and a stream with a stale batch refused and a subscription charged per
# record. After every step the balances of every member and the state of
# the objects involved are checked exactly.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"

G=$T/gov      # gov-svc: public_service, the validator and the regulator
P=$T/plat     # plat-a: platform
M=$T/mfg      # mfg-a: manufacturer, publishes the datasets
U=$T/audit    # aud-a: auditor
MB=$T/mfgb    # mfg-b, plat-b, mfg-c: admitted by governance
PB=$T/platb
MC=$T/mfgc
BAD=$T/bad    # bad-co: rejected by governance
LATE=$T/late  # late-co: its proposal expires
SOCK=$G/api.sock

# as HOME ARGS...: the tdei command signed by HOME's operator key.
as() {
    local home=$1
    shift
    "$TDEI_BIN" --home "$home" --node "$SOCK" "$@"
}

# The expected balance of every member, and the members to check.
declare -A BAL
MEMBERS=(gov-svc plat-a mfg-a aud-a)

# balances NAME: every member's balance is its expected one.
balances() {
    local m bad=""
    for m in "${MEMBERS[@]}"; do
        local got
        got=$(as "$G" account show "$m" | awk '$1 == "balance" {print $2}')
        if [ "$got" != "${BAL[$m]}" ]; then
            bad="$bad $m=$got(want ${BAL[$m]})"
        fi
    done
    if [ -z "$bad" ]; then
        ok "balances after: $1"
    else
        fail "balances after: $1:$bad"
    fi
}

# xstate XID STATUS ESCROW NAME: the exchange's status and escrow.
xstate() {
    local xid=$1 want_status=$2 want_escrow=$3 name=$4
    run as "$G" exchange show "$xid"
    if [ "$status" -eq 0 ] && grep -qE "^status +$want_status\$" "$OUT" &&
        grep -qE "^escrow +$want_escrow \(escrow account $want_escrow\)\$" \
            "$OUT"; then
        ok "$name"
    else
        fail "$name (wanted status $want_status, escrow $want_escrow)"
    fi
}

# field HOME-ARGS... : helpers for one line of `show` output.
shows() {
    local pattern=$1 name=$2
    shift 2
    expect_out "$pattern" "$name" "$@"
}

# tick N: N blocks (each a 1-credit transfer from gov-svc to aud-a).
tick() {
    for _ in $(seq 1 "$1"); do
        as "$G" tx transfer --to aud-a --amount 1 >/dev/null 2>&1
        BAL[gov-svc]=$((BAL[gov-svc] - 1))
        BAL[aud-a]=$((BAL[aud-a] + 1))
    done
}

height() { as "$G" status | awk '$1 == "height" {print $2}'; }

R1=$(printf '1%.0s' $(seq 1 64))   # content roots
R2=$(printf '2%.0s' $(seq 1 64))
R3=$(printf '3%.0s' $(seq 1 64))
R4=$(printf '4%.0s' $(seq 1 64))
RX=$(printf 'e%.0s' $(seq 1 64))   # a root nobody published
KEY=$(printf '5a%.0s' $(seq 1 32)) # a content key, sealed by the CLI

# ---- the network -------------------------------------------------------------
"$TDEI_BIN" --home "$G" init --member gov-svc --role public_service >/dev/null
"$TDEI_BIN" --home "$P" init --member plat-a --role platform >/dev/null
"$TDEI_BIN" --home "$M" init --member mfg-a --role manufacturer >/dev/null
"$TDEI_BIN" --home "$U" init --member aud-a --role auditor >/dev/null
"$TDEI_BIN" --home "$MB" init --member mfg-b --role manufacturer >/dev/null
"$TDEI_BIN" --home "$PB" init --member plat-b --role platform >/dev/null
"$TDEI_BIN" --home "$MC" init --member mfg-c --role manufacturer >/dev/null
"$TDEI_BIN" --home "$BAD" init --member bad-co --role platform >/dev/null
"$TDEI_BIN" --home "$LATE" init --member late-co --role platform >/dev/null
"$TDEI_BIN" --home "$G" genesis new --chain-id tdei-scenario >/dev/null
"$TDEI_BIN" --home "$G" genesis add-member --from-home "$G" --validator \
    --balance 5000 >/dev/null
"$TDEI_BIN" --home "$G" genesis add-member --from-home "$P" --balance 2000 >/dev/null
"$TDEI_BIN" --home "$G" genesis add-member --from-home "$M" --balance 1000 >/dev/null
"$TDEI_BIN" --home "$G" genesis add-member --from-home "$U" --balance 0 >/dev/null
# Short deadlines, so that proposals and requests expire within the test.
sed -i -e 's/"proposal_ttl": [0-9]*/"proposal_ttl": 6/' \
    -e 's/"approve_ttl": [0-9]*/"approve_ttl": 6/' "$G/genesis.json"
sed -i -e 's/^block_interval_ms = .*/block_interval_ms = 20/' -e 's/^empty_block_interval_ms = .*/empty_block_interval_ms = 0/' "$G/config.ini"
BAL[gov-svc]=5000
BAL[plat-a]=2000
BAL[mfg-a]=1000
BAL[aud-a]=0
node_start "$G" && ok "tdei-node starts" || fail "tdei-node did not start"
shows '^approve_ttl +6 ' "genesis set approve_ttl" as "$G" member params
balances "genesis"

# ---- governance: three members admitted, one rejected, one expired ------------
# Voting members: gov-svc, plat-a, mfg-a (3). A proposal passes above 2/3.
step "gov proposes mfg-b" as "$G" member propose add --from-home "$MB"
pid=$(last_tx)
step "plat-a approves mfg-b" as "$P" member vote "$pid" --approve
shows '^status +open$' "2 of 3 approvals: still open" as "$G" member proposal show "$pid"
step "mfg-a approves mfg-b" as "$M" member vote "$pid" --approve
shows '^status +passed$' "3 of 3: passed" as "$G" member proposal show "$pid"
shows '^status +active$' "mfg-b is a member" as "$G" member show mfg-b
MEMBERS+=(mfg-b)
BAL[mfg-b]=0
# Voters: 4; 3 approvals are above 2/3.
step "plat-a proposes plat-b" as "$P" member propose add --from-home "$PB"
pid=$(last_tx)
step "gov approves plat-b" as "$G" member vote "$pid" --approve
step "mfg-b approves plat-b" as "$MB" member vote "$pid" --approve
shows '^status +passed$' "plat-b passed at 3 of 4" as "$G" member proposal show "$pid"
MEMBERS+=(plat-b)
BAL[plat-b]=0
# Voters: 5; rejections at 2 (2 * 3 >= 5) fail a proposal.
step "mfg-a proposes bad-co" as "$M" member propose add --from-home "$BAD"
pid=$(last_tx)
step "plat-a rejects bad-co" as "$P" member vote "$pid" --reject
shows '^status +open$' "one rejection of 5: open" as "$G" member proposal show "$pid"
step "plat-b rejects bad-co" as "$PB" member vote "$pid" --reject
shows '^status +failed$' "two rejections of 5: failed" as "$G" member proposal show "$pid"
expect_fail_with 'TDEI_NOTFOUND|no such member|not found' "bad-co is no member" \
    as "$G" member show bad-co
step "gov proposes late-co" as "$G" member propose add --from-home "$LATE"
pid=$(last_tx)
tick 7
expect_refused TDEI_PROPOSAL_EXPIRED 'expired' "a vote after proposal_ttl is refused" \
    as "$P" member vote "$pid" --approve
expect_fail_with 'TDEI_NOTFOUND|no such member|not found' "late-co is no member" \
    as "$G" member show late-co
# Voters: 5; 4 approvals are above 2/3.
step "mfg-b proposes mfg-c" as "$MB" member propose add --from-home "$MC"
pid=$(last_tx)
step "gov approves mfg-c" as "$G" member vote "$pid" --approve
step "plat-a approves mfg-c" as "$P" member vote "$pid" --approve
shows '^status +open$' "3 of 5: open" as "$G" member proposal show "$pid"
step "plat-b approves mfg-c" as "$PB" member vote "$pid" --approve
shows '^status +passed$' "4 of 5: passed" as "$G" member proposal show "$pid"
MEMBERS+=(mfg-c)
BAL[mfg-c]=0
balances "governance"
step "gov funds mfg-b" as "$G" tx transfer --to mfg-b --amount 1000
BAL[gov-svc]=$((BAL[gov-svc] - 1000))
BAL[mfg-b]=1000
step "gov funds plat-b" as "$G" tx transfer --to plat-b --amount 600
BAL[gov-svc]=$((BAL[gov-svc] - 600))
BAL[plat-b]=600
balances "funding"

# ---- the catalog: levels 1, 2 and 3, a core entry and a stream -----------------
step "publish press-l1 (level 1)" as "$M" catalog publish --id press-l1 \
    --kind dataset --title "Press line vibration" --domain production \
    --level 1 --class general --price-model one_time --price 100 \
    --content-root "$R1" --size 4096 --tag press
step "publish press-l2 (level 2, may derive)" as "$M" catalog publish \
    --id press-l2 --kind dataset --title "Press line tooling wear" \
    --domain operation --level 2 --class important --price-model one_time \
    --price 200 --may-derive --content-root "$R2" --size 8192
step "publish press-l3 (level 3)" as "$M" catalog publish --id press-l3 \
    --kind dataset --title "Press line process recipes" --domain rd \
    --level 3 --class important --price-model one_time --price 300 \
    --content-root "$R3" --size 1024
step "publish press-core (level 3, core)" as "$M" catalog publish \
    --id press-core --kind dataset --title "Press control firmware" \
    --domain rd --level 3 --class core --price-model one_time --price 400 \
    --content-root "$R4" --size 2048
step "publish press-live (stream)" as "$M" catalog publish --id press-live \
    --kind stream --title "Press line live vibration" --domain production \
    --level 1 --class general --price-model per_record --price 2
shows '^owner +mfg-a$' "catalog show: the owner" as "$G" catalog show press-l2
shows '^level +2' "catalog show: the level" as "$G" catalog show press-l2
expect_refused TDEI_DATASET_EXISTS 'press-l1' "an id is published once" \
    as "$P" catalog publish --id press-l1 --kind dataset --title x \
    --domain rd --level 1 --class general --price-model one_time --price 1 \
    --content-root "$R1"
expect_refused TDEI_ROLE 'auditor' "an auditor publishes nothing" \
    as "$U" catalog publish --id audit-x --kind dataset --title x \
    --domain rd --level 1 --class general --price-model one_time --price 1 \
    --content-root "$R1"
expect_out 'press-l1' "catalog search finds the entry" \
    as "$G" catalog search vibration --level 1
balances "publishing"

# ---- requests --------------------------------------------------------------
# Level 1: approved automatically.
step "plat-a requests press-l1" as "$P" exchange request press-l1 --price 100
X1=$(last_tx)
BAL[plat-a]=$((BAL[plat-a] - 100))
xstate "$X1" approved 100 "level 1 is approved at once, price in escrow"
balances "a level 1 request"
# Refusals change nothing.
expect_refused TDEI_POLICY 'auditor' "an auditor is refused" \
    as "$U" exchange request press-l1 --price 100
expect_refused TDEI_PRICE_MISMATCH 'catalog price of press-l1 is 100' \
    "a price mismatch is refused" as "$PB" exchange request press-l1 --price 90
expect_refused TDEI_INSUFFICIENT_FUNDS 'mfg-c' "missing funds are refused" \
    as "$MC" exchange request press-l1 --price 100
expect_refused TDEI_POLICY 'purpose' "level 2 needs a purpose" \
    as "$MB" exchange request press-l2 --price 200
balances "three refusals"
# Level 2: the owner approves.
step "mfg-b requests press-l2" as "$MB" exchange request press-l2 --price 200 \
    --purpose "tool wear model"
X2=$(last_tx)
BAL[mfg-b]=$((BAL[mfg-b] - 200))
xstate "$X2" requested 200 "level 2 waits for the owner"
expect_refused TDEI_NOT_PARTY 'owner' "only the owner approves level 2" \
    as "$P" exchange approve "$X2"
step "mfg-a approves" as "$M" exchange approve "$X2"
xstate "$X2" approved 200 "level 2 approved by the owner"
# Level 3: owner and regulator, in any order.
step "plat-a requests press-l3" as "$P" exchange request press-l3 --price 300 \
    --purpose "recipe audit"
X3=$(last_tx)
BAL[plat-a]=$((BAL[plat-a] - 300))
step "the regulator approves first" as "$G" exchange approve "$X3"
xstate "$X3" requested 300 "1 of 2 approvals: still waiting"
expect_refused TDEI_EXCHANGE_STATE '' "no delivery before both approvals" \
    as "$M" exchange deliver "$X3" --sealed-key "$KEY" --content-root "$R3"
step "the owner approves second" as "$M" exchange approve "$X3"
xstate "$X3" approved 300 "level 3 approved by both"
balances "approvals"

# ---- delivery, confirmation, settlement --------------------------------------
expect_refused TDEI_CONTENT_MISMATCH 'root' "a wrong content root is refused" \
    as "$M" exchange deliver "$X1" --sealed-key "$KEY" --content-root "$RX"
step "mfg-a delivers press-l1" as "$M" exchange deliver "$X1" \
    --sealed-key "$KEY" --content-root "$R1"
xstate "$X1" delivered 100 "delivered: escrow held"
step "plat-a confirms" as "$P" exchange confirm "$X1"
BAL[mfg-a]=$((BAL[mfg-a] + 100))
xstate "$X1" settled 0 "settled: escrow paid out"
balances "a settlement"
step "mfg-a delivers press-l3" as "$M" exchange deliver "$X3" \
    --sealed-key "$KEY" --content-root "$R3"
step "plat-a confirms press-l3" as "$P" exchange confirm "$X3"
BAL[mfg-a]=$((BAL[mfg-a] + 300))
xstate "$X3" settled 0 "level 3 settled"
balances "the level 3 settlement"

# ---- rejection, expiry, dispute ------------------------------------------------
step "plat-b requests press-l2" as "$PB" exchange request press-l2 --price 200 \
    --purpose "benchmark"
X4=$(last_tx)
BAL[plat-b]=$((BAL[plat-b] - 200))
balances "a request in escrow"
step "mfg-a rejects it" as "$M" exchange reject "$X4" --reason "not for resale"
BAL[plat-b]=$((BAL[plat-b] + 200))
xstate "$X4" rejected 0 "a rejection refunds the consumer"
balances "a rejection"
step "mfg-c gets credits" as "$G" tx transfer --to mfg-c --amount 500
BAL[gov-svc]=$((BAL[gov-svc] - 500))
BAL[mfg-c]=500
step "mfg-c requests press-l3" as "$MC" exchange request press-l3 --price 300 \
    --purpose "never approved"
X5=$(last_tx)
BAL[mfg-c]=$((BAL[mfg-c] - 300))
xstate "$X5" requested 300 "waiting for approvals"
tick 7
BAL[mfg-c]=$((BAL[mfg-c] + 300))
xstate "$X5" expired 0 "approve_ttl passed: expired and refunded"
balances "an expiry"
step "mfg-a delivers press-l2 to mfg-b" as "$M" exchange deliver "$X2" \
    --sealed-key "$KEY" --content-root "$R2"
step "mfg-b disputes" as "$MB" exchange dispute "$X2" --reason "key does not open"
xstate "$X2" disputed 200 "disputed: escrow held"
expect_refused TDEI_ROLE 'public_service' "only the regulator resolves" \
    as "$P" exchange resolve "$X2" --refund
step "the regulator resolves for the consumer" as "$G" exchange resolve "$X2" \
    --refund --reason "payload unreadable"
BAL[mfg-b]=$((BAL[mfg-b] + 200))
xstate "$X2" refunded 0 "resolved: refunded"
balances "a dispute"

# ---- ownership: revenue follows the owner ------------------------------------
step "mfg-a offers press-l1 to plat-b" as "$M" catalog offer press-l1 --to plat-b
shows '^owner +mfg-a$' "the offer alone changes nothing" as "$G" catalog show press-l1
expect_refused TDEI_NOT_PARTY '' "only plat-b accepts" as "$MB" catalog accept press-l1
step "plat-b accepts" as "$PB" catalog accept press-l1
shows '^owner +plat-b$' "plat-b owns press-l1" as "$G" catalog show press-l1
expect_refused TDEI_NOT_OWNER '' "the former owner lost its rights" \
    as "$M" catalog withdraw press-l1
step "mfg-b requests press-l1" as "$MB" exchange request press-l1 --price 100
X6=$(last_tx)
BAL[mfg-b]=$((BAL[mfg-b] - 100))
step "plat-b delivers" as "$PB" exchange deliver "$X6" --sealed-key "$KEY" \
    --content-root "$R1"
step "mfg-b confirms" as "$MB" exchange confirm "$X6"
BAL[plat-b]=$((BAL[plat-b] + 100))
xstate "$X6" settled 0 "settled to the new owner"
balances "an ownership transfer"

# ---- lineage ------------------------------------------------------------------
# plat-a holds a settled grant on press-l1 (no may_derive) and gets one on
# press-l2 (may_derive).
expect_refused TDEI_LINEAGE 'press-l1' "deriving without a license is refused" \
    as "$P" catalog publish --id derived-a --kind dataset --title "Derived" \
    --domain production --level 1 --class general --price-model one_time \
    --price 10 --parent press-l1 --content-root "$R1"
step "plat-a requests press-l2" as "$P" exchange request press-l2 --price 200 \
    --purpose "derived product"
X7=$(last_tx)
BAL[plat-a]=$((BAL[plat-a] - 200))
step "mfg-a approves press-l2 for plat-a" as "$M" exchange approve "$X7"
step "mfg-a delivers press-l2 to plat-a" as "$M" exchange deliver "$X7" \
    --sealed-key "$KEY" --content-root "$R2"
step "plat-a confirms press-l2" as "$P" exchange confirm "$X7"
BAL[mfg-a]=$((BAL[mfg-a] + 200))
step "deriving with a licensed grant is accepted" as "$P" catalog publish \
    --id derived-b --kind dataset --title "Derived wear index" \
    --domain production --level 2 --class important --price-model one_time \
    --price 50 --parent press-l2 --content-root "$R1"
shows '^parents +press-l2$' "the lineage is on the entry" as "$G" catalog show derived-b
balances "lineage"

# ---- classification ---------------------------------------------------------
step "mfg-a asks to lower press-l2" as "$M" catalog classify press-l2 \
    --level 1 --class general
shows '^level +2' "without the regulator the level stays" as "$G" catalog show press-l2
expect_refused TDEI_ROLE 'public_service' "only public_service approves a lowering" \
    as "$P" catalog approve-lowering press-l2
step "the regulator approves the lowering" as "$G" catalog approve-lowering press-l2
shows '^level +1' "with the regulator the level is lowered" as "$G" catalog show press-l2
step "the new owner raises press-l1" \
    as "$PB" catalog classify press-l1 --level 2 --class important
shows '^level +2' "a raise applies at once" as "$G" catalog show press-l1

# ---- core needs the regulator, whatever the level policy --------------------
step "gov proposes level3.approval = owner only" as "$G" member propose params \
    level3.approval 2
pid=$(last_tx)
for h in "$P" "$M" "$MB" "$PB"; do
    step "vote for level3.approval" as "$h" member vote "$pid" --approve
done
shows '^status +passed$' "the level 3 policy changed" as "$G" member proposal show "$pid"
step "plat-a requests press-core" as "$P" exchange request press-core \
    --price 400 --purpose "firmware review"
X8=$(last_tx)
BAL[plat-a]=$((BAL[plat-a] - 400))
step "the owner approves press-core" as "$M" exchange approve "$X8"
xstate "$X8" requested 400 "core still needs the regulator"
expect_refused TDEI_EXCHANGE_STATE '' "core is not delivered without the regulator" \
    as "$M" exchange deliver "$X8" --sealed-key "$KEY" --content-root "$R4"
tick 7
BAL[plat-a]=$((BAL[plat-a] + 400))
xstate "$X8" expired 0 "unapproved core request expired and refunded"
balances "core"

# ---- revocation by the regulator ---------------------------------------------
expect_refused TDEI_NOT_PARTY '' "a stranger cannot revoke" as "$MC" exchange revoke "$X1"
step "the regulator revokes plat-a's grant" as "$G" exchange revoke "$X1" \
    --reason "incident 7"
xstate "$X1" revoked 0 "revoked at once"
balances "revocation"

# ---- a stream: stale batch refused, subscription charged per record ----------
step "mfg-a opens press-live" as "$M" stream open press-live
step "plat-b subscribes with 20 credits" as "$PB" exchange request press-live \
    --price 2 --budget 20
X9=$(last_tx)
BAL[plat-b]=$((BAL[plat-b] - 20))
step "mfg-a delivers the stream key" as "$M" exchange deliver "$X9" --sealed-key "$KEY"
xstate "$X9" settled 20 "subscription live with its budget"
now=$(($(date +%s%3N)))
expect_refused TDEI_STREAM_STALE 'behind' "a batch two minutes old is refused" \
    as "$M" stream append press-live --seq 0 --count 1 \
    --first-ts "$((now - 120000))" --last-ts "$((now - 120000))" --root "$R2"
xstate "$X9" settled 20 "a refused batch charges nothing"
step "a batch of 4 records" as "$M" stream append press-live --seq 0 --count 4 \
    --first-ts "$((now - 400))" --last-ts "$now" --root "$R1"
BAL[mfg-a]=$((BAL[mfg-a] + 8))
xstate "$X9" settled 12 "charged 4 records of 2"
balances "the first batch"
expect_refused TDEI_STREAM_SEQ 'expects 4' "a gap in the sequence is refused" \
    as "$M" stream append press-live --seq 9 --count 1 --first-ts "$now" \
    --last-ts "$now" --root "$R2"
balances "refused batches"
now=$(($(date +%s%3N)))
step "a batch of 10 records" as "$M" stream append press-live --seq 4 \
    --count 10 --first-ts "$((now - 100))" --last-ts "$now" --root "$R3"
BAL[mfg-a]=$((BAL[mfg-a] + 12))
xstate "$X9" ended 0 "the budget paid 6 of 10 records, then the subscription ended"
balances "the budget spent"

# ---- the books balance ---------------------------------------------------------
total=0
for m in "${MEMBERS[@]}"; do total=$((total + BAL[$m])); done
[ "$total" -eq 8000 ] && ok "every credit is accounted for" ||
    fail "credits: $total, wanted 8000"
finish
