# vm_smoke.sh - the guest test bed boots: two vNUMA nodes (node 1
# memory-only), memory blocks where DESIGN.md says, the virtio-serial port
# talks to the host, vsock loopback works, move_pages moves across nodes.
: "${B:=build}" "${SRC:=.}"
exec sh "$SRC/tests/vm/smoke.sh" "$B"
