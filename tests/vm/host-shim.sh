# host-shim.sh - the host shim beside a test-bed guest (sourced, not run,
# by the script a test gives run-guest.sh --host-listens --host-cmd):
# writes $T/shim.ini for one VM served over virtio-serial on the guest's
# chardev socket, its two nodes' backing files as backing, and starts
# vtier-hostshim on it.  Never stops the shim by itself: the caller
# waits for it (run-guest.sh ends the host command after the guest).
#   B, T      the build dir and the test's scratch directory
#   VTIER_*   what run-guest.sh gives the host command
# After host_shim_start: SHIM the shim's pid, SHIM_CTL its control socket,
# $T/shim.log its stderr.

# host_shim_start NAME BUDGET [LINE]...: the [vm NAME] with budget BUDGET
# and each LINE (e.g. 'prefault_cap = 1G') after its backing lines.
host_shim_start() {
	SHIM_CTL=$VTIER_VM_DIR/shim-ctl.sock
	{
		cat <<INI
[shim]
control_socket = $SHIM_CTL
listen_vsock = no
[vm $1]
socket = $VTIER_HOST_SOCK
serial = yes
budget = $2
backing = $VTIER_NODE0_FILE:0@0+${VTIER_NODE0_MIB}M
backing = $VTIER_NODE1_FILE:0@${VTIER_NODE0_MIB}M+${VTIER_NODE1_MIB}M
INI
		shift 2
		[ $# = 0 ] || printf '%s\n' "$@"
	} >"$T/shim.ini"
	"$B/vtier-hostshim" -c "$T/shim.ini" 2>"$T/shim.log" &
	SHIM=$!
}

# host_shim_restart: stop the shim (TERM), start a new one on the same
# ini, its stderr added to the log.
host_shim_restart() {
	kill -TERM $SHIM; wait $SHIM
	"$B/vtier-hostshim" -c "$T/shim.ini" 2>>"$T/shim.log" &
	SHIM=$!
}

# ctl ARGS...: vtierctl on the shim's control socket.
ctl() { "$B/vtierctl" --shim "$SHIM_CTL" "$@"; }

# host_shim_wait_samples: until the guest's agent reports samples in its
# STATS (2 minutes at most).
host_shim_wait_samples() {
	i=0
	until ctl vms --json 2>/dev/null | grep -q '"samples": [1-9]'; do
		sleep 0.5; i=$((i + 1)); [ $i -lt 240 ] || break
	done
}
