# vm_hostmem.sh - does the budget free host DRAM?  The two-node guest
# (tests/vm/scenarios/hostmem.sh) with free page reporting
# (virtio-balloon-pci,free-page-reporting=on) and the host shim: the
# agent's budget comes from the shim over virtio-serial, 30 s into the
# workload the host lowers it with `vtierctl budget`; the guest prints
# the host memory behind each node once a second.  The host checks that
# the shim's host_resident_bytes of each backing range equals the
# allocated bytes of the file (st_blocks) whenever the files held still
# (looked at every 0.5 s),
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
res() {	# the shim's host_resident_bytes of ranges 0 and 1
	ctl vms --json | python3 -c 'import json,sys; b=json.load(sys.stdin)["vms"][0]["backing"]; print(b[0]["host_resident_bytes"], b[1]["host_resident_bytes"])'
}
blocks() { echo $(( $(stat -c %b "$1") * 512 )); }
both() { echo "$(blocks "$VTIER_NODE0_FILE") $(blocks "$VTIER_NODE1_FILE")"; }
host_shim_wait_samples
t0=$(date +%s) agree=0 differ=0 still=0 prev= cut= tick=0
while kill -0 $SHIM 2>/dev/null && [ $(( $(date +%s) - t0 )) -lt 240 ]; do
	# Both files every 0.5 s.  The shim's figure is at most 2 s old
	# (RESIDENT_REFRESH_NS): once the files have held still for 2.5 s,
	# ask it, and count its answer if they still hold still after it
	# came.  A loaded guest changes them nearly all the time and its
	# still windows can be a few seconds long: the check this replaced
	# (two looks 2.2 s apart, then the queries, then the table, once a
	# round) found none in a run beside two make checks, where the
	# guest's last still window lasted about 6 s.
	cur=$(both)
	if [ "$cur" = "$prev" ]; then still=$((still + 1)); else still=0 prev=$cur; fi
	if [ $still -ge 5 ]; then
		r=$(res)
		if [ "$(both)" = "$cur" ]; then
			if echo "$r $cur" | awk '{ exit !($1 - $3 <= $3 / 100 && $3 - $1 <= $3 / 100 && $2 - $4 <= $4 / 100 && $4 - $2 <= $4 / 100) }'
			then agree=$((agree + 1))
			else differ=$((differ + 1))
				echo "differ: shim $r, st_blocks $cur" >>"$T/host.out"
			fi
		fi
		still=0
	fi
	if [ -z "$cut" ] && [ $(( $(date +%s) - t0 )) -ge 30 ]; then
		ctl budget hostmem 110M >>"$T/host.out" 2>&1
		echo "vtierctl budget hostmem 110M (host, t=+30s)" >>"$T/host.out"
		ctl vms >>"$T/host.out"
		cut=1
	fi
	# the latest of each, as the guest may power off at any time
	echo "agree $agree differ $differ" >"$T/agree"
	tick=$((tick + 1))
	if [ $((tick % 4)) = 1 ]; then
		{ ctl vms; ctl metrics | grep '^vtier_hostshim_vm_host_resident_bytes'
		} >"$T/last.tmp" && mv "$T/last.tmp" "$T/last"
	fi
	sleep 0.5
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

