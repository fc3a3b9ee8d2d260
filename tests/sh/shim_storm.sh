# shim_storm.sh - 500 concurrent connections over 50 VMs' Unix sockets
# (a generated hostshim.ini): 300 well-behaved agents, 100 slow ones
# dribbling their HELLO a byte every 10 ms, 50 hostile (garbage, an
# oversized length, half-open, a frame cut short) and 50 that flood
# PINGs and never read.  Every well-behaved and slow one must get
# WELCOME with its VM's budget, every hostile one and flooder must be
# closed by the shim, and the shim must serve on afterwards with all
# connections and fds released.  Prints the timings.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-shimstorm.XXXXXX)
. "$SRC/tests/tools/shim_lib.sh"
trap shim_cleanup EXIT
NVMS=50
NCONN=${SHIM_STORM_CONNECTIONS:-500}

{
	printf '[shim]\ncontrol_socket = %s/ctl.sock\nlisten_vsock = no\n' "$T"
	printf 'handshake_timeout = 2s\nmax_connections = 1024\n'
	printf 'max_connections_per_vm = 16\nlog_level = warn\n'
	for i in $(seq 0 $((NVMS - 1))); do
		printf '\n[vm vm%d]\nsocket = %s/vm%d.sock\nbudget = %dM\n' \
			"$i" "$T" "$i" $((64 + i))
	done
} >"$T/shim.ini"
shim_start "$T/shim.ini"
fds0=$(ls /proc/$shim_pid/fd | wc -l)
cpu() { awk '{ print $14 + $15 }' /proc/$shim_pid/stat; }
hz=$(getconf CLK_TCK)
c0=$(cpu)

rc=0
"$A" -t 30 storm "$T" $NVMS $NCONN >"$T/storm" 2>&1 || rc=$?
cat "$T/storm"
c1=$(cpu)
echo "storm: the shim used $(( (c1 - c0) * 1000 / hz )) ms of CPU time"
[ $rc -eq 0 ]

# still serving; every connection and fd given back
"$A" hello "$T/vm7.sock" vm7 71M
wait_for sh -c "\"$CTL\" --shim \"$T/ctl.sock\" vms --json | grep -q '\"connections\": 0,'"
"$CTL" --shim "$T/ctl.sock" vms --json >"$T/v.json"
echo "storm: shim counters: $(json_get "$T/v.json" 'd["ends"]'), accepted $(json_get "$T/v.json" 'd["accepted"]')"
[ "$(json_get "$T/v.json" 'd["ends"]["slow_reader"]')" -ge $((NCONN / 10)) ]
fds1=$(ls /proc/$shim_pid/fd | wc -l)
[ "$fds1" -eq "$fds0" ]
shim_stop TERM
echo "shim_storm: ok"
