#!/usr/bin/env bash
# `tdei proof`: RFC 6962 roots and proofs through the real binary, checked
# against the published reference tree (tests/vectors/rfc6962.json).
source "$TDEI_SRCDIR/tests/cli/lib.sh"

# The 8 reference leaves (hex data, one a line; the first is empty).
L=$T/leaves
printf '\n00\n10\n2021\n3031\n40414243\n5051525354555657\n606162636465666768696a6b6c6d6e6f\n' >"$L"
ROOT8=5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
ROOT3=aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77
ROOT5=4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4
EMPTY=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
LEAF1=96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7
P1=6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
P2=5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e
P3=bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b

# inc_doc LEAF_HASH INDEX SIZE ROOT PATH_JSON [EXTRA]: an inclusion document.
inc_doc() {
    printf '{"type": "inclusion", "leaf_hash": "%s", "leaf_index": %s, "tree_size": %s, "root": "%s", "path": %s%s}\n' \
        "$1" "$2" "$3" "$4" "$5" "${6:-}"
}
# The published path of leaf 1 (0-based) in the tree of 5 leaves.
GOOD_PATH="[\"$P1\", \"$P2\", \"$P3\"]"

# ---- roots -----------------------------------------------------------------
expect_out "^$ROOT8\$" "root of the 8 reference leaves matches RFC 6962" \
    "$TDEI_BIN" proof root "$L"
run sh -c "head -n 3 '$L' | '$TDEI_BIN' proof root -"
[ "$status" -eq 0 ] && grep -qx "$ROOT3" "$OUT" &&
    ok "root of the first 3 leaves from stdin" || fail "root of 3 leaves"
run sh -c "printf '' | '$TDEI_BIN' proof root"
[ "$status" -eq 0 ] && grep -qx "$EMPTY" "$OUT" &&
    ok "no leaves: root is SHA256 of nothing" || fail "empty root"
expect_out "\"root\": \"$ROOT8\"" "root --json prints the root" \
    "$TDEI_BIN" --json proof root "$L"
grep -q '"tree_size": 8' "$OUT" && ok "root --json prints tree_size" ||
    fail "root --json lacks tree_size"
sed 's/$/\r/' "$L" >"$T/crlf"
expect_out "^$ROOT8\$" "CRLF line ends give the same root" \
    "$TDEI_BIN" proof root "$T/crlf"

# ---- inclusion round trips -------------------------------------------------
for i in 0 1 2 3 4 5 6 7; do
    run "$TDEI_BIN" proof inclusion --index "$i" "$L"
    cp "$OUT" "$T/inc$i.json"
    if [ "$status" -eq 0 ] && grep -q "\"root\": \"$ROOT8\"" "$T/inc$i.json"; then
        expect_out "^valid: inclusion of leaf $i in tree of size 8 under root $ROOT8\$" \
            "inclusion proof of leaf $i verifies" \
            "$TDEI_BIN" proof verify "$T/inc$i.json"
    else
        fail "inclusion --index $i"
    fi
done
grep -q "\"$P3\"" "$T/inc5.json" && ok "leaf 5's path is the published one" ||
    fail "leaf 5's path differs from the published vector"
run sh -c "'$TDEI_BIN' proof verify - <'$T/inc3.json'"
[ "$status" -eq 0 ] && ok "verify reads the document from stdin" ||
    fail "verify - (exit $status)"
inc_doc "$LEAF1" 1 5 "$ROOT5" "$GOOD_PATH" >"$T/pub.json"
expect_exit 0 "the published path of leaf 1 in tree 5 verifies" \
    "$TDEI_BIN" proof verify "$T/pub.json"

# ---- consistency round trips -----------------------------------------------
for m in 1 2 3 4 5 6 7 8; do
    run "$TDEI_BIN" proof consistency --old-size "$m" "$L"
    cp "$OUT" "$T/con$m.json"
    if [ "$status" -eq 0 ]; then
        expect_out "^valid: tree of size $m .* prefix of tree of size 8" \
            "consistency proof $m -> 8 verifies" \
            "$TDEI_BIN" proof verify "$T/con$m.json"
    else
        fail "consistency --old-size $m"
    fi
done

# ---- proofs that do not hold: exit 3 ---------------------------------------
sed "s/$P3/${P3%?}c/" "$T/pub.json" >"$T/bad.json"
expect_exit 3 "a tampered path hash fails with exit 3" \
    "$TDEI_BIN" proof verify "$T/bad.json"
grep -q "do not lead to root.*TDEI_BADPROOF" "$ERR" &&
    ok "the failure names the root check" || fail "no root-check message"
inc_doc "$P1" 1 5 "$ROOT5" "$GOOD_PATH" >"$T/bad.json"
expect_exit 3 "a wrong leaf_hash fails with exit 3" \
    "$TDEI_BIN" proof verify "$T/bad.json"
inc_doc "$LEAF1" 1 5 "$ROOT8" "$GOOD_PATH" >"$T/bad.json"
expect_exit 3 "a wrong root fails with exit 3" \
    "$TDEI_BIN" proof verify "$T/bad.json"
inc_doc "$LEAF1" 2 5 "$ROOT5" "$GOOD_PATH" >"$T/bad.json"
expect_exit 3 "a wrong leaf_index fails with exit 3" \
    "$TDEI_BIN" proof verify "$T/bad.json"
inc_doc "$LEAF1" 1 5 "$ROOT5" "[\"$P1\", \"$P2\"]" >"$T/bad.json"
expect_fail_with "path has 2 entries, but leaf 1 of a tree of size 5 needs 3" \
    "a truncated path is refused by length" \
    "$TDEI_BIN" proof verify "$T/bad.json"
[ "$status" -eq 3 ] && ok "a truncated path exits 3" || fail "truncated: exit $status"
inc_doc "$LEAF1" 5 5 "$ROOT5" "$GOOD_PATH" >"$T/bad.json"
expect_fail_with "leaf_index 5 is not below tree_size 5" \
    "leaf_index >= tree_size is refused" "$TDEI_BIN" proof verify "$T/bad.json"
sed "s/\"new_root\": \"$ROOT8\"/\"new_root\": \"$ROOT5\"/" "$T/con3.json" >"$T/bad.json"
expect_exit 3 "a consistency proof with a wrong new_root fails with exit 3" \
    "$TDEI_BIN" proof verify "$T/bad.json"
grep -q "does not connect old_root" "$ERR" &&
    ok "the failure names the consistency check" ||
    fail "no consistency-check message"
sed 's/"old_size": 3/"old_size": 9/' "$T/con3.json" >"$T/bad.json"
expect_fail_with "old_size 9 is larger than new_size 8" \
    "old_size > new_size is refused" "$TDEI_BIN" proof verify "$T/bad.json"

# ---- malformed documents: exit 1 or 2, a message naming the problem --------
malformed() { # malformed NAME PATTERN: $T/m.json must be refused with PATTERN
    run "$TDEI_BIN" proof verify "$T/m.json"
    if [ "$status" -ne 0 ] && [ "$status" -ne 3 ] && [ "$status" -lt 128 ] &&
        grep -qE -- "$2" "$ERR"; then
        ok "$1"
    else
        fail "$1 (exit $status, wanted 1 or 2 and stderr matching '$2')"
    fi
}
printf '{"type": "inclusion",' >"$T/m.json"
malformed "truncated JSON is refused" "not a JSON proof document: line 1"
printf 'not json at all\n' >"$T/m.json"
malformed "text that is not JSON is refused" "not a JSON proof document"
: >"$T/m.json"
malformed "an empty file is refused" "not a JSON proof document"
printf '[1, 2]\n' >"$T/m.json"
malformed "a JSON array is refused" "must be a JSON object"
grep -v '"root"' "$T/inc3.json" >"$T/m.json"
malformed "a missing root is named" "missing field 'root'"
printf '{"leaf_index": 0}\n' >"$T/m.json"
malformed "a missing type is named" "missing field 'type'"
inc_doc "$LEAF1" 1 5 "$ROOT5" "$GOOD_PATH" | sed 's/"inclusion"/"exclusion"/' >"$T/m.json"
malformed "an unknown type is refused" "field 'type' must be"
inc_doc "$LEAF1" 1 5 "$ROOT5" "[\"$P1\", \"zz${P2#??}\", \"$P3\"]" >"$T/m.json"
malformed "bad hex in the path is named" "field 'path\[1\]' must be 64 hex"
inc_doc "$LEAF1" 1 5 "${ROOT5}00" "$GOOD_PATH" >"$T/m.json"
malformed "a 33-byte root is refused" "field 'root' must be 64 hex digits.*66 characters"
inc_doc "${LEAF1%??}" 1 5 "$ROOT5" "$GOOD_PATH" >"$T/m.json"
malformed "a 31-byte leaf hash is refused" "field 'leaf_hash' must be 64 hex"
inc_doc "$LEAF1" 1 5 "$ROOT5" "[1, 2, 3]" >"$T/m.json"
malformed "a number in the path is refused" "field 'path\[0\]' must be a string"
inc_doc "$LEAF1" 1 5 "$ROOT5" "\"$P1\"" >"$T/m.json"
malformed "a path that is not an array is refused" "field 'path' must be an array"
inc_doc "$LEAF1" -1 5 "$ROOT5" "$GOOD_PATH" >"$T/m.json"
malformed "a negative leaf_index is refused" "field 'leaf_index' must be a non-negative integer"
inc_doc "$LEAF1" 1 1.5 "$ROOT5" "$GOOD_PATH" >"$T/m.json"
malformed "a fractional tree_size is refused" "field 'tree_size' must be a non-negative integer"
inc_doc "$LEAF1" 1 '"5"' "$ROOT5" "$GOOD_PATH" >"$T/m.json"
malformed "a string tree_size is refused" "field 'tree_size' must be a non-negative integer"
inc_doc "$LEAF1" 1 100000000000000000000000000 "$ROOT5" "$GOOD_PATH" >"$T/m.json"
malformed "a huge tree_size is refused" "too big"
inc_doc "$LEAF1" 1 5 "$ROOT5" "$GOOD_PATH" ', "extra": 1' >"$T/m.json"
malformed "an unknown field is named" "unknown field 'extra'"
inc_doc "$LEAF1" 1 5 "$ROOT5" "$GOOD_PATH" ', "root": "x"' >"$T/m.json"
malformed "a duplicate field is refused" "duplicate"
long="[\"$P1\""
for _ in $(seq 1 64); do long="$long, \"$P1\""; done
inc_doc "$LEAF1" 1 5 "$ROOT5" "$long]" >"$T/m.json"
malformed "a 65-entry inclusion path is refused" "65 entries; no inclusion proof has more than 64"
{ printf '{"type": "inclusion", "pad": "'; head -c 1100000 /dev/zero | tr '\0' a; printf '"}'; } >"$T/m.json"
malformed "a document over 1 MiB is refused" "larger than 1048576 bytes"
printf '\x00\x01\x02' >"$T/m.json"
malformed "binary garbage is refused" "not a JSON proof document"

# ---- leaf input errors ------------------------------------------------------
printf '00\nxyz\n' >"$T/badleaf"
expect_fail_with "line 2: leaf data is not hex" "a non-hex leaf line is named" \
    "$TDEI_BIN" proof root "$T/badleaf"
[ "$status" -eq 2 ] && ok "bad leaf hex exits 2" || fail "bad leaf hex: exit $status"
printf '001\n' >"$T/badleaf"
expect_fail_with "line 1: leaf data is not hex" "odd-length leaf hex is refused" \
    "$TDEI_BIN" proof root "$T/badleaf"
head -c 131074 /dev/zero | tr '\0' 0 >"$T/longleaf"
expect_fail_with "line 1 is longer than 131072 hex digits" \
    "an overlong leaf line is refused" "$TDEI_BIN" proof root "$T/longleaf"
expect_fail_with "cannot open" "a missing leaf file is named" \
    "$TDEI_BIN" proof root "$T/nope"

# ---- usage: --help exits 0, bad options exit 2 ------------------------------
for cmd in root inclusion consistency verify; do
    expect_out "^usage: tdei .*proof $cmd" "proof $cmd --help" \
        "$TDEI_BIN" proof "$cmd" --help
    expect_exit 2 "proof $cmd refuses an unknown option" \
        "$TDEI_BIN" proof "$cmd" --no-such-option "$L"
done
expect_out "^usage: tdei proof COMMAND" "proof --help" "$TDEI_BIN" proof --help
expect_exit 2 "proof with an unknown command exits 2" "$TDEI_BIN" proof frobnicate
expect_exit 2 "inclusion needs --index" "$TDEI_BIN" proof inclusion "$L"
expect_exit 2 "--index needs a value" "$TDEI_BIN" proof inclusion --index
expect_fail_with "--index 8 is outside 0-7" "--index past the last leaf is refused" \
    "$TDEI_BIN" proof inclusion --index 8 "$L"
expect_exit 2 "--index -1 is refused" "$TDEI_BIN" proof inclusion --index -1 "$L"
expect_exit 2 "--old-size 0 is refused" "$TDEI_BIN" proof consistency --old-size 0 "$L"
expect_fail_with "--old-size 9 is outside 1-8" "--old-size past the end is refused" \
    "$TDEI_BIN" proof consistency --old-size 9 "$L"
expect_exit 2 "verify needs a document" "$TDEI_BIN" proof verify
expect_exit 2 "root takes one input" "$TDEI_BIN" proof root "$L" "$L"

finish
