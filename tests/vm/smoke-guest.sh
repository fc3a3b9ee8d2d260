#!/bin/sh
# Scenario run by smoke.sh inside the test-bed guest (busybox sh).  Checks
# that the guest is the machine DESIGN.md describes: two NUMA nodes, node 1
# memory-only, 128 MiB memory blocks memory0-3 on node 0 and memory4-11 on
# node 1, the virtio-serial port, vsock loopback, and move_pages across the
# nodes (numa_probe).  One line per check; exit status = number of failures.
fails=0
ok()   { echo "smoke: ok   $*"; }
bad()  { echo "smoke: FAIL $*"; fails=$((fails + 1)); }
check() {	# description, command...
	d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

N=/sys/devices/system/node
M=/sys/devices/system/memory
echo "smoke: kernel $(uname -r), nodes online $(cat $N/online)," \
	"node0 cpus '$(cat $N/node0/cpulist)', node1 cpus '$(cat $N/node1/cpulist 2>/dev/null)'"

check "node0 and node1 exist" test -d $N/node0 -a -d $N/node1
check "no node2" test ! -e $N/node2
check "nodes online = 0-1" test "$(cat $N/online)" = 0-1
check "node0 has cpus 0-1" test "$(cat $N/node0/cpulist)" = 0-1
check "node1 has no cpus" test -z "$(tr -d ' \n' <$N/node1/cpulist)"

# Memory blocks: 128 MiB each; node 0 = GPA 0-512 MiB, node 1 after it.
check "memory block size 128 MiB" test "$(cat $M/block_size_bytes)" = 8000000
layout_ok=1
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
	want=node1
	[ $i -le 3 ] && want=node0
	got=$(cd $M/memory$i 2>/dev/null && ls -d node* 2>/dev/null)
	state=$(cat $M/memory$i/state 2>/dev/null)
	if [ "$got" != "$want" ] || [ "$state" != online ]; then
		echo "smoke:      memory$i: '$got' '$state', want $want online"
		layout_ok=0
	fi
done
check "memory0-3 on node0, memory4-11 on node1, all online" test $layout_ok = 1
check "no memory12" test ! -e $M/memory12

# The virtio-serial port, found by name as the agent will find it.
port=
for f in /sys/class/virtio-ports/*/name; do
	[ "$(cat "$f" 2>/dev/null)" = "$VTIER_PORT_NAME" ] &&
		port=/dev/$(basename "$(dirname "$f")")
done
check "virtio-serial port $VTIER_PORT_NAME is $port" test -n "$port" -a -c "$port"
check "init exported VTIER_PORT=$VTIER_PORT" test "$VTIER_PORT" = "$port"
check "/dev/virtio-ports/$VTIER_PORT_NAME link" \
	test "$(readlink /dev/virtio-ports/"$VTIER_PORT_NAME")" = "$port"

# Round trip to the host program (smoke.sh runs host-ping.py beside the
# guest).  The host may connect after we are up: wait for it (debugfs
# shows host_connected) so the ping is not dropped by QEMU.
if [ "${VTIER_SMOKE_HOST:-0}" = 1 ]; then
	dbg=/sys/kernel/debug/virtio-ports/$(basename "$port")
	i=0
	while ! grep -q '^host_connected: 1' "$dbg" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1))
	done
	reply=
	# (exec with a failing redirection would end the script: test first)
	if [ -c "$port" ]; then
		exec 3<>"$port"
		echo "ping smoke-$$" >&3
		# shellcheck disable=SC3045  # busybox ash has read -t
		read -t 30 -r reply <&3
		exec 3>&-
	fi
	check "host link: sent 'ping smoke-$$', got '$reply'" \
		test "$reply" = "pong smoke-$$"
fi

check "/dev/vsock exists" test -c /dev/vsock
check "vsock loopback round trip" vsock_ping

# move_pages across the nodes: THP as the kernel defaults (always), and
# base pages only.
check "numa_probe (THP default)" numa_probe
check "numa_probe (no THP)" numa_probe -t off -s 32

echo "smoke: $fails failed"
exit $fails
