# shim_vm.sh - the real agent in the two-node test-bed guest talking to
# the real host shim over virtio-serial (QEMU's chardev connects to the
# shim's [vm] socket: run-guest.sh --host-listens), and the pre-fault of
# exactly the PEBS buffers proven against Debian's 6.1 kernel:
#
#  1. Translation: in the guest, dsarea_check (agent/dsarea.c) turns the
#     per-CPU variable this_cpu_off of every CPU into a guest-physical
#     address and reads its value through /proc/kcore; on the host the
#     same GPA read from the node's backing file must hold that value
#     (each CPU's own per-CPU offset: distinct per CPU).  Without
#     CAP_SYSLOG, or CAP_SYS_RAWIO (the agent's unit keeps both for
#     this), discovery stops at kallsyms, or kcore, and names it.
#  2. prefault = always: the agent gets its budget in WELCOME, finds the
#     DS areas (no PMU under TCG, so no PEBS buffer: a page per vCPU) and
#     the shim pins just those, 2 x 4 KiB (VmLck of the shim); both
#     status documents, `vtierctl status` and `vms`, and both daemons'
#     metrics say pebs-buffers; `vtierctl budget` on the host reaches
#     the agent; its STATS show up in `vtierctl vms`.  The shim is
#     restarted: the agent discovers again and the new shim pins the
#     same 8 KiB (pre-fault again for every shim connection).
#  3. kernel.kptr_restrict = 2 and the agent restarted: discovery fails
#     at kallsyms, the agent says so in one log line and asks for the
#     fast node instead: 512 MiB pinned, fast-node:kallsyms in both
#     (and vtier_*_prefault_fast_node 1).
# Exit 77 when the test bed cannot run here.
set -u
. "${SRC:-.}/tests/buildvars.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu"; exit 77; }
bmake static "$BR/vtier-hostshim" "$BR/vtierctl" || exit 1
ST=$B/static
T=$(mktemp -d /tmp/vtier-shimvm.XXXXXX)
trap 'rm -rf "$T"' EXIT

# The guest: the agent with transport = serial, prefault = always.
cat >"$T/scenario.sh" <<'SCEN'
. /vtier/lib.sh
st() {	# a value from the agent's status JSON, commas and all
	vtierctl -s /run/vtier/agent.sock status --json 2>/dev/null |
		sed -n "s/^  \"$1\": //p" | sed 's/,$//; s/^"//; s/"$//'
}
wait_st() { wait_status "$@"; }
start_agent() {	# each run's log apart, the earlier ones in agent.all
	[ -f /run/agent.log ] && cat /run/agent.log >>/run/agent.all
	vtier-agent -c /run/agent.ini 2>/run/agent.log &
	AGENT=$!
}
show_prefault() {	# REGEX FAST: the status table's line and the metrics
	vtierctl -s /run/vtier/agent.sock status >/run/st.txt 2>&1
	vtierctl -s /run/vtier/agent.sock metrics 2>&1 |
		grep '^vtier_agent_prefault' >/run/st.prom
	sed -n '/pre-fault/,$p' /run/st.txt | sed 's/^/status: /'
	sed 's/^/metrics: /' /run/st.prom
	if tr '\n' ' ' </run/st.txt | grep -q "pre-fault  *done: $1" &&
	   grep -qx "vtier_agent_prefault_fast_node $2" /run/st.prom
	then ok "vtierctl status and metrics show it"
	else bad "vtierctl status or metrics"; fi
}
write_shim_ini serial vtier.ctl
mkfifo /run/samples.fifo
ncpu=$(grep -c '^processor' /proc/cpuinfo)

# 1. the translation, for the host to check in the backing files
dsarea_check >/run/dsarea.out; rc=$?
sed 's/^/translate: /' /run/dsarea.out
[ $rc = 0 ] && ok "dsarea_check: $(grep -c this_cpu_off /run/dsarea.out) CPUs translated" ||
	bad "dsarea_check failed"

# each capability the agent's unit keeps for discovery is needed: without
# it, discovery stops at its step and names it (perf_event_paranoid is 3
# on Debian: kallsyms shows addresses only to CAP_SYSLOG)
for c in 34:CAP_SYSLOG:kallsyms 17:CAP_SYS_RAWIO:kcore; do
	n=${c%%:*}; name=${c#*:}; name=${name%:*}; step=${c##*:}
	out=$(dsarea_check -d "$n" | tail -1)
	echo "translate: without $name: $out"
	case $out in
	"failed: $step: "*"lacks $name"*) ok "without $name: fails at $step, says so" ;;
	*) bad "without $name (paranoid $(cat /proc/sys/kernel/perf_event_paranoid)): '$out'" ;;
	esac
done

# 2. the PEBS buffers, exactly
start_agent
if wait_st shim_state up 30; then ok "agent connected to the shim as VM '$(st shim_vm)'"
else bad "no WELCOME from the shim (state $(st shim_state))"; fi
if wait_st budget_bytes 209715200 10 && [ "$(st budget_source)" = shim ]
then ok "budget 200M from the shim's WELCOME"
else bad "budget $(st budget_bytes) from $(st budget_source)"; fi
if wait_st prefault done 30; then
	ok "pre-fault done: $(st prefault_pinned_bytes) bytes pinned on the host"
else bad "pre-fault $(st prefault)"; fi
if [ "$(st prefault_scope)" = pebs-buffers ] &&
   [ "$(st prefault_pinned_bytes)" = $((ncpu * 4096)) ] &&
   [ "$(st prefault_ranges)" = "$ncpu" ]
then ok "pinned the DS areas only: $ncpu vCPUs x 4 KiB (no PMU: no PEBS buffer)"
else bad "scope $(st prefault_scope), $(st prefault_ranges) ranges, $(st prefault_pinned_bytes) bytes"; fi
show_prefault pebs-buffers 0
if wait_st budget_bytes 157286400 30; then ok "budget 150M pushed by vtierctl on the host"
else bad "budget is $(st budget_bytes), not 150M"; fi
# 2b. the host restarts the shim (once STATS carried the new budget):
# the agent reconnects, discovers again and the new shim pins the same
if wait_st shim_connects 2 60 && wait_st prefault done 30 &&
   [ "$(st prefault_pinned_bytes)" = $((ncpu * 4096)) ] &&
   [ "$(grep -c 'pre-fault: the PEBS buffers are' /run/agent.log)" = 2 ]
then ok "shim restarted: discovered again, $(st prefault_pinned_bytes) bytes pinned by the new shim"
else bad "after the shim's restart: connects $(st shim_connects), $(st prefault) $(st prefault_pinned_bytes)"; fi
wait_st budget_bytes 125829120 60 || bad "the host never set 120M"
kill -TERM $AGENT; wait $AGENT

# 3. discovery made to fail: the fast node, and why
echo 2 >/proc/sys/kernel/kptr_restrict
# pinning 512 MiB takes the host 2-5 s when other builds run: more than
# the 5 s PREFAULT_DONE wait allows (the cost the PEBS buffers avoid)
sed -i 's/^timeout = 5s$/timeout = 30s/' /run/agent.ini
start_agent
if wait_st prefault done 30 && [ "$(st prefault_scope)" = fast-node ] &&
   [ "$(st prefault_pinned_bytes)" = 536870912 ]
then ok "kptr_restrict = 2: fast-node fallback, $(st prefault_pinned_bytes) bytes pinned"
else bad "kptr_restrict = 2: $(st prefault) $(st prefault_scope) $(st prefault_pinned_bytes)"; fi
case $(st prefault_reason) in
kallsyms:*) ok "reason: $(st prefault_reason)" ;;
*) bad "reason '$(st prefault_reason)'" ;;
esac
[ "$(grep -c 'pre-fault: PEBS buffers not found' /run/agent.log)" = 1 ] &&
grep -q 'pre-fault: PEBS buffers not found (kallsyms: .*kptr_restrict = 2' /run/agent.log &&
	ok "the agent's log says which step failed, in one line" || bad "no fallback log line"
show_prefault 'fast-node.*fallback: kallsyms' 1
wait_st budget_bytes 104857600 60 || bad "the host never set 100M"
kill -TERM $AGENT; wait $AGENT
cat /run/agent.all /run/agent.log 2>/dev/null | sed 's/^/agent: /'
exit $fails
SCEN

# The host: the shim on the chardev socket, node 0 and 1 as backing.
cat >"$T/host.sh" <<HOST
SRC=$SRC; B=$B; T=$T
HOST
cat >>"$T/host.sh" <<'HOST'
. "$SRC/tests/vm/host-shim.sh"
host_shim_start guest 200M 'prefault_cap = 1G'
vms() { ctl vms --json; }
get() { vms | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null; }
# What the shim pins now, from one vms document, its VmLck and metrics,
# each line starting with PREFIX; the host then sets a budget, which the
# guest waits for before it stops its agent.
snap() {
	vms >"$T/vms.json"
	python3 - "$1" "$T/vms.json" >>"$T/host.out" <<'PY'
import json, sys
v = json.load(open(sys.argv[2]))["vms"][0]
r = v.get("prefault_reason")
print("%s pinned %s ranges %s scope %s%s" % (sys.argv[1], v["pinned_bytes"],
      v["prefault_ranges"], v["prefault_scope"], ":" + r if r else ""))
PY
	echo "$1 vmlck_kb $(awk '/^VmLck:/ { print $2 }' /proc/$SHIM/status)" >>"$T/host.out"
	ctl metrics |
		sed -n "s/^vtier_hostshim_vm_p[a-z_]*{vm=\"guest\"} /$1 &/p" >>"$T/host.out"
}
until_get() {	# EXPR VALUE: poll (60 s at most) until EXPR prints VALUE
	i=0
	until [ "$(get "$1")" = "$2" ]; do
		sleep 0.2; i=$((i + 1)); [ $i -lt 300 ] || return 1
	done
}
# 1. the GPAs the guest printed, read in the backing files
i=0
until grep -q '^translate: set ' "$VTIER_VM_DIR/scenario.out" 2>/dev/null; do
	sleep 0.2; i=$((i + 1)); [ $i -lt 300 ] || break
done
tr -d '\r' <"$VTIER_VM_DIR/scenario.out" |
	sed -n 's/^translate: cpu \([0-9]*\) this_cpu_off va \(0x[0-9a-f]*\) gpa \(0x[0-9a-f]*\) value \(0x[0-9a-f]*\)$/\1 \2 \3 \4/p' |
while read -r cpu va gpa val; do
	python3 - "$cpu" "$va" "$gpa" "$val" "$VTIER_NODE0_FILE" "$VTIER_NODE0_MIB" "$VTIER_NODE1_FILE" <<'PY'
import struct, sys
cpu, va, gpa, val, n0, n0mib, n1 = sys.argv[1:]
gpa = int(gpa, 16); n0size = int(n0mib) << 20
path, off = (n0, gpa) if gpa < n0size else (n1, gpa - n0size)
with open(path, "rb") as f:
    f.seek(off)
    host = struct.unpack("<Q", f.read(8))[0]
print("translate: cpu %s this_cpu_off %s -> gpa 0x%x (%s+0x%x): guest reads %s, host reads 0x%x %s"
      % (cpu, va, gpa, path.rsplit("/", 1)[1], off, val, host,
         "ok" if host == int(val, 16) else "MISMATCH"))
PY
done >"$T/translate.out"
# 2. the PEBS buffers pinned
until_get 'd["vms"][0]["prefault_scope"]' pebs-buffers
snap pebs
ctl budget guest 150M >>"$T/host.out"
until_get 'd["vms"][0]["stats"]["budget_bytes"]' 157286400
ctl vms >>"$T/host.out"
echo "stats_budget $(get 'd["vms"][0]["stats"]["budget_bytes"]')" >>"$T/host.out"
# 2b. a new shim: the agent's pre-fault again
host_shim_restart
until_get '"%s %s" % (d["vms"][0]["pinned_bytes"], d["vms"][0]["prefault_scope"])' \
    "8192 pebs-buffers"
snap again
ctl budget guest 120M >>"$T/host.out"
# 3. the fallback
until_get 'd["vms"][0]["prefault_scope"]' fast-node
snap fast
ctl vms >>"$T/host.out"
ctl budget guest 100M >>"$T/host.out"
wait $SHIM
HOST

start=$(date +%s)
"$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 180 --host-listens \
	--host-sock "$T/guest.sock" --host-cmd "sh $T/host.sh" --host-grace 2 \
	"$T/scenario.sh" "$ST/vtier-agent" "$ST/vtierctl" "$ST/dsarea_check" \
	"$SRC/tests/vm/scenarios/lib.sh" >"$T/out" 2>&1
rc=$?
cat "$T/out"
echo "--- host side"
cat "$T/translate.out" "$T/host.out" 2>/dev/null
echo "--- shim log"
cat "$T/shim.log" 2>/dev/null
echo "shim_vm: guest run exit $rc in $(( $(date +%s) - start )) s"
[ $rc = 0 ] || exit 1
# the translation: every CPU, every value found on the host, all distinct
n=$(grep -c '^translate: cpu' "$T/translate.out")
[ "$n" -ge 2 ] && [ "$(grep -c ' ok$' "$T/translate.out")" = "$n" ] || exit 1
[ "$(sed -n 's/.*guest reads \(0x[0-9a-f]*\),.*/\1/p' "$T/translate.out" |
	sort -u | wc -l)" = "$n" ] || exit 1
# the DS areas only: 2 vCPUs x 4 KiB; then node 0's 512M as the fallback
# (each line must be there: a missing one fails, not just the last)
missing=0
while read -r want; do
	grep -qxF "$want" "$T/host.out" || { echo "missing: $want"; missing=1; }
done <<'WANT'
pebs pinned 8192 ranges 2 scope pebs-buffers
pebs vmlck_kb 8
pebs vtier_hostshim_vm_prefault_fast_node{vm="guest"} 0
stats_budget 157286400
again pinned 8192 ranges 2 scope pebs-buffers
again vmlck_kb 8
fast pinned 536870912 ranges 1 scope fast-node:kallsyms
fast vmlck_kb 524288
fast vtier_hostshim_vm_prefault_fast_node{vm="guest"} 1
WANT
[ $missing = 0 ] || exit 1
echo "shim_vm: pre-fault pinned 536870912 bytes as fast-node (before), 8192 as pebs-buffers (after)"
echo "shim_vm: ok"
