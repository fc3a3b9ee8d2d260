# vm_hostmem.sh - does the budget free host DRAM?  The two-node guest
# (tests/vm/scenarios/hostmem.sh) with free page reporting
# (virtio-balloon-pci,free-page-reporting=on) and the host shim: the
# agent's budget comes from the shim over virtio-serial, 30 s into the
# workload the host lowers it with `vtierctl budget`; the guest prints
# the host memory behind each node once a second.  The host checks that
# the shim's host_resident_bytes of each backing range equals the
# allocated bytes of the file (st_blocks) whenever the file held still,
# and prints the `vtierctl vms` table and the Prometheus samples.  Data
# is checked.  vm_noballoon.sh is the same guest without the device.  The host-memory figures are printed, not
# gated here (they depend on how fast the guest runs: a TCG guest on a
# loaded machine); the gate is tests/vm/scenarios/hostmem.sh's, run by
# hand (README "Host memory behind the budget").  Exit 77 when the test
# bed cannot run here.
set -u
. "${SRC:-.}/tests/buildvars.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu"; exit 77; }
bmake static "$BR/vtier-hostshim" "$BR/vtierctl" || exit 1
ST=$B/static
T=$(mktemp -d /tmp/vtier-hostmem.XXXXXX)
trap 'rm -rf "$T"' EXIT

cat >"$T/host.sh" <<HOST
SRC=$SRC B=$B T=$T
HOST
cat >>"$T/host.sh" <<'HOST'
. "$SRC/tests/vm/host-shim.sh"
host_shim_start hostmem 160M
res() {	# RANGE: the shim's host_resident_bytes of it
	ctl vms --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["vms"][0]["backing"][int(sys.argv[1])]["host_resident_bytes"])' "$1"
}
blocks() { echo $(( $(stat -c %b "$1") * 512 )); }
host_shim_wait_samples
s=0 agree=0 differ=0
while kill -0 $SHIM 2>/dev/null && [ $s -lt 120 ]; do
	# the shim's figure is at most 2 s old: compare it with a file
	# that held still for longer than that
	b0=$(blocks "$VTIER_NODE0_FILE"); b1=$(blocks "$VTIER_NODE1_FILE")
	sleep 2.2; s=$((s + 2))
	if [ "$b0" = "$(blocks "$VTIER_NODE0_FILE")" ] &&
	   [ "$b1" = "$(blocks "$VTIER_NODE1_FILE")" ]; then
		r0=$(res 0) r1=$(res 1)
		if [ "$b0" = "$(blocks "$VTIER_NODE0_FILE")" ] &&
		   [ "$b1" = "$(blocks "$VTIER_NODE1_FILE")" ]; then
			if awk -v a="$r0" -v b="$b0" -v c="$r1" -v d="$b1" \
			    'BEGIN { exit !(a - b <= b / 100 && b - a <= b / 100 && c - d <= d / 100 && d - c <= d / 100) }'
			then agree=$((agree + 1))
			else differ=$((differ + 1))
				echo "differ: shim $r0 $r1, st_blocks $b0 $b1" >>"$T/host.out"
			fi
		fi
	fi
	if [ $s = 30 ]; then
		ctl budget hostmem 110M >>"$T/host.out" 2>&1
		echo "vtierctl budget hostmem 110M (host, t=+30s)" >>"$T/host.out"
		ctl vms >>"$T/host.out"
	fi
	# the latest of each, as the guest may power off at any time
	echo "agree $agree differ $differ" >"$T/agree"
	{ ctl vms; ctl metrics | grep '^vtier_hostshim_vm_host_resident_bytes'
	} >"$T/last.tmp" && mv "$T/last.tmp" "$T/last"
done
wait $SHIM
HOST

start=$(date +%s)
"$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 270 --host-listens \
	--host-sock "$T/guest.sock" --host-cmd "sh $T/host.sh" --host-grace 2 \
	-e SHIM=1 -e GATE=0 -e SECONDS_RUN=75 \
	"$SRC/tests/vm/scenarios/hostmem.sh" "$ST/vtier-agent" "$ST/vtierctl" \
	"$ST/tierload" "$SRC/tests/vm/scenarios/lib.sh" >"$T/out" 2>&1
rc=$?
grep -E '^(scenario|hostres):' "$T/out"
echo "--- host side"
cat "$T/host.out" "$T/last" "$T/agree" 2>/dev/null
if [ $rc != 0 ]; then
	cat "$T/out" "$T/shim.log"
	echo "vm_hostmem: FAILED (exit $rc)"; exit 1
elif ! grep -q '^agree [1-9][0-9]* differ 0$' "$T/agree"; then
	echo "vm_hostmem: the shim's host_resident_bytes and st_blocks disagree"
	exit 1
elif ! grep -q '^vtier_hostshim_vm_host_resident_bytes{vm="hostmem",range="1"} [0-9]' "$T/last"; then
	echo "vm_hostmem: no vtier_hostshim_vm_host_resident_bytes samples"
	exit 1
else
	echo "vm_hostmem: passed in $(( $(date +%s) - start )) s"
fi

