# shim_cli.sh - vtier-hostshim's command line and start-up: -n accepts the
# shipped hostshim.ini and prints a config that loads again; broken files
# exit 2 naming FILE:LINE; -V; bad options exit 2; a second shim on the
# same control socket is refused; SIGTERM exits 0 and removes the
# sockets; a stale socket left by a killed shim is replaced; AF_VSOCK is
# used where it exists and its absence never stops start-up; vtierctl's
# shim commands exit 1 (unreachable, unknown VM) or 2 (usage).
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-shimcli.XXXXXX)
. "$SRC/tests/tools/shim_lib.sh"
trap shim_cleanup EXIT

"$B/vtier-hostshim" -n -c "$SRC/hostshim/hostshim.ini" >"$T/out"
grep -q '^\[shim\]' "$T/out"
grep -q '^vsock_port = 7340$' "$T/out"
"$B/vtier-hostshim" -n -c "$T/out" >"$T/out2"
cmp "$T/out" "$T/out2"

cat >"$T/bad.ini" <<INI
[shim]
control_socket = $T/ctl.sock

[vm a]
socket = $T/a.sock
budget = lots
INI
rc=0; "$B/vtier-hostshim" -n -c "$T/bad.ini" 2>"$T/err" || rc=$?
cat "$T/err"
[ $rc -eq 2 ]
grep -q "$T/bad.ini:6: \[vm a\] budget: bad size 'lots'" "$T/err"
# the daemon itself refuses it the same way, before opening anything
rc=0; "$B/vtier-hostshim" -c "$T/bad.ini" 2>"$T/err" || rc=$?
[ $rc -eq 2 ]
grep -q "$T/bad.ini:6:" "$T/err"
[ ! -e "$T/ctl.sock" ]

rc=0; "$B/vtier-hostshim" -n -c "$T/missing.ini" 2>"$T/err" || rc=$?
[ $rc -eq 2 ]
grep -q "missing.ini" "$T/err"
rc=0; "$B/vtier-hostshim" --bogus 2>/dev/null || rc=$?
[ $rc -eq 2 ]
rc=0; "$B/vtier-hostshim" extra-arg 2>/dev/null || rc=$?
[ $rc -eq 2 ]
"$B/vtier-hostshim" -V | grep -q '^vtier-hostshim [0-9]'

# vtierctl without a shim, and with bad arguments
rc=0; "$CTL" --shim "$T/none.sock" vms 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "is vtier-hostshim running" "$T/err"
rc=0; VTIER_SHIM_SOCKET="$T/none.sock" "$CTL" budget a 1G 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "$T/none.sock" "$T/err"
rc=0; "$CTL" --shim "$T/none.sock" budget a lots 2>"$T/err" || rc=$?
[ $rc -eq 2 ]
grep -q "bad budget 'lots'" "$T/err"
rc=0; "$CTL" --shim "$T/none.sock" budget a 2>/dev/null || rc=$?
[ $rc -eq 2 ]

# a running shim; vsock on a port of its own
port=$(( 20000 + $$ % 20000 ))
cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = yes
vsock_port = $port
[vm a]
socket = $T/a.sock
budget = 1G
INI
shim_start "$T/shim.ini"
ls -l "$T"
[ "$(stat -c %a "$T/ctl.sock")" = 600 ]
[ "$(stat -c %a "$T/a.sock")" = 660 ]
# vsock: listening here, or said once and carried on without it
grep -q -e "listening on vsock port $port" -e "serving Unix sockets only" "$T/shim.log"
"$CTL" --shim "$T/ctl.sock" vms --json >"$T/vms.json"
if grep -q "listening on vsock port" "$T/shim.log"; then
	[ "$(json_get "$T/vms.json" 'd["vsock"]["listening"]')" = True ]
	echo "AF_VSOCK: listening on port $port"
else
	[ "$(json_get "$T/vms.json" 'd["vsock"]["listening"]')" = False ]
	echo "AF_VSOCK: unavailable here, Unix sockets only"
fi
"$A" hello "$T/a.sock" a 1G
rc=0; "$CTL" --shim "$T/ctl.sock" budget nosuchvm 2G 2>"$T/err" || rc=$?
cat "$T/err"
[ $rc -eq 1 ]
grep -q "no VM named 'nosuchvm' (known: a)" "$T/err"

# a second shim on the same sockets is refused
rc=0; "$B/vtier-hostshim" -c "$T/shim.ini" 2>"$T/err2" || rc=$?
cat "$T/err2"
[ $rc -eq 1 ]
grep -q "another vtier-hostshim is running" "$T/err2"
[ -S "$T/ctl.sock" ]
"$A" hello "$T/a.sock" a 1G

# SIGTERM: exit 0, sockets gone
shim_stop TERM
[ ! -e "$T/ctl.sock" ] && [ ! -e "$T/a.sock" ]
grep -q "signal 15: exiting" "$T/shim.log"

# SIGKILL leaves stale sockets; the next start replaces them
shim_start "$T/shim.ini"
shim_stop KILL || true
[ -S "$T/ctl.sock" ] && [ -S "$T/a.sock" ]
shim_start "$T/shim.ini"
"$A" hello "$T/a.sock" a 1G
# a regular file where a socket should be is left alone
shim_stop TERM
echo precious >"$T/a.sock"
SHIM_NOWAIT=1 shim_start "$T/shim.ini"
wait_for grep -q "a file that is not a socket is in the way" "$T/shim.log"
grep -q "a file that is not a socket is in the way" "$T/shim.log"
[ "$(cat "$T/a.sock")" = precious ]
shim_stop TERM
echo "shim_cli: ok"
