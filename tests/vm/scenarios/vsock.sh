# vsock.sh - the AF_VSOCK code paths for real, inside the guest over
# vsock_loopback (CID 1): the shim listens on AF_VSOCK and identifies the
# VM by the peer CID from accept(); the agent connects with transport =
# vsock and gets its budget; vtierctl changes it live.  (Between a TCG
# guest and this host there is no vhost-vsock.)
. /vtier/lib.sh
cat >/run/shim.ini <<INI
[shim]
control_socket = /run/vtier/shim.sock
listen_vsock = yes
[vm loopback]
cid = 1
budget = 300M
INI
vtier-hostshim -c /run/shim.ini 2>/run/shim.log &
SHIM=$!
sleep 0.5
write_ini auto "[shim]" "transport = vsock" "address = 1:7340" \
	"stats_interval = 500ms"
start_agent || exit 1
i=0
until vtierctl -s /run/vtier/agent.sock status --json | grep -q '"shim_state": "up"'; do
	sleep 0.2; i=$((i + 1)); [ $i -lt 75 ] || break
done
[ "$(status_num budget_bytes)" = 314572800 ] && ok "agent got budget 300M over AF_VSOCK" ||
	bad "budget $(status_num budget_bytes), shim state: $(vtierctl -s /run/vtier/agent.sock status --json | grep shim_state)"
vtierctl --shim /run/vtier/shim.sock budget loopback 200M
i=0
until [ "$(status_num budget_bytes)" = 209715200 ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(status_num budget_bytes)" = 209715200 ] && ok "live budget change over AF_VSOCK" || bad "budget not changed"
sleep 1
vtierctl --shim /run/vtier/shim.sock vms | grep -q loopback && ok "shim lists the VM" || bad "vms"
vtierctl --shim /run/vtier/shim.sock vms
stop_agent
kill $SHIM; wait $SHIM
tail -5 /run/shim.log /run/agent.log
exit $fails
