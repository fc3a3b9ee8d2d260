# shim_socket_owner.sh - [vm] socket_owner and socket_mode on a real
# shim: -n prints them; an unknown user stops start-up with FILE:LINE;
# the VM socket is nobody:nogroup 0660, user nobody and a member of
# nogroup connect, a user outside the group is refused (EACCES); SIGHUP
# with socket_mode = 0600 remakes it and the group member is refused
# while the owner still connects; a reload naming an unknown user is
# refused and changes nothing; SIGTERM exits 0 and removes the socket.
# Needs root (chown to another user); nobody and nogroup as on Debian.
set -eu
: "${B:=build}" "${SRC:=.}"
[ "$(id -u)" = 0 ] || { echo "shim_socket_owner: needs root (chown)"; exit 1; }
T=$(mktemp -d /tmp/vtier-shimown.XXXXXX)
. "$SRC/tests/tools/shim_lib.sh"
trap shim_cleanup EXIT
chmod 755 "$T"		# the connecting users must reach the socket
NOBODY=$(id -u nobody)
NOGROUP=$(getent group nogroup | cut -d: -f3)
STRANGER=65000		# no such user: in no group but its own

# connect_as UID GID: "connected", or the errno name connect() failed with
connect_as() {
	PATH=/usr/local/bin:/usr/bin:/bin setpriv --reuid="$1" --regid="$2" \
	    --clear-groups python3 -c '
import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$T/a.sock"
}

write_ini() {	# socket_owner socket_mode
	cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = no
[vm a]
socket = $T/a.sock
socket_owner = $1
socket_mode = $2
budget = 1G
INI
}

write_ini nobody:nogroup 0660
"$B/vtier-hostshim" -n -c "$T/shim.ini" >"$T/out"
grep -qx 'socket_owner = nobody:nogroup' "$T/out"
grep -qx 'socket_mode = 0660' "$T/out"

write_ini vtier-no-such-user 0660
rc=0; "$B/vtier-hostshim" -c "$T/shim.ini" 2>"$T/err" || rc=$?
cat "$T/err"
[ $rc -eq 2 ]
grep -q "$T/shim.ini:6: \[vm a\] socket_owner: no such user 'vtier-no-such-user' (expected" "$T/err"
[ ! -e "$T/a.sock" ]

write_ini nobody:nogroup 0660
shim_start "$T/shim.ini"
[ "$(stat -c '%U:%G %a' "$T/a.sock")" = "nobody:nogroup 660" ]
[ "$(connect_as "$NOBODY" "$NOGROUP")" = connected ]
[ "$(connect_as "$STRANGER" "$NOGROUP")" = connected ]	# by its group
[ "$(connect_as "$STRANGER" "$STRANGER")" = EACCES ]
"$A" hello "$T/a.sock" a 1G	# root still speaks the protocol there

# SIGHUP: 0600, the socket is made anew; only its owner gets in now
write_ini nobody:nogroup 0600
kill -HUP "$shim_pid"
wait_for grep -q "reloaded $T/shim.ini" "$T/shim.log"
[ "$(stat -c '%U:%G %a' "$T/a.sock")" = "nobody:nogroup 600" ]
[ "$(connect_as "$STRANGER" "$NOGROUP")" = EACCES ]
[ "$(connect_as "$NOBODY" "$NOGROUP")" = connected ]
"$A" hello "$T/a.sock" a 1G

# a reload naming an unknown user is refused: the socket stays as it is
write_ini nobody:vtier-no-such-group 0660
kill -HUP "$shim_pid"
wait_for grep -q "reload failed.*socket_owner: no such group 'vtier-no-such-group'" "$T/shim.log"
[ "$(stat -c '%U:%G %a' "$T/a.sock")" = "nobody:nogroup 600" ]
[ "$(connect_as "$NOBODY" "$NOGROUP")" = connected ]

shim_stop TERM
[ ! -e "$T/a.sock" ]
echo "shim_socket_owner: ok"
