# shim_budget.sh - budgets and stats through a running shim: a budget set
# with `vtierctl budget` reaches a connected agent within 1 s (measured);
# an unknown VM exits 1; `vtierctl vms` (table and --json) shows the
# transport, connection, budget and the agent's last STATS; SIGHUP
# reload pushes a changed file budget, adds a VM, removes one (its agent
# hears BYE, its socket goes), and a broken file keeps the running
# config with FILE:LINE in the log.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-shimbud.XXXXXX)
. "$SRC/tests/tools/shim_lib.sh"
trap shim_cleanup EXIT

write_ini() {	# budget of a, then extra sections
	cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = no
[vm a]
socket = $T/a.sock
budget = $1
[vm b]
socket = $T/b.sock
$2
INI
}
write_ini 256M ""
shim_start "$T/shim.ini"

# an agent on a, watching; wait for its WELCOME
"$A" -t 20 watch "$T/a.sock" --until-budget 768M >"$T/watch" &
wpid=$!; bg_pids="$bg_pids $wpid"
wait_for grep -q WELCOME "$T/watch"
grep -q "WELCOME a 268435456" "$T/watch"

t0=$(date +%s%3N)
"$CTL" --shim "$T/ctl.sock" budget a 768M | tee "$T/out"
grep -q "VM a: budget 768M, sent to 1 connected session" "$T/out"
wait $wpid
t1=$(sed -n 's/^\([0-9]*\) BUDGET 805306368$/\1/p' "$T/watch")
[ -n "$t1" ]
lat=$((t1 - t0))
echo "budget change reached the agent in $lat ms (vtierctl start to arrival)"
[ $lat -le 1000 ]

# unknown VM
rc=0; "$CTL" --shim "$T/ctl.sock" budget zz 1G 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "no VM named 'zz' (known: a, b)" "$T/err"

# stats from an agent on b, shown by vtierctl vms
"$A" stats "$T/b.sock" $((300 << 20)) $((100 << 20)) 2500 11 7 3 1
"$CTL" --shim "$T/ctl.sock" vms --json >"$T/vms.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/vms.json"
[ "$(json_get "$T/vms.json" 'd["vms"][0]["budget_bytes"]')" = $((768 << 20)) ]
[ "$(json_get "$T/vms.json" 'd["vms"][0]["budget_source"]')" = vtierctl ]
[ "$(json_get "$T/vms.json" 'd["vms"][1]["stats"]["fast_used_bytes"]')" = $((300 << 20)) ]
[ "$(json_get "$T/vms.json" 'd["vms"][1]["stats"]["samples_per_s"]')" = 2.5 ]
[ "$(json_get "$T/vms.json" 'd["vms"][1]["stats"]["budget_unattainable"]')" = True ]
[ "$(json_get "$T/vms.json" 'd["vms"][1]["budget_source"]')" = none ]
[ "$(json_get "$T/vms.json" 'd["vms"][1]["transport"]')" = unix ]
"$CTL" --shim "$T/ctl.sock" vms | tee "$T/table"
grep -q '^a  *ini  *unix  *-  *768M ' "$T/table"
grep -Eq '^b  *ini  *unix  *-  *none  *300M  *100M  *2.500  *11  *7  *3 YES ' "$T/table"

# reload: a's file budget changes (pushed), c added, b removed
"$A" -t 20 watch "$T/a.sock" --until-budget 128M >"$T/watch2" &
wpid=$!; bg_pids="$bg_pids $wpid"
"$A" -t 20 watch "$T/b.sock" --until-bye >"$T/watchb" &
bpid=$!; bg_pids="$bg_pids $bpid"
wait_for grep -q WELCOME "$T/watch2"
wait_for grep -q WELCOME "$T/watchb"
cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/ctl.sock
listen_vsock = no
[vm a]
socket = $T/a.sock
budget = 128M
[vm c]
socket = $T/c.sock
budget = 2G
INI
kill -HUP $shim_pid
wait $wpid
grep -q "BUDGET 134217728" "$T/watch2"
wait_for grep -q "reloaded .*1 added, 1 removed" "$T/shim.log"
wait $bpid
grep -q "BYE 1" "$T/watchb"
[ ! -e "$T/b.sock" ]
"$A" hello "$T/c.sock" c 2G
"$CTL" --shim "$T/ctl.sock" vms --json >"$T/vms.json"
[ "$(json_get "$T/vms.json" '",".join(v["name"] for v in d["vms"])')" = a,c ]

# a broken file: logged with FILE:LINE, the running config stays
printf '[shim]\ncontrol_socket = %s\n[vm a]\nsocket = %s\nbudget = 1X\n' \
	"$T/ctl.sock" "$T/a.sock" >"$T/shim.ini"
kill -HUP $shim_pid
wait_for grep -q "reload failed" "$T/shim.log"
grep "reload failed" "$T/shim.log" | grep -q "shim.ini:5: \[vm a\] budget"
"$A" hello "$T/c.sock" c 2G
"$A" hello "$T/a.sock" a 128M

shim_stop TERM
cat "$T/shim.log"
echo "shim_budget: ok"
