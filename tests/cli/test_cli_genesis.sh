#!/usr/bin/env bash
# `tdei genesis new|add-member|show` through the real binary.
source "$TDEI_SRCDIR/tests/cli/lib.sh"

A=$T/a
B=$T/b
"$TDEI_BIN" --home "$A" init --member alpha-svc --role public_service >/dev/null
"$TDEI_BIN" --home "$B" init --member beta-mfg --role manufacturer >/dev/null
G=$A/genesis.json

expect_out 'created .*genesis.json for chain tdei-test' "genesis new" \
    "$TDEI_BIN" --home "$A" genesis new --chain-id tdei-test --time-ms 1764000000000
expect_fail_with 'already exists.*TDEI_EXISTS' "genesis new refuses an existing file" \
    "$TDEI_BIN" --home "$A" genesis new --chain-id tdei-test
expect_fail_with 'members must list' "show refuses a genesis without members" \
    "$TDEI_BIN" --home "$A" genesis show
expect_out 'added alpha-svc \(public_service, validator\)' "add a validator from a home" \
    "$TDEI_BIN" --home "$A" genesis add-member --from-home "$A" --validator \
    --balance 1000 --name "Alpha Service"
expect_out 'added beta-mfg \(manufacturer\)' "add a member from a home" \
    "$TDEI_BIN" --home "$A" genesis add-member --from-home "$B" --balance 500
before=$(sha256sum <"$G")
expect_fail_with 'member id beta-mfg appears twice' "a member id twice is refused" \
    "$TDEI_BIN" --home "$A" genesis add-member --from-home "$B"
[ "$before" = "$(sha256sum <"$G")" ] && ok "a refused add changed nothing" ||
    fail "a refused add changed the file"
expect_fail_with 'auditor observes' "an auditor validator is refused" \
    "$TDEI_BIN" --home "$A" genesis add-member --id audit-one --role auditor \
    --node-key "$(awk '$1 == "node" {print $3}' <("$TDEI_BIN" --home "$B" keys show))" \
    --operator-key "$(awk '$1 == "operator" {print $3}' <("$TDEI_BIN" --home "$A" keys show))" \
    --encryption-key 0000000000000000000000000000000000000000000000000000000000000001 \
    --validator
expect_exit 2 "bad hex key is a usage error" \
    "$TDEI_BIN" --home "$A" genesis add-member --id gamma --role platform \
    --node-key xyz --operator-key 00 --encryption-key 00
expect_exit 2 "a bad balance is a usage error" \
    "$TDEI_BIN" --home "$A" genesis add-member --from-home "$B" --balance -5
expect_out '^members +2 \(1 validators\)' "show prints the members" \
    "$TDEI_BIN" --home "$A" genesis show
expect_out '"chain_id": "tdei-test"' "show --json" \
    "$TDEI_BIN" --home "$A" --json genesis show
hash1=$("$TDEI_BIN" --home "$A" genesis show | awk '$1 == "hash" {print $2}')
[ "$hash1" = "$(sha256sum <"$G" | cut -c1-64)" ] &&
    ok "the genesis hash is the SHA-256 of the file" || fail "hash mismatch"
printf '{"tdei_genesis":1,"chain_id":"x","genesis_time_ms":1,"members":[],"extra":1}' >"$T/bad.json"
expect_fail_with 'unknown field "extra"' "unknown fields are refused" \
    "$TDEI_BIN" genesis show --file "$T/bad.json"
printf '{"tdei_genesis":1,' >"$T/trunc.json"
expect_fail_with 'not valid JSON' "a truncated genesis is refused" \
    "$TDEI_BIN" genesis show --file "$T/trunc.json"
expect_exit 0 "genesis --help" "$TDEI_BIN" genesis --help
expect_exit 2 "genesis without a command" "$TDEI_BIN" genesis
finish
