#!/usr/bin/env bash
# `tdei init` and `tdei-node --check` through the real binaries.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
: "${TDEI_NODE_BIN:?TDEI_NODE_BIN must name the tdei-node binary}"

H=$T/home
expect_out '^member +acme-steel$' "init creates a home and prints the identity" \
    "$TDEI_BIN" --home "$H" init --member acme-steel --role manufacturer
for f in keys/node.key keys/operator.key keys/encryption.key; do
    mode=$(stat -c %a "$H/$f" 2>/dev/null)
    [ "$mode" = 600 ] && ok "$f has mode 0600" || fail "$f has mode '$mode'"
done
mode=$(stat -c %a "$H/keys")
[ "$mode" = 700 ] && ok "keys/ has mode 0700" || fail "keys/ has mode $mode"
grep -q '^role = manufacturer$' "$H/config.ini" &&
    ok "config.ini names the role" || fail "config.ini lacks the role"

expect_out '^role +manufacturer$' "keys show prints the identity of the home" \
    "$TDEI_BIN" --home "$H" keys show
node_key=$(awk '$1 == "node" {print $3}' "$OUT")
expect_out "^public +$node_key\$" "keys show --key node agrees with the identity" \
    "$TDEI_BIN" --home "$H" keys show --key node
expect_log 'home ok.*member=acme-steel' "tdei-node --check accepts the new home" \
    "$TDEI_NODE_BIN" --home "$H" --check
grep -q 'node_key=' "$ERR" && ok "tdei-node logs the node key in logfmt" ||
    fail "tdei-node did not log the node key"

before=$(cat "$H"/keys/*.key | sha256sum)
expect_fail_with 'already exists.*TDEI_EXISTS' "init refuses an existing home" \
    "$TDEI_BIN" --home "$H" init --member other --role platform
after=$(cat "$H"/keys/*.key | sha256sum)
[ "$before" = "$after" ] && ok "refused init changed nothing" ||
    fail "refused init changed the keys"

expect_exit 0 "init creates missing parent directories" \
    "$TDEI_BIN" --home "$T/deep/er/home" init --member acme-deep --role platform
expect_out '"member": "acme-json"' "init --json prints the identity as JSON" \
    "$TDEI_BIN" --json --home "$T/json" init --member acme-json --role platform
expect_exit 2 "init refuses a bad member id" \
    "$TDEI_BIN" --home "$T/bad1" init --member Acme --role platform
[ ! -e "$T/bad1" ] && ok "bad member id created nothing" ||
    fail "bad member id created $T/bad1"
expect_fail_with "is not one of public_service" "init refuses an unknown role" \
    "$TDEI_BIN" --home "$T/bad2" init --member acme --role king
expect_exit 2 "init needs --member and --role" "$TDEI_BIN" --home "$T/bad3" init
expect_exit 2 "init --encrypt needs a passphrase" \
    env -u TDEI_PASSPHRASE "$TDEI_BIN" --home "$T/bad4" init --member acme \
    --role platform --encrypt
expect_exit 0 "init --help" "$TDEI_BIN" init --help
expect_exit 2 "init refuses an unknown option" "$TDEI_BIN" init --colour red

# An encrypted home: the node checks every key against the passphrase.
printf 'correct horse\n' >"$T/pass"
printf 'wrong horse\n' >"$T/wrong"
expect_exit 0 "init --encrypt with a passphrase file" \
    "$TDEI_BIN" --home "$T/enc" init --member acme-enc --role platform \
    --encrypt --passphrase-file "$T/pass"
expect_fail_with 'TDEI_NEED_PASSPHRASE' "encrypted home without passphrase is refused" \
    env -u TDEI_PASSPHRASE "$TDEI_NODE_BIN" --home "$T/enc" --check
expect_fail_with 'TDEI_PASSPHRASE' "encrypted home with a wrong passphrase is refused" \
    "$TDEI_NODE_BIN" --home "$T/enc" --check --passphrase-file "$T/wrong"
expect_exit 0 "encrypted home with the right passphrase" \
    "$TDEI_NODE_BIN" --home "$T/enc" --check --passphrase-file "$T/pass"

# Bad homes are refused with a message that says what to fix.
cp -r "$H" "$T/mode"
chmod 644 "$T/mode/keys/operator.key"
expect_fail_with 'chmod 600' "a key file readable by others is refused" \
    "$TDEI_NODE_BIN" --home "$T/mode" --check
cp -r "$H" "$T/cfg"
sed -i 's/^\[node\]$/[node]\ncolour = red/' "$T/cfg/config.ini"
expect_fail_with 'config.ini:[0-9]+: unknown key \[node\] colour' \
    "an unknown config key is refused with its line" \
    "$TDEI_NODE_BIN" --home "$T/cfg" --check
cp -r "$H" "$T/swap"
cp "$T/swap/keys/encryption.key" "$T/swap/keys/node.key.x"
mv "$T/swap/keys/node.key.x" "$T/swap/keys/node.key"
expect_fail_with 'must be a secp256k1 key' "a key of the wrong kind is refused" \
    "$TDEI_NODE_BIN" --home "$T/swap" --check
expect_fail_with 'tdei init' "a missing home is refused" \
    "$TDEI_NODE_BIN" --home "$T/nothing" --check
expect_exit 2 "tdei-node needs --home" "$TDEI_NODE_BIN" --check
expect_exit 0 "tdei-node --config-help" "$TDEI_NODE_BIN" --config-help
# README's config table is the --config-help list, row for row: a key
# added to the table in config.c must be documented there too.
"$TDEI_NODE_BIN" --config-help | awk -F'\t' '{
    split($1, k, "."); d = $2
    if (d == "") d = "(empty)"; else if (d != "(required)") d = "`" d "`"
    printf "| `[%s] %s` | %s | %s |\n", k[1], k[2], d, $3 }' >"$T/keys.md"
sed -n '/^| key | default | meaning |$/,/^$/p' "$TDEI_SRCDIR/README.md" |
    sed '1,2d;/^$/d' >"$T/readme-keys.md"
if [ -s "$T/keys.md" ] && diff "$T/keys.md" "$T/readme-keys.md" >"$OUT"; then
    ok "README's config table matches tdei-node --config-help"
else
    fail "README's config table matches tdei-node --config-help"
fi
expect_exit 2 "tdei refuses an unknown group" "$TDEI_BIN" frobnicate
expect_exit 0 "tdei --help" "$TDEI_BIN" --help
expect_out '^tdei [0-9]+\.[0-9]+\.[0-9]+$' "tdei version" "$TDEI_BIN" version
finish
