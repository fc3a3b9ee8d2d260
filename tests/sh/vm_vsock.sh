# vm_vsock.sh - the AF_VSOCK code of the shim and the agent, for real,
# inside the two-node guest over vsock_loopback (no vhost-vsock between a
# TCG guest and this host): budget in WELCOME, a live change, VM by CID.
. "${SRC:-.}/tests/buildvars.sh"
bmake static || exit 1
ST=$B/static
exec "$SRC/tests/vm/run-guest.sh" -B "$B" -q -t 120 \
	"$SRC/tests/vm/scenarios/vsock.sh" "$ST/vtier-agent" "$ST/vtierctl" \
	"$ST/vtier-hostshim" "$SRC/tests/vm/scenarios/lib.sh"
