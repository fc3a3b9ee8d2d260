#!/bin/sh
# Scenario run by smoke.sh inside the test-bed guest (busybox sh).  Checks
# that the guest is the machine DESIGN.md describes: two NUMA nodes, node 1
# memory-only, 128 MiB memory blocks memory0-3 on node 0 and memory4-11 on
# node 1, the virtio-serial port, vsock loopback, move_pages across the
# nodes (numa_probe), free page reporting (virtio_balloon) and the host's
# residency lines.  One line per check; exit status = number of failures.
fails=0
ok()   { echo "smoke: ok   $*"; }
bad()  { echo "smoke: FAIL $*"; fails=$((fails + 1)); }
check() {	# description, command...
	d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

N=/sys/devices/system/node
M=/sys/devices/system/memory
# as tests/vm/scenarios/lib.sh's: the latest of run-guest.sh's lines
host_resident() {
	v=$(sed -n '/^host_resident ms=[0-9]* node0=[0-9]* node1=[0-9]*$/h; ${x;p}' \
		/run/host_resident 2>/dev/null | sed -n "s/.* node$1=\([0-9]*\).*/\1/p")
	echo "${v:-0}"
}
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

# Free page reporting: the balloon device (run-guest.sh adds it) bound to
# virtio_balloon with VIRTIO_BALLOON_F_REPORTING (feature bit 5).
balloon=
for d in /sys/bus/virtio/drivers/virtio_balloon/virtio*; do
	[ -e "$d" ] && balloon=$(basename "$d")
done
check "virtio_balloon bound ($balloon)" test -n "$balloon"
check "free page reporting negotiated" test "$(cut -c6 \
	/sys/bus/virtio/devices/"$balloon"/features 2>/dev/null)" = 1
check "page_reporting_order $(cat /sys/module/page_reporting/parameters/page_reporting_order 2>/dev/null)" \
	test -r /sys/module/page_reporting/parameters/page_reporting_order
# The host's residency of each node's backing file, every 0.5 s.
i=0
while [ "$(host_resident 0)" = 0 ] && [ $i -lt 50 ]; do
	sleep 0.2; i=$((i + 1))
done
check "host residency: node0 $(( $(host_resident 0) / 1048576 )) MiB, node1 $(( $(host_resident 1) / 1048576 )) MiB" \
	test "$(host_resident 0)" -gt 0

check "/dev/vsock exists" test -c /dev/vsock
check "vsock loopback round trip" vsock_ping

# move_pages across the nodes: THP as the kernel defaults (always), and
# base pages only.
check "numa_probe (THP default)" numa_probe
check "numa_probe (no THP)" numa_probe -t off -s 32

echo "smoke: $fails failed"
exit $fails
