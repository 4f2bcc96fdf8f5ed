# Helpers shared by the integration tests that run a localnet's nodes as
# processes of their own (test_net.sh, test_valset.sh, test_payload.sh,
# test_stream_plane.sh, test_observer.sh, test_audit.sh). Source it after
# tests/cli/lib.sh, once LN (the localnet directory) is set. Node I's
# home is $LN/nodeI; its pid is ${pids[I]}; its output goes to
# $LN/nodeI/test.log.

declare -a pids=()

# Kill every node this test started, by pid, and reap it.
stop_all() {
    local i
    for i in "${!pids[@]}"; do
        [ -n "${pids[$i]}" ] && kill -KILL "${pids[$i]}" 2>/dev/null
    done
    for i in "${!pids[@]}"; do
        [ -n "${pids[$i]}" ] && wait "${pids[$i]}" 2>/dev/null
    done
}

# On a failure, the end of each node's log goes to the test's log.
show_logs() {
    local d
    [ "$failed" -eq 0 ] && return 0
    for d in "$LN"/node*; do
        [ -f "$d/test.log" ] || continue
        echo "---- ${d##*/}: $d/test.log (end)"
        tail -n 40 "$d/test.log"
    done
}

# start_node I [VAR=VALUE...]: start node I, with those environment
# variables.
start_node() {
    local i=$1
    shift
    env "$@" "$TDEI_NODE_BIN" --home "$LN/node$i" >>"$LN/node$i/test.log" 2>&1 &
    pids[$i]=$!
}

kill_node() {
    kill -KILL "${pids[$1]}" 2>/dev/null
    wait "${pids[$1]}" 2>/dev/null
    pids[$1]=""
}

# height I: node I's committed height, or -1 when it does not answer.
height() {
    local h
    h=$("$TDEI_BIN" --node "$LN/node$1/api.sock" --json status 2>/dev/null |
        grep -m1 -oE '^  "height": *[0-9]+' | grep -oE '[0-9]+$')
    echo "${h:--1}"
}

# wait_height I H SECONDS: until node I has committed height H.
wait_height() {
    local end=$((SECONDS + $3))
    while [ "$SECONDS" -lt "$end" ]; do
        [ "$(height "$1")" -ge "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

api() { # api I ARGS...: the tdei CLI against node I's API, JSON out
    "$TDEI_BIN" --node "$LN/node$1/api.sock" --json "${@:2}" 2>/dev/null
}

block_field() { # block_field I H FIELD: a hex field of block H on node I
    api "$1" block show "$2" | grep -oE "\"$3\": *\"[0-9a-f-]+\"" |
        grep -oE '"[0-9a-f-]+"$' | tr -d '"'
}

signers() { # signers I H: the keys whose precommits committed block H
    api "$1" block show "$2" | sed -n '/"commit_signers"/,/]/p' | grep -oE '[0-9a-f]{64}'
}

node_key() {
    "$TDEI_BIN" --home "$LN/node$1" --json keys show --key node 2>/dev/null |
        grep -oE '"public": *"[0-9a-f]{64}"' | grep -oE '[0-9a-f]{64}'
}

member_of() { sed -n 's/^member = //p' "$LN/node$1/config.ini"; }

check() { # check NAME CMD...: CMD succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else fail "$name"; fi
}

tx_height() {
    api 0 tx show "$1" | grep -m1 -oE '"height": *[0-9]+' | grep -oE '[0-9]+$'
}

# fast_config I [PROPOSE_MS EMPTY_MS]: short consensus timeouts, empty
# blocks and back-offs in node I's config.ini (default 1500 and 300 ms),
# so that a test waits seconds, not minutes.
fast_config() {
    sed -i -e "s/^timeout_propose_ms = .*/timeout_propose_ms = ${2:-1500}/" \
        -e 's/^timeout_prevote_ms = .*/timeout_prevote_ms = 500/' \
        -e 's/^timeout_precommit_ms = .*/timeout_precommit_ms = 500/' \
        -e 's/^timeout_\(propose\|prevote\|precommit\)_delta_ms = .*/timeout_\1_delta_ms = 100/' \
        -e "s/^empty_block_interval_ms = .*/empty_block_interval_ms = ${3:-300}/" \
        -e 's/^gossip_interval_ms = .*/gossip_interval_ms = 300/' \
        -e 's/^backoff_max_ms = .*/backoff_max_ms = 1000/' \
        -e 's/^ban_ms = .*/ban_ms = 1500/' \
        "$LN/node$1/config.ini"
}

# peer_with I N: node I's peers are the p2p listen addresses of nodes
# 0 .. N-1.
peer_with() {
    local peers="" k
    for ((k = 0; k < $2; k++)); do
        peers="$peers${peers:+,}$(sed -n '/^\[p2p\]/,$ s/^listen = //p' "$LN/node$k/config.ini")"
    done
    sed -i -e "s/^peers = .*/peers = $peers/" "$LN/node$1/config.ini"
}
