# vm_agent.sh - the agent tiering a real workload in the two-node guest,
# one boot per scenario: promotion (and a workload exiting
# mid-migration), budget shrink, phase change, SIGKILL + restart, cold
# memory on the fast node that is never sampled (adoption); creep, memory
# the agent did not move taking node 0 over the budget, is vm_creep's
# (each test has its own 300 s).  Every scenario also checks that the
# workload's data is intact.
set -u
. "${SRC:-.}/tests/buildvars.sh"
bmake static || exit 1
ST=$B/static
fails=0
for s in ${VM_SCENARIOS:-promote shrink phases restart cold}; do
	start=$(date +%s)
	# shrink gates the guest's own count of node 0 (MemUsed) against the
	# budget every half second.  With free page reporting, the guest
	# kernel takes up to 32 free 2 MiB blocks off the free lists while the
	# host discards them, and MemUsed counts them meanwhile: under load
	# that read up to 2 MiB over an 86 MiB budget (1 of 3 runs; 0 of 3
	# without the device, at most 80).  What the host keeps of a shrink
	# with reporting on is vm_hostmem's gate.
	nb=""; [ $s = shrink ] && nb=--no-balloon
	"$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 240 $nb \
		"$SRC/tests/vm/scenarios/$s.sh" "$ST/vtier-agent" "$ST/vtierctl" \
		"$ST/tierload" "$SRC/tests/vm/scenarios/lib.sh" >"/tmp/vm_agent.$$.out" 2>&1
	rc=$?
	grep -E '^scenario:' "/tmp/vm_agent.$$.out"
	if [ $rc = 0 ]; then
		echo "vm_agent: $s passed in $(( $(date +%s) - start )) s"
	else
		cat "/tmp/vm_agent.$$.out"
		echo "vm_agent: $s FAILED (exit $rc) in $(( $(date +%s) - start )) s"
		fails=$((fails + 1))
	fi
done
rm -f "/tmp/vm_agent.$$.out"
[ $fails = 0 ]
