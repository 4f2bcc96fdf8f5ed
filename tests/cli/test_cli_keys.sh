#!/usr/bin/env bash
# `tdei keys`: new, show, sign and verify through the real binary.
source "$TDEI_SRCDIR/tests/cli/lib.sh"
unset TDEI_PASSPHRASE TDEI_HOME

hex64='[0-9a-f]{64}'
H=$T/home
mkdir -p "$H/keys"

# check NAME CMD...: CMD (a test or grep) must succeed.
check() {
    local name=$1
    shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

# expect_exit_with CODE TEXT NAME CMD...: exit CODE and TEXT on stderr.
expect_exit_with() {
    local code=$1 text=$2 name=$3
    shift 3
    run "$@"
    if [ "$status" -eq "$code" ] && grep -qE -- "$text" "$ERR"; then
        ok "$name"
    else
        fail "$name (exit $status, wanted $code and stderr matching '$text')"
    fi
}

# --- new and show -----------------------------------------------------------
expect_out "^public +$hex64\$" "keys new creates a secp256k1 key" \
    "$TDEI_BIN" keys new --out "$H/keys/operator.key"
pub=$(awk '$1 == "public" {print $2}' "$OUT")
mode=$(stat -c %a "$H/keys/operator.key" 2>/dev/null)
check "new key file has mode 0600 (it has $mode)" [ "$mode" = 600 ]
expect_out "^public +$pub\$" "keys show reads the operator key of the home" \
    "$TDEI_BIN" --home "$H" keys show --key operator
check "keys show says not encrypted" grep -qE '^encrypted +no$' "$OUT"
expect_out "\"public\": \"$pub\"" "keys show --json prints the public key" \
    "$TDEI_BIN" --json keys show --key "$H/keys/operator.key"
expect_out '"kind": "x25519"' "keys new --kind x25519 --json" \
    "$TDEI_BIN" --json keys new --out "$T/enc.key" --kind x25519
expect_fail_with 'node.key does not exist.*tdei init' \
    "keys show names a missing home key and the fix" \
    "$TDEI_BIN" --home "$H" keys show --key node

before=$(sha256sum <"$H/keys/operator.key")
expect_fail_with 'already exists.*TDEI_EXISTS' "keys new refuses an existing file" \
    "$TDEI_BIN" keys new --out "$H/keys/operator.key"
after=$(sha256sum <"$H/keys/operator.key")
check "refused keys new left the file alone" [ "$before" = "$after" ]

# --- sign and verify ---------------------------------------------------------
expect_out '^[0-9a-f]{128}$' "keys sign prints a signature" \
    "$TDEI_BIN" --home "$H" keys sign --message "hello, ledger"
sig=$(cat "$OUT")
expect_out "^valid signature by $pub\$" "keys verify accepts it" \
    "$TDEI_BIN" keys verify --public "$pub" --signature "$sig" \
    --message "hello, ledger"
printf 'hello, ledger' >"$T/msg"
expect_exit 0 "a file with the same bytes verifies too" \
    "$TDEI_BIN" keys verify --public "$pub" --signature "$sig" --file "$T/msg"
run "$TDEI_BIN" keys verify --public "$pub" --signature "$sig" --file - \
    <"$T/msg"
check "standard input verifies too (exit $status)" [ "$status" -eq 0 ]
expect_out '"tag": "tdei/message"' "keys sign --json names the tag" \
    "$TDEI_BIN" --json keys sign --key "$H/keys/operator.key" --file "$T/msg"

first=${sig:0:1}
[ "$first" = 0 ] && other=1 || other=0
bad_sig=$other${sig:1}
expect_exit_with 3 'verification failed.*TDEI_BADSIG' \
    "a tampered signature exits 3" \
    "$TDEI_BIN" keys verify --public "$pub" --signature "$bad_sig" \
    --message "hello, ledger"
expect_exit_with 3 'verification failed' "a changed message exits 3" \
    "$TDEI_BIN" keys verify --public "$pub" --signature "$sig" \
    --message "hello, ledger!"
printf 'hello, ledger\n' >"$T/msg-nl"
expect_exit 3 "an added newline exits 3" \
    "$TDEI_BIN" keys verify --public "$pub" --signature "$sig" \
    --file "$T/msg-nl"
expect_exit_with 1 'x25519.*secp256k1' "an encryption key cannot sign" \
    "$TDEI_BIN" keys sign --key "$T/enc.key" --message x
head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$T/big"
expect_fail_with 'larger than 16 MiB' "keys sign bounds the file size" \
    "$TDEI_BIN" keys sign --key "$H/keys/operator.key" --file "$T/big"
rm -f "$T/big"

# --- malformed arguments -------------------------------------------------------
expect_exit_with 2 '--public must be 64 hex digits' "bad hex public key exits 2" \
    "$TDEI_BIN" keys verify --public zz --signature "$sig" --message x
expect_exit_with 2 '--public must be 64 hex digits.*got 62' \
    "a short public key exits 2" \
    "$TDEI_BIN" keys verify --public "${pub:2}" --signature "$sig" --message x
expect_exit_with 2 '--signature must be 128 hex digits' \
    "a bad signature length exits 2" \
    "$TDEI_BIN" keys verify --public "$pub" --signature "${sig}0" --message x
expect_exit 2 "verify needs exactly one message source" \
    "$TDEI_BIN" keys verify --public "$pub" --signature "$sig"
expect_exit_with 2 "unknown option '--frobnicate'" "unknown option exits 2" \
    "$TDEI_BIN" keys sign --frobnicate
expect_exit 2 "keys new needs --out" "$TDEI_BIN" keys new
expect_exit 2 "keys new refuses an unknown kind" \
    "$TDEI_BIN" keys new --out "$T/x.key" --kind rsa
expect_exit 2 "unknown keys command exits 2" "$TDEI_BIN" keys frob
for cmd in "" new show sign verify; do
    # shellcheck disable=SC2086
    expect_out '^usage: tdei' "keys${cmd:+ $cmd} --help exits 0" \
        "$TDEI_BIN" keys $cmd --help
done

# --- damaged key files -------------------------------------------------------
cp "$H/keys/operator.key" "$T/open.key"
chmod 644 "$T/open.key"
expect_fail_with 'mode 0644; run chmod 600' "a key file readable by others is refused" \
    "$TDEI_BIN" keys sign --key "$T/open.key" --message x
expect_fail_with 'chmod 600' "keys show refuses it too" \
    "$TDEI_BIN" keys show --key "$T/open.key"
head -c 60 "$H/keys/operator.key" >"$T/cut.key"
chmod 600 "$T/cut.key"
expect_fail_with 'cut.key is truncated.*TDEI_KEYFILE_FORMAT' \
    "a truncated key file is refused clearly" \
    "$TDEI_BIN" keys sign --key "$T/cut.key" --message x

# --- encrypted keys ----------------------------------------------------------
printf 'right horse\n' >"$T/pw"
printf 'wrong horse\n' >"$T/pw-bad"
expect_exit 2 "keys new --encrypt needs a passphrase" \
    "$TDEI_BIN" keys new --out "$T/sealed.key" --encrypt
check "no file without a passphrase" [ ! -e "$T/sealed.key" ]
expect_out "^encrypted +yes\$" "keys new --encrypt" \
    "$TDEI_BIN" keys new --out "$T/sealed.key" --encrypt \
    --passphrase-file "$T/pw"
sealed_pub=$(awk '$1 == "public" {print $2}' "$OUT")
check "the encrypted file holds no clear secret" \
    test -z "$(grep '"secret"' "$T/sealed.key")"
expect_out "^public +$sealed_pub\$" "keys show needs no passphrase" \
    "$TDEI_BIN" keys show --key "$T/sealed.key"
expect_fail_with 'wrong passphrase.*TDEI_PASSPHRASE' "a wrong passphrase is refused" \
    "$TDEI_BIN" keys sign --key "$T/sealed.key" --passphrase-file "$T/pw-bad" \
    --message x
expect_fail_with 'encrypted; give its passphrase' "a missing passphrase is named" \
    "$TDEI_BIN" keys sign --key "$T/sealed.key" --message x
expect_out '^[0-9a-f]{128}$' "the right passphrase signs" \
    "$TDEI_BIN" keys sign --key "$T/sealed.key" --passphrase-file "$T/pw" \
    --message "sealed"
sealed_sig=$(cat "$OUT")
expect_exit 0 "and the signature verifies" \
    "$TDEI_BIN" keys verify --public "$sealed_pub" --signature "$sealed_sig" \
    --message "sealed"
expect_out '^[0-9a-f]{128}$' "TDEI_PASSPHRASE works too" \
    env TDEI_PASSPHRASE='right horse' "$TDEI_BIN" keys sign \
    --key "$T/sealed.key" --message "sealed"

finish
