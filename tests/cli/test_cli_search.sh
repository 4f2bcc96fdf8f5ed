#!/usr/bin/env bash
# `tdei catalog search` against a real single-validator node: every bad
# argument is a usage error (exit 2) naming what was wrong, before any
# connection; a valid search of the (still empty) catalog answers 0
# matches as a table and as JSON, with words and options in any order.
# Searches that find published entries are in test_cli_catalog.sh.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"

A=$T/alpha
search() {
    "$TDEI_BIN" --home "$A" catalog search "$@"
}

"$TDEI_BIN" --home "$A" init --member alpha-svc --role public_service >/dev/null
"$TDEI_BIN" --home "$A" genesis new --chain-id tdei-search >/dev/null
"$TDEI_BIN" --home "$A" genesis add-member --from-home "$A" --validator \
    --balance 1000 >/dev/null
sed -i -e 's/^block_interval_ms = .*/block_interval_ms = 20/' -e 's/^empty_block_interval_ms = .*/empty_block_interval_ms = 0/' "$A/config.ini"

expect_out 'usage: tdei .*catalog search \[WORDS...\]' "catalog search --help" \
    search --help
expect_out 'search +find entries by words and filters' "catalog --help lists search" \
    "$TDEI_BIN" catalog --help
expect_exit 2 "catalog without a command is a usage error" "$TDEI_BIN" catalog
expect_fail_with "unknown command 'catalog nope'" "an unknown catalog command" \
    "$TDEI_BIN" catalog nope

# Bad arguments: exit 2 with a message, and no node needed.
usage() { # usage TEXT NAME ARGS...: exit 2 and TEXT on stderr
    local text=$1 name=$2
    shift 2
    run search "$@"
    if [ "$status" -eq 2 ] && grep -qE -- "$text" "$ERR" &&
        grep -q 'run `tdei catalog search --help`' "$ERR"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted 2 and stderr matching '$text')"
    fi
}
usage "--level '0' is not a whole number in 1-3" "level 0" --level 0
usage "--level '4' is not a whole number in 1-3" "level 4" --level 4
usage "--level 'two' is not a whole number" "level not a number" --level two
usage "--domain 'farm' is not a data domain" "unknown domain" --domain farm
usage "--domain '6' is not a data domain" "domain 6" --domain 6
usage "--owner 'Acme' is not a member id" "bad owner id" --owner Acme
usage "--owner-role 'boss' is not a role: public_service" "unknown role" \
    --owner-role boss
usage "--kind 'table' is not dataset or stream" "unknown kind" --kind table
usage "--min-price '-1' is not a whole number" "negative min price" --min-price -1
usage "--max-price '1e3' is not a whole number" "max price not a number" \
    --max-price 1e3
usage "min price 10 is above max price 9" "min above max" \
    --min-price 10 --max-price 9
usage "--status 'gone' is not active, withdrawn or any" "unknown status" \
    --status gone
usage "--offset 'x' is not a whole number" "offset not a number" --offset x
usage "--limit '0' is not a whole number in 1-100" "limit 0" --limit 0
usage "--limit '101' is not a whole number in 1-100" "limit 101" --limit 101
usage "more than 8 words" "nine words" aa bb cc dd ee ff gg hh ii
usage "more than 8 distinct words" "one word of nine tokens" \
    "aa bb cc dd ee ff gg hh ii"
usage 'search word "abcdefghijabcdefghijabcdefghijabc" is too long' \
    "a 33-letter word" abcdefghijabcdefghijabcdefghijabc
usage 'search word "x" has nothing to search for' "a one-letter word" x
usage "unknown option '--colour'" "an unknown option" pump --colour red
usage "option '--level' needs a value" "an option without its value" --level
expect_fail_with 'cannot connect to .*api.sock.*is tdei-node running' \
    "a valid search without a node says how to fix it" search pump

node_start "$A" && ok "tdei-node starts and answers" || fail "tdei-node did not start"
expect_out '^0 of 0 matches from offset 0 at height [0-9]+$' \
    "an empty catalog answers 0 matches" search pump
expect_out '^0 of 0 matches from offset 5 at height' \
    "options after words, and the offset is echoed" \
    search pump vibration --level 2 --domain production --owner alpha-svc \
    --owner-role manufacturer --kind dataset --min-price 0 --max-price 0 \
    --status any --offset 5 --limit 100
expect_out '^0 of 0 matches' "no words lists every entry (none yet)" search
expect_out '^0 of 0 matches' "a word that starts with - after --" \
    search --level 1 -- -pump
run "$TDEI_BIN" --home "$A" --json catalog search Pump "数控机床" --limit 7
if [ "$status" -eq 0 ] && grep -qE '^  "total": 0,$' "$OUT" &&
    grep -qE '^  "hits": \[\]$' "$OUT" && grep -qE '^  "limit": 7,$' "$OUT" &&
    grep -qE '^  "height": [0-9]+,$' "$OUT" &&
    [ "$(tr -d ' \n' <"$OUT" | grep -o '"words":\[[^]]*\]')" = \
        '"words":["pump","数控机床"]' ]; then
    ok "--json gives total, hits, limit, the words searched and the height"
else
    fail "--json output"
fi
usage "--kind 'table' is not dataset or stream" "usage errors stay usage errors with a node" \
    pump --kind table
node_stop
grep -q 'msg="stopped" status=0' "$T/node.log" && ok "the node stops cleanly" ||
    fail "no clean stop in the log"
finish
