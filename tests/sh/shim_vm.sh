# shim_vm.sh - the real agent in the two-node test-bed guest talking to
# the real host shim over virtio-serial (QEMU's chardev connects to the
# shim's [vm] socket: run-guest.sh --host-listens).  The guest's agent
# gets its budget in WELCOME, asks for its fast node to be pre-faulted
# (prefault = always) and the shim pins it in node 0's backing file on
# /dev/shm (VmLck of the shim, mincore of the file); `vtierctl budget`
# on the host reaches the guest's agent; the agent's STATS show up in
# `vtierctl vms`.  Exit 77 when the test bed cannot run here.
set -u
. "${SRC:-.}/tests/buildvars.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no qemu"; exit 77; }
bmake static "$BR/vtier-hostshim" "$BR/vtierctl" "$BR/tools/shim_agent" ||
	exit 1
ST=$B/static
T=$(mktemp -d /tmp/vtier-shimvm.XXXXXX)
trap 'rm -rf "$T"' EXIT

# The guest: the agent with transport = serial, prefault = always.
cat >"$T/scenario.sh" <<'SCEN'
. /vtier/lib.sh
st() { status_str "$1"; }
wait_st() { wait_status "$@"; }
write_shim_ini serial vtier.ctl
mkfifo /run/samples.fifo
vtier-agent -c /run/agent.ini 2>/run/agent.log &
AGENT=$!
if wait_st shim_state up 30; then ok "agent connected to the shim as VM '$(st shim_vm)'"
else bad "no WELCOME from the shim (state $(st shim_state))"; fi
if wait_st budget_bytes 209715200 10 && [ "$(st budget_source)" = shim ]
then ok "budget 200M from the shim's WELCOME"
else bad "budget $(st budget_bytes) from $(st budget_source)"; fi
if wait_st prefault done 30; then
	ok "pre-fault done: $(st prefault_pinned_bytes) bytes pinned on the host"
else bad "pre-fault $(st prefault)"; fi
if wait_st budget_bytes 157286400 30; then ok "budget 150M pushed by vtierctl on the host"
else bad "budget is $(st budget_bytes), not 150M"; fi
sleep 1		# let STATS carry the new budget to the host
kill -TERM $AGENT; wait $AGENT
cat /run/agent.log | sed 's/^/agent: /'
exit $fails
SCEN

# The host: the shim on the chardev socket, node 0 and 1 as backing.
cat >"$T/host.sh" <<HOST
B=$B; T=$T
HOST
cat >>"$T/host.sh" <<'HOST'
cat >"$T/shim.ini" <<INI
[shim]
control_socket = $VTIER_VM_DIR/shim-ctl.sock
listen_vsock = no
[vm guest]
socket = $VTIER_HOST_SOCK
serial = yes
budget = 200M
backing = $VTIER_NODE0_FILE:0@0+${VTIER_NODE0_MIB}M
backing = $VTIER_NODE1_FILE:0@${VTIER_NODE0_MIB}M+${VTIER_NODE1_MIB}M
prefault_cap = 1G
INI
"$B/vtier-hostshim" -c "$T/shim.ini" 2>"$T/shim.log" &
SHIM=$!
vms() { "$B/vtierctl" --shim "$VTIER_VM_DIR/shim-ctl.sock" vms --json; }
get() { vms | python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null; }
i=0
until [ "$(get 'd["vms"][0]["pinned_bytes"]')" -gt 0 ] 2>/dev/null; do
	sleep 0.2; i=$((i + 1)); [ $i -lt 300 ] || break
done
echo "pinned $(get 'd["vms"][0]["pinned_bytes"]')" >"$T/host.out"
echo "vmlck_kb $(awk '/^VmLck:/ { print $2 }' /proc/$SHIM/status)" >>"$T/host.out"
"$B/tools/shim_agent" mincore "$VTIER_NODE0_FILE" | head -1 >>"$T/host.out"
"$B/vtierctl" --shim "$VTIER_VM_DIR/shim-ctl.sock" budget guest 150M >>"$T/host.out"
i=0
until [ "$(get 'd["vms"][0]["stats"]["budget_bytes"]')" = 157286400 ]; do
	sleep 0.2; i=$((i + 1)); [ $i -lt 150 ] || break
done
"$B/vtierctl" --shim "$VTIER_VM_DIR/shim-ctl.sock" vms >>"$T/host.out"
echo "stats_budget $(get 'd["vms"][0]["stats"]["budget_bytes"]')" >>"$T/host.out"
wait $SHIM
HOST

start=$(date +%s)
"$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 120 --host-listens \
	--host-sock "$T/guest.sock" --host-cmd "sh $T/host.sh" --host-grace 2 \
	"$T/scenario.sh" "$ST/vtier-agent" "$ST/vtierctl" \
	"$SRC/tests/vm/scenarios/lib.sh" >"$T/out" 2>&1
rc=$?
cat "$T/out"
echo "--- host side"
cat "$T/host.out" 2>/dev/null
echo "--- shim log"
cat "$T/shim.log" 2>/dev/null
echo "shim_vm: guest run exit $rc in $(( $(date +%s) - start )) s"
[ $rc = 0 ] || exit 1
# node 0 is 512M: the agent asked for its memory blocks 0-3
grep -qx "pinned 536870912" "$T/host.out"
grep -qx "vmlck_kb 524288" "$T/host.out"
grep -qx "resident 131072" "$T/host.out"
grep -qx "stats_budget 157286400" "$T/host.out"
echo "shim_vm: ok"
