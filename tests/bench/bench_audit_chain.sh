#!/usr/bin/env bash
# How long `tdei audit chain` takes per 1000 blocks; one JSON object on
# stdout. Not run by `make check` (timings on shared machines are noise).
#
#   tests/bench/bench_audit_chain.sh [BLOCKS] [TX_SECONDS]
#
# From the build directory (it uses ./tdei and ./tdei-node, or $TDEI_BIN
# and $TDEI_NODE_BIN). Two chains on 127.0.0.1, each in a new directory
# under $TMPDIR removed at the end, each node started and stopped by pid:
#  empty  a 1-validator chain of BLOCKS (default 1000) empty blocks (one
#         every ~10 ms), audited against the node's API and then offline
#         from its export (--blocks-from): the cost of fetching, decoding,
#         checking the header, the commit and the last commit, executing
#         and committing one block in the scratch store;
#  four   a 4-validator localnet (`tdei localnet up`, blocks every ~10
#         ms) of BLOCKS blocks, audited against node 0 while the nodes
#         run, and offline from its export after they stopped: 3 or 4 precommit
#         signatures per commit, each commit verified as the block's own
#         commit and again as the next block's last_commit;
#  txs    `tdei bench --nodes 1 --rate 400 --duration TX_SECONDS` (default
#         10) leaves a chain of blocks full of signed transfers, audited
#         against its node: that cost adds one BIP-340 check and one
#         execution per tx.
# Fields: for each chain, blocks, txs, seconds, seconds_per_1000_blocks
# (and per_1000_txs for the txs chain), peak_rss_kib of the audit
# process (/usr/bin/time), and the offline run of the empty chain.
set -u
BLOCKS=${1:-1000}
TX_SECONDS=${2:-10}
BIN=${TDEI_BIN:-./tdei}
NODE_BIN=${TDEI_NODE_BIN:-./tdei-node}
W=$(mktemp -d "${TMPDIR:-/tmp}/tdei-bench-audit-XXXXXX")
node_pid=""
cleanup() {
    if [ -n "$node_pid" ]; then
        kill -TERM "$node_pid" 2>/dev/null
        wait "$node_pid" 2>/dev/null
    fi
    "$BIN" localnet down --dir "$W/ln" >/dev/null 2>&1
    "$BIN" localnet down --dir "$W/ln4" >/dev/null 2>&1
    rm -rf "$W"
}
trap cleanup EXIT
die() {
    echo "bench_audit_chain: $*" >&2
    exit 1
}

# field NAME FILE: a number of a JSON object.
field() { grep -m1 -oE "\"$1\": *[0-9.e+-]+" "$2" | grep -oE '[0-9.e+-]+$'; }

# audit OUT ARGS...: time `tdei --json ARGS audit chain`; peak RSS in OUT.rss.
audit() {
    local out=$1
    shift
    /usr/bin/time -f '%M' -o "$out.rss" "$BIN" --json "$@" >"$out" 2>"$out.err" ||
        die "audit chain failed: $(cat "$out.err")"
}

# ---- empty blocks -------------------------------------------------------------
H=$W/one
"$BIN" --home "$H" init --member bench-svc --role public_service >/dev/null &&
    "$BIN" --home "$H" genesis new --chain-id bench-audit >/dev/null &&
    "$BIN" --home "$H" genesis add-member --from-home "$H" --validator --balance 1000 >/dev/null ||
    die "cannot make the home"
sed -i -e 's/^block_interval_ms = .*/block_interval_ms = 10/' \
    -e 's/^empty_block_interval_ms = .*/empty_block_interval_ms = 1/' "$H/config.ini"
"$NODE_BIN" --home "$H" >"$W/node.log" 2>&1 &
node_pid=$!
end=$((SECONDS + 600))
while :; do
    h=$("$BIN" --home "$H" --json status 2>/dev/null | grep -m1 -oE '^  "height": *[0-9]+' | grep -oE '[0-9]+$')
    [ "${h:-0}" -ge "$BLOCKS" ] && break
    [ "$SECONDS" -lt "$end" ] || die "the chain did not reach $BLOCKS blocks in 600 s"
    sleep 0.5
done
audit "$W/empty.json" --home "$H" audit chain --to "$BLOCKS" --export "$W/export"
kill -TERM "$node_pid" 2>/dev/null
wait "$node_pid" 2>/dev/null
node_pid=""
audit "$W/offline.json" --home "$H" audit chain --blocks-from "$W/export"

# ---- 4 validators: 3 or 4 precommits per commit -----------------------------------
"$BIN" localnet up --nodes 4 --dir "$W/ln4" >/dev/null 2>"$W/ln4.err" ||
    die "localnet up failed: $(cat "$W/ln4.err")"
"$BIN" localnet down --dir "$W/ln4" >/dev/null 2>&1
for i in 0 1 2 3; do
    sed -i -e 's/^block_interval_ms = .*/block_interval_ms = 10/' \
        -e 's/^empty_block_interval_ms = .*/empty_block_interval_ms = 10/' \
        "$W/ln4/node$i/config.ini"
done
"$BIN" localnet up --nodes 4 --dir "$W/ln4" >/dev/null 2>"$W/ln4.err" ||
    die "localnet up (again) failed: $(cat "$W/ln4.err")"
end=$((SECONDS + 900))
while :; do
    h=$("$BIN" --home "$W/ln4/node0" --json status 2>/dev/null | grep -m1 -oE '^  "height": *[0-9]+' | grep -oE '[0-9]+$')
    [ "${h:-0}" -ge "$BLOCKS" ] && break
    [ "$SECONDS" -lt "$end" ] || die "the 4-node chain did not reach $BLOCKS blocks in 900 s"
    sleep 1
done
audit "$W/four.json" --home "$W/ln4/node0" audit chain --to "$BLOCKS" --export "$W/export4"
"$BIN" localnet down --dir "$W/ln4" >/dev/null 2>&1
# Offline too: the nodes above kept making blocks on the same cores.
audit "$W/four_offline.json" --home "$W/ln4/node0" audit chain --blocks-from "$W/export4"

# ---- blocks full of txs ---------------------------------------------------------
"$BIN" bench --nodes 1 --duration "$TX_SECONDS" --rate 400 --dir "$W/ln" --keep \
    >"$W/load.json" 2>"$W/load.err" || die "tdei bench failed: $(cat "$W/load.err")"
audit "$W/txs.json" --home "$W/ln/node0" audit chain
"$BIN" localnet down --dir "$W/ln" >/dev/null 2>&1

per() { # per N SECONDS: seconds per 1000 N
    awk -v n="$1" -v s="$2" 'BEGIN { if (n > 0) printf "%.3f", s * 1000 / n; else printf "0" }'
}
eb=$(field blocks "$W/empty.json")
es=$(field seconds "$W/empty.json")
ob=$(field blocks "$W/offline.json")
os=$(field seconds "$W/offline.json")
fb=$(field blocks "$W/four.json")
fs=$(field seconds "$W/four.json")
fg=$(field signatures "$W/four.json")
f2s=$(field seconds "$W/four_offline.json")
tb=$(field blocks "$W/txs.json")
tt=$(field txs "$W/txs.json")
ts=$(field seconds "$W/txs.json")
cat <<EOF
{
  "empty": {"blocks": $eb, "seconds": $es, "seconds_per_1000_blocks": $(per "$eb" "$es"),
            "peak_rss_kib": $(cat "$W/empty.json.rss")},
  "empty_offline": {"blocks": $ob, "seconds": $os, "seconds_per_1000_blocks": $(per "$ob" "$os"),
                    "peak_rss_kib": $(cat "$W/offline.json.rss")},
  "four_validators": {"blocks": $fb, "commit_signatures": $fg, "seconds": $fs,
                      "seconds_per_1000_blocks": $(per "$fb" "$fs"),
                      "peak_rss_kib": $(cat "$W/four.json.rss")},
  "four_validators_offline": {"blocks": $fb, "seconds": $f2s,
                              "seconds_per_1000_blocks": $(per "$fb" "$f2s"),
                              "peak_rss_kib": $(cat "$W/four_offline.json.rss")},
  "txs": {"blocks": $tb, "txs": $tt, "seconds": $ts,
          "seconds_per_1000_blocks": $(per "$tb" "$ts"),
          "seconds_per_1000_txs": $(per "$tt" "$ts"),
          "peak_rss_kib": $(cat "$W/txs.json.rss")}
}
EOF
