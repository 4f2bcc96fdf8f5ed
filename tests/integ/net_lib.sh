# Helpers shared by the integration tests that run a localnet's nodes as
# processes of their own (test_net.sh, test_valset.sh, test_payload.sh,
# test_stream_plane.sh). Source it after tests/cli/lib.sh, once LN (the
# localnet directory) is set. Node I's home is $LN/nodeI; its pid is
# ${pids[I]}; its output goes to $LN/nodeI/test.log.

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
