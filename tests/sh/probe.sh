# probe.sh - vtier-agent --probe [--dry-run]: what this machine can sample
# with, the events it would open, and a verdict as the last line.
# Without a cpu/cpu_core/ibs_op PMU (this build machine, VMs without a
# vPMU) it must print the no-usable-PMU verdict naming the fallback and
# exit 3; with one, a "ready" verdict and 0 (or 3 with the reason).
# LIBPFM_FORCE_PMU=<model> --dry-run prints that model's table on any
# machine; the encodings are those tests/unit/test_pebs_encode.c asserts.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-probe.XXXXXX)
trap 'rm -rf "$T"' EXIT
PMUS=/sys/bus/event_source/devices
HINT="; use source=replay or enable the vPMU (QEMU -cpu host,pmu=on / libvirt <pmu state='on'/>)"

probe() {	# args...: run, keep stdout in $T/out, exit status in $rc
	rc=0
	env "$@" >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/out" "$T/err"
	last=$(tail -n 1 "$T/out")
}

has() {		# fixed string expected in the output
	grep -qF -- "$1" "$T/out" || { echo "missing: $1"; exit 1; }
}

verdict() {	# the last line agrees with the exit status
	case $rc in
	0)  echo "$last" | grep -qE '^probe: sampler=(pebs|ibs) ready$' ;;
	3)  case $last in
	    "probe: no usable PMU: "*"$HINT") ;;
	    *) echo "bad verdict: $last"; exit 1 ;;
	    esac ;;
	*)  echo "exit status $rc"; exit 1 ;;
	esac
}

# this machine, opening for real where there is something to open
probe "$B/vtier-agent" --probe
verdict
grep -q '^probe: cpu: ' "$T/out"
if [ ! -e $PMUS/cpu ] && [ ! -e $PMUS/cpu_core ] && [ ! -e $PMUS/ibs_op ]; then
	[ $rc -eq 3 ]
	has "no 'cpu' or 'ibs_op' PMU in $PMUS"
fi

# forced models, dry run: the table whatever the hardware
probe LIBPFM_FORCE_PMU=skx "$B/vtier-agent" --probe --dry-run
verdict
has "probe: libpfm: core PMU skx (forced by LIBPFM_FORCE_PMU)"
has "skx::MEM_LOAD_RETIRED:L3_MISS                type=4 config=0x20d1 config1=0 config2=0 precise_ip=2"
has "skx::MEM_INST_RETIRED:ALL_STORES             type=4 config=0x82d0 config1=0 config2=0 precise_ip=2"
has "probe: dry run: nothing opened"
! grep -q "probe: opened on cpu" "$T/out"

probe LIBPFM_FORCE_PMU=clx "$B/vtier-agent" --probe --dry-run
verdict
has "clx::MEM_LOAD_RETIRED:L3_MISS                type=4 config=0x20d1"
has "clx::MEM_INST_RETIRED:ALL_STORES             type=4 config=0x82d0"

# icx and spr print the guest table and the bare-metal one (either order)
probe LIBPFM_FORCE_PMU=icx "$B/vtier-agent" --probe --dry-run
verdict
has "icx::MEM_LOAD_RETIRED:L3_MISS                type=4 config=0x20d1"
has "icx::MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=64 type=4 config=0x1cd config1=0x40 config2=0 precise_ip=2"
has "icx::MEM_INST_RETIRED:ALL_STORES             type=4 config=0x82d0"

probe LIBPFM_FORCE_PMU=spr "$B/vtier-agent" --probe --dry-run
verdict
has "leader mem-loads-aux                                type=4 config=0x8203 config1=0 config2=0 precise_ip=0"
has "spr::MEM_TRANS_RETIRED:LOAD_LATENCY:ldlat=64 type=4 config=0x1cd config1=0x40"
has "spr::MEM_LOAD_RETIRED:L3_MISS                type=4 config=0x20d1"
! grep -q "0x3cd" "$T/out"

probe LIBPFM_FORCE_PMU=amd64_fam19h_zen4 "$B/vtier-agent" --probe --dry-run
verdict
has "ibs_op/cnt_ctl=1,l3missonly=1/"
has "config=0x90000 config1=0"
has "multiples of 16"

probe LIBPFM_FORCE_PMU=amd64_fam19h_zen3 "$B/vtier-agent" --probe --dry-run
verdict
has "ibs_op/cnt_ctl=1/"
has "config=0x80000 config1=0"
echo "probe.sh: ok"
