# shim_restart.sh - the shim goes away and comes back: killed (SIGKILL:
# no BYE, stale sockets left) and restarted, a connected agent
# reconnects and gets WELCOME with its budget; stopped (SIGTERM: the
# agent hears BYE "restart" first) and started again, the same.  A
# budget set with vtierctl lives until the restart; the file's applies
# after it.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-shimrst.XXXXXX)
. "$SRC/tests/tools/shim_lib.sh"
trap shim_cleanup EXIT

cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = no
[vm a]
socket = $T/a.sock
budget = 300M
INI
shim_start "$T/shim.ini"
"$A" -t 40 watch "$T/a.sock" --reconnect --welcomes 3 >"$T/watch" &
wpid=$!; bg_pids="$bg_pids $wpid"
wait_for grep -q "WELCOME a 314572800" "$T/watch"
"$CTL" --shim "$T/ctl.sock" budget a 1G
wait_for grep -q "BUDGET 1073741824" "$T/watch"

# SIGKILL: no BYE; the agent sees EOF and reconnects to the new shim
shim_stop KILL || true
wait_for grep -q EOF "$T/watch"
t0=$(date +%s%3N)
shim_start "$T/shim.ini"
wait_for count_ge 2 'WELCOME a 314572800' "$T/watch"
t1=$(grep 'WELCOME a 314572800' "$T/watch" | sed -n '2s/ .*//p')
echo "after SIGKILL + restart: WELCOME again $((t1 - t0)) ms after the restart began"

# SIGTERM: BYE (restart) first, then EOF; back when the shim is
shim_stop TERM
wait_for grep -q "BYE 2" "$T/watch"
shim_start "$T/shim.ini"
wait $wpid
cat "$T/watch"
[ "$(grep -c 'WELCOME a 314572800' "$T/watch")" -eq 3 ]
shim_stop TERM
echo "shim_restart: ok"
