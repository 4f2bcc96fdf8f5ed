# Helpers for the shell tests that run localnets (source it after lib.sh;
# bash only):
#
#   is_node PID        PID is a running tdei-node (by /proc/PID/exe)
#   stop_recorded      TERM, then KILL, every tdei-node whose pid a
#                      node.pid file under $T/*/ records
#   trap 'stop_recorded; rm -rf "$T"' EXIT
#
# Only pids that the test's own localnets recorded are ever signalled.

# is_node PID: PID is a running tdei-node.
is_node() {
    case "$(readlink "/proc/$1/exe" 2>/dev/null)" in
    */tdei-node | */tdei-node" (deleted)") return 0 ;;
    *) return 1 ;;
    esac
}

# stop_recorded: TERM, then KILL, every tdei-node recorded under $T.
stop_recorded() {
    local f pid alive pids=()
    for f in "$T"/*/node*/node.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        is_node "$pid" && pids+=("$pid")
    done
    [ ${#pids[@]} -eq 0 ] && return 0
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 1 100); do
        alive=0
        for pid in "${pids[@]}"; do is_node "$pid" && alive=1; done
        [ "$alive" -eq 0 ] && return 0
        sleep 0.05
    done
    for pid in "${pids[@]}"; do is_node "$pid" && kill -KILL "$pid"; done
}
