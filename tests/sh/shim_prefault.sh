# shim_prefault.sh - PREFAULT against real tmpfs backing files (two NUMA
# nodes, each its own file on /dev/shm): a range outside the VM's memory,
# one over its prefault_cap and one for a VM without backing are refused
# and touch nothing (mincore on the files: nothing resident, the shim's
# VmLck 0); an in-range request across the node boundary makes exactly
# the requested pages resident and locked (mincore runs, VmLck and the
# smaps Locked: total); repeating it changes nothing; BYE unlocks;
# removing the VM on reload unlocks; while 768M are pinned another VM
# is served at once; exit with pins held is clean.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-shimpf.XXXXXX)
. "$SRC/tests/tools/shim_lib.sh"
trap shim_cleanup EXIT

n0=/dev/shm/vtier-shimtest-$$-n0
n1=/dev/shm/vtier-shimtest-$$-n1
truncate -s 8M "$n0"
truncate -s 16M "$n1"
write_ini() {
	cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = no
[vm nob]
socket = $T/nob.sock
INI
	[ "$1" = with_pf ] && cat >>"$T/shim.ini" <<INI
[vm pf]
socket = $T/pf.sock
budget = 256M
backing = $n0:0@0+8M
backing = $n1:0@8M+16M
prefault_cap = 12M
INI
	return 0
}
locked_kb() {	# VmLck of the shim, and the sum of its smaps Locked:
	vmlck=$(awk '/^VmLck:/ { print $2 }' /proc/$shim_pid/status)
	smaps=$(awk '/^Locked:/ { s += $2 } END { print s + 0 }' /proc/$shim_pid/smaps)
	echo "$vmlck $smaps"
}
write_ini with_pf
shim_start "$T/shim.ini"

# refused: outside the VM's 24M, over the 12M cap, no backing at all
"$A" prefault "$T/pf.sock" 20M+8M | tee "$T/r1"
grep -q "^ERROR 5 pre-fault refused: GPA 0x1400000+0x800000 is not inside the VM's memory" "$T/r1"
"$A" prefault "$T/pf.sock" 0+16M | tee "$T/r2"
grep -q "^ERROR 5 pre-fault refused: 16M asked for, prefault_cap is 12M" "$T/r2"
"$A" prefault "$T/nob.sock" 0+4K | tee "$T/r3"
grep -q "^ERROR 5 pre-fault refused: no backing memory configured" "$T/r3"
"$A" mincore "$n0" | tee "$T/m0"
"$A" mincore "$n1" | tee "$T/m1"
grep -qx "resident 0" "$T/m0"
grep -qx "resident 0" "$T/m1"
[ "$(locked_kb)" = "0 0" ]

# in range, across the node boundary: 1M at 1M, 2M at 7M (1M per node)
"$A" prefault "$T/pf.sock" 1M+1M,7M+2M | tee "$T/r4"
grep -qx "DONE 0 3145728" "$T/r4"
"$A" mincore "$n0" >"$T/m0"
"$A" mincore "$n1" >"$T/m1"
cat "$T/m0" "$T/m1"
[ "$(cat "$T/m0")" = "$(printf 'resident 512\n0x100000+0x100000\n0x700000+0x100000')" ]
[ "$(cat "$T/m1")" = "$(printf 'resident 256\n0x0+0x100000')" ]
echo "shim VmLck, smaps Locked (kB): $(locked_kb)"
[ "$(locked_kb)" = "3072 3072" ]
"$CTL" --shim "$T/ctl.sock" vms --json >"$T/v.json"
[ "$(json_get "$T/v.json" 'd["vms"][1]["pinned_bytes"]')" = 3145728 ]
[ "$(json_get "$T/v.json" 'd["vms"][1]["prefault"]')" = done ]
[ "$(json_get "$T/v.json" 'd["vms"][1]["prefaults_refused"]')" = 2 ]
# the host memory behind each range: what was pinned, as the files say
[ "$(json_get "$T/v.json" 'd["vms"][1]["host_resident_bytes"]')" = 3145728 ]
[ "$(json_get "$T/v.json" 'd["vms"][1]["backing"][0]["host_resident_bytes"]')" = 2097152 ]
[ "$(json_get "$T/v.json" 'd["vms"][1]["backing"][1]["host_resident_bytes"]')" = 1048576 ]
[ "$(json_get "$T/v.json" 'd["vms"][1]["backing"][1]["host_resident_bytes"]')" = \
  "$(( $(stat -c %b "$n1") * 512 ))" ]
[ "$(json_get "$T/v.json" 'd["vms"][0]["host_resident_bytes"]')" = None ]
"$CTL" --shim "$T/ctl.sock" vms | tee "$T/v.txt"
grep -q 'HOST MEM SCOPE$' "$T/v.txt"
grep -q '^pf .* 3M  *3M unknown$' "$T/v.txt"
grep -q '^nob .* 0B  *- none$' "$T/v.txt"

# the same again (an agent reconnecting): kept, nothing new
"$A" prefault "$T/pf.sock" 1M+1M,7M+2M | grep -qx "DONE 0 3145728"
[ "$(locked_kb)" = "3072 3072" ]

# BYE: unlocked (the pages stay in the tmpfs file, as guest memory)
"$A" bye "$T/pf.sock"
[ "$(locked_kb)" = "0 0" ]
"$CTL" --shim "$T/ctl.sock" vms --json >"$T/v.json"
[ "$(json_get "$T/v.json" 'd["vms"][1]["pinned_bytes"]')" = 0 ]

# removed on reload: unlocked
"$A" prefault "$T/pf.sock" 12M+4M | grep -qx "DONE 0 4194304"
[ "$(locked_kb)" = "4096 4096" ]
write_ini without
kill -HUP $shim_pid
wait_for grep -q "reloaded" "$T/shim.log"
[ "$(locked_kb)" = "0 0" ]

# a big pin does not stall other VMs: the loop works on it 16 MiB a turn
big=/dev/shm/vtier-shimtest-$$-big
truncate -s 768M "$big"
write_ini with_pf
cat >>"$T/shim.ini" <<INI
[vm big]
socket = $T/big.sock
backing = $big:0@0+768M
INI
kill -HUP $shim_pid
wait_for count_ge 2 "reloaded" "$T/shim.log"
p0=$(date +%s%N)
"$A" -t 30 prefault "$T/big.sock" 0+768M >"$T/rbig" &
ppid=$!; bg_pids="$bg_pids $ppid"
sleep 0.05
h0=$(date +%s%N)
"$A" hello "$T/pf.sock" pf 256M >/dev/null
h1=$(date +%s%N)
wait $ppid
p1=$(date +%s%N)
grep -qx "DONE 0 805306368" "$T/rbig"
echo "768M pinned in $(( (p1 - p0) / 1000000 )) ms; meanwhile another VM's HELLO -> WELCOME took $(( (h1 - h0) / 1000000 )) ms"
[ $(( (h1 - h0) / 1000000 )) -lt 1000 ]
"$A" bye "$T/big.sock"
rm -f "$big"

# exit with pins held
write_ini with_pf
kill -HUP $shim_pid
wait_for count_ge 3 "reloaded" "$T/shim.log"
"$A" prefault "$T/pf.sock" 0+8M | grep -qx "DONE 0 8388608"
[ "$(locked_kb)" = "8192 8192" ]
shim_stop TERM
cat "$T/shim.log"
echo "shim_prefault: ok"
