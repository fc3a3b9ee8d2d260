# shim_libvirt.sh - the shim finds its VM through a real libvirt.
#
# Debian's libvirtd runs here as root in a private mount namespace
# (tmpfs over /run/libvirt, /var/lib/libvirt, /var/cache/libvirt,
# /var/log/libvirt and /etc/libvirt, a qemu.conf of our own), so nothing
# of the host's libvirt is touched and nothing outlives the test: the
# daemon is stopped by the EXIT trap, and the namespace's mounts go with
# its last process.  The domain is the test-bed guest (tests/vm: the
# same kernel and initramfs, direct kernel boot, TCG, two NUMA cells,
# file-backed shared memory) with the vtier channel (org.vtier.0, bind
# mode: QEMU listens, the shim connects) and a budget in vtier's
# metadata.  The shim has no [vm] section, only [libvirt].  Checked:
#  - the agent in the guest gets the budget from the domain's metadata;
#  - `vtierctl vms` lists the domain with source and budget source
#    libvirt;
#  - the backing ranges the shim derived equal those this script reads
#    from QEMU's memory map (virsh qemu-monitor-command), and the
#    guest's pre-fault set, its 2 vCPUs' DS areas (no PMU), is pinned
#    there (VmLck);
#  - `virsh metadata` changes the budget live: the time until the
#    guest's agent status shows it is printed (and must be under 1 s);
#  - `vtierctl budget` writes it back (virsh dumpxml, live and
#    --inactive);
#  - a [vm] of the same name wins, with the error shown for it;
#  - malformed metadata is an error shown for that VM; the budget stays;
#  - libvirtd restarted: the shim reconnects and follows the domain;
#  - the guest powers off: the shim drops the VM and releases its pins.
set -u
. "${SRC:-.}/tests/buildvars.sh"

if [ -z "${VTIER_LIBVIRT_NS:-}" ]; then
	command -v unshare >/dev/null || { echo "no unshare"; exit 1; }
	VTIER_LIBVIRT_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi

for c in libvirtd virsh qemu-system-x86_64 python3; do
	command -v $c >/dev/null || { echo "FAIL: $c missing (make deps)"; exit 1; }
done
bmake "$BR/vtier-hostshim" "$BR/vtierctl" static ||
	exit 1
"$SRC/tests/vm/build-guest.sh" "$B" 2>/dev/null ||
	"$SRC/tests/vm/build-guest.sh" "$B" || exit 1
ST=$B/static
VM=$B/vm
NS=http://vtier.dev/xmlns/domain/1
DOM=vtier-lv
T=$(mktemp -d /tmp/vtier-libvirt.XXXXXX)
LVPID= SHIM=
cleanup() {
	[ -n "$SHIM" ] && kill -TERM "$SHIM" 2>/dev/null
	virsh -q destroy "$DOM" >/dev/null 2>&1
	[ -n "$LVPID" ] && kill -TERM "$LVPID" 2>/dev/null && wait "$LVPID"
	# QEMU, if libvirtd left it (it never should): by its pid file
	for p in /run/libvirt/qemu/*.pid; do
		[ -f "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fails=0
ok()  { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# libvirt's QEMU driver resolves its compiled-in user at start, even
# when qemu.conf says root (what libvirt-daemon-system's postinst makes)
id libvirt-qemu >/dev/null 2>&1 ||
	useradd --system --user-group --no-create-home \
		--home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu

# ---------------------------------------------------- a private libvirtd
for d in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt \
	/etc/libvirt; do
	mkdir -p "$d" && mount -t tmpfs -o mode=0755 tmpfs "$d" || exit 1
done
mkdir -p /var/lib/libvirt/qemu/channel/target /var/cache/libvirt/qemu \
	/var/log/libvirt/qemu
cat >/etc/libvirt/libvirtd.conf <<EOF
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:$T/libvirtd.log"
EOF
# QEMU as root, no cgroups, no namespaces, no security driver: there is
# no systemd or machined here, and the test owns every file involved.
cat >/etc/libvirt/qemu.conf <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
EOF
start_libvirtd() {
	libvirtd -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid \
		>>"$T/libvirtd.out" 2>&1 &
	LVPID=$!
	i=0
	until virsh -q version >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 300 ] || { echo "libvirtd did not come up"; return 1; }
		sleep 0.2
	done
}
export LIBVIRT_DEFAULT_URI=qemu:///system
t0=$(now_ms)
start_libvirtd || { tail "$T/libvirtd.log" "$T/libvirtd.out"; exit 1; }
echo "libvirtd up in $(( $(now_ms) - t0 )) ms (QEMU capabilities probed)"

# ------------------------------------------------------------- the guest
# QEMU through a wrapper that asks for single-threaded TCG, as run-guest.sh
# does (its header says why: multi-threaded TCG let the 6.12 guest run a
# stale translation of kernel text under patching); libvirt's XML has no
# knob for it.  Debian 12's libvirt passes "-accel tcg"; the check after
# the start fails if the QEMU it started was given anything else.
QEMU_BIN=$(command -v qemu-system-x86_64)
cat >"$T/qemu" <<EOF
#!/bin/sh
prev=
for a; do
	shift
	[ "\$prev" = -accel ] && [ "\$a" = tcg ] && a=tcg,thread=single
	set -- "\$@" "\$a"
	prev=\$a
done
echo "\$*" >>"$T/qemu.argv"
exec $QEMU_BIN "\$@"
EOF
chmod +x "$T/qemu"
cat >"$T/scenario.sh" <<'SCEN'
. /vtier/lib.sh
st() { status_str "$1"; }
wait_st() { wait_status "$@"; }
write_shim_ini serial org.vtier.0
mkfifo /run/samples.fifo
vtier-agent -c /run/agent.ini 2>/run/agent.log &
AGENT=$!
wait_st shim_state up 60 && echo "GUEST up as '$(st shim_vm)'"
wait_st prefault done 60 && echo "GUEST prefault $(st prefault_pinned_bytes)"
# Every budget the agent's status shows, as it changes, until 100M.
last=
i=0
while [ $i -lt 3000 ]; do
	b=$(st budget_bytes)
	if [ -n "$b" ] && [ "$b" != "$last" ]; then
		echo "GUEST budget $b $(st budget_source)"
		last=$b
	fi
	[ "$b" = 104857600 ] && break
	sleep 0.05; i=$((i + 1))
done
kill -TERM $AGENT; wait $AGENT
sed 's/^/agent: /' /run/agent.log
SCEN
mkdir -p "$T/ov/vtier"
cp "$T/scenario.sh" "$T/ov/scenario"
cp "$ST/vtier-agent" "$ST/vtierctl" "$SRC/tests/vm/scenarios/lib.sh" \
	"$T/ov/vtier/"
(cd "$T/ov" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) >"$T/ov.cpio" || exit 1
cat "$VM/initramfs.cpio" "$T/ov.cpio" >"$T/initrd"
KERNEL=$VM/vmlinux
[ -f "$KERNEL" ] || KERNEL=$VM/vmlinuz

cat >"$T/domain.xml" <<EOF
<domain type='qemu'>
  <name>$DOM</name>
  <memory unit='MiB'>1536</memory>
  <vcpu>2</vcpu>
  <metadata>
    <vtier:vm xmlns:vtier='$NS'>
      <vtier:budget>200M</vtier:budget>
      <vtier:prefault_cap>1G</vtier:prefault_cap>
    </vtier:vm>
  </metadata>
  <memoryBacking>
    <source type='file'/>
    <access mode='shared'/>
  </memoryBacking>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>$KERNEL</kernel>
    <initrd>$T/initrd</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 vtier.port=org.vtier.0</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='maximum'>
    <numa>
      <cell id='0' cpus='0-1' memory='512' unit='MiB' memAccess='shared'/>
      <cell id='1' memory='1024' unit='MiB' memAccess='shared'/>
    </numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$T/qemu</emulator>
    <serial type='file'><source path='$T/console.log'/><target port='0'/></serial>
    <serial type='file'><source path='$T/out.log'/><target port='1'/></serial>
    <channel type='unix'>
      <source mode='bind'/>
      <target type='virtio' name='org.vtier.0'/>
    </channel>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF

# --------------------------------------------------------------- the shim
cat >"$T/shim.ini" <<EOF
[shim]
control_socket = $T/shim.sock
listen_vsock = no
[libvirt]
uri = qemu:///system
EOF
"$B/vtier-hostshim" -d -c "$T/shim.ini" 2>"$T/shim.log" &
SHIM=$!
ctl() { "$B/vtierctl" --shim "$T/shim.sock" "$@"; }
get() {	# a python expression over the shim's JSON document d (vm: ours)
	ctl vms --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
vm = ([v for v in d["vms"] if v["name"] == sys.argv[2]] or [None])[0]
print(eval(sys.argv[1]))' "$1" "$DOM" 2>/dev/null
}
wait_get() {	# EXPR VALUE SECONDS
	i=0
	while [ "$(get "$1")" != "$2" ] && [ $i -lt $(($3 * 10)) ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(get "$1")" = "$2" ]
}
wait_out() {	# REGEX SECONDS: a line of the guest's output
	i=0
	while ! grep -qE "$1" "$T/out.log" 2>/dev/null && [ $i -lt $(($2 * 50)) ]; do
		sleep 0.02; i=$((i + 1))
	done
	grep -qE "$1" "$T/out.log" 2>/dev/null
}
wait_get 'd["libvirt"]["state"]' connected 10 && ok "shim connected to libvirt" ||
	bad "shim not connected to libvirt: $(get 'd["libvirt"]')"

virsh -q define "$T/domain.xml" >/dev/null || { bad "define"; exit 1; }
t0=$(now_ms)
virsh -q start "$DOM" >/dev/null || { bad "start"; tail -30 "$T/libvirtd.log"; exit 1; }
grep "guest=$DOM" "$T/qemu.argv" | grep -q -- '-accel tcg,thread=single' &&
	ok "the guest's QEMU runs single-threaded TCG" ||
	bad "QEMU without single-threaded TCG: $(grep "guest=$DOM" "$T/qemu.argv")"
echo "domain started in $(( $(now_ms) - t0 )) ms"

if wait_out '^GUEST up' 90; then ok "the guest's agent reached the shim over the channel"
else bad "no agent connection"; fi
if wait_out '^GUEST budget 209715200 shim' 30; then
	ok "budget 200M from the domain's metadata in the agent's status"
else bad "budget from metadata: $(grep GUEST "$T/out.log")"; fi
if wait_get 'vm["source"] + " " + vm["budget_source"]' "libvirt libvirt" 5; then
	ok "vms: source libvirt, budget source libvirt"
else bad "vms: $(get 'vm')"; fi

# The backing ranges, as this script reads them from QEMU itself.
virsh -q qemu-monitor-command --hmp "$DOM" 'info mtree -f' >"$T/mtree.txt"
python3 - "$T/mtree.txt" "$DOM" >"$T/expect.txt" <<'PY'
import json, re, subprocess, sys
lines = open(sys.argv[1]).read().splitlines()
views, cur = [], None
for l in lines:
    if l.startswith("FlatView"):
        cur = {"as": [], "ram": []}; views.append(cur)
    elif cur is not None and l.startswith(' AS "'):
        cur["as"].append(l.split('"')[1])
    elif cur is not None:
        m = re.match(r'\s+([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, ram\): (\S+)(?: @([0-9a-f]+))?', l)
        if m:
            s, e, name, off = m.groups()
            cur["ram"].append([int(s, 16), int(e, 16) + 1 - int(s, 16), name, int(off or "0", 16)])
view = [v for v in views if "memory" in v["as"]][0]
out = []
for gpa, size, name, off in sorted(view["ram"]):
    if out and out[-1][2] == name and gpa - out[-1][0] == off - out[-1][3]:
        out[-1][1] = gpa + size - out[-1][0]
    else:
        out.append([gpa, size, name, off])
for gpa, size, name, off in out:
    q = json.dumps({"execute": "qom-get", "arguments": {"path": "/objects/" + name, "property": "mem-path"}})
    path = json.loads(subprocess.check_output(["virsh", "-q", "qemu-monitor-command", sys.argv[2], q]))["return"]
    print(path, off, gpa, size)
PY
get '"\n".join("%s %d %d %d" % (b["path"], b["offset"], b["gpa"], b["size"]) for b in vm["backing"])' >"$T/derived.txt"
echo "--- backing: QEMU's memory map / the shim's"
cat "$T/expect.txt" "$T/derived.txt"
if [ -s "$T/expect.txt" ] && cmp -s "$T/expect.txt" "$T/derived.txt"; then
	ok "the shim's backing ranges equal QEMU's memory map"
else bad "backing ranges differ"; fi

if wait_out '^GUEST prefault 8192' 60 &&
	wait_get 'vm["pinned_bytes"]' 8192 10 &&
	[ "$(get 'vm["prefault_scope"]')" = pebs-buffers ]; then
	ok "the guest's PEBS buffers (2 DS pages, 8K) pinned from the derived ranges"
else bad "prefault: $(grep 'GUEST prefault' "$T/out.log"), pinned $(get 'vm["pinned_bytes"]') $(get 'vm["prefault_scope"]'), $(get 'vm["prefault_note"]')"; fi
lck=$(awk '/^VmLck:/ { print $2 }' "/proc/$SHIM/status")
echo "shim VmLck ${lck} kB"
[ "$lck" = 8 ] && ok "VmLck 8 kB" || bad "VmLck $lck kB"

echo "--- vtierctl vms"
ctl vms | tee "$T/vms.txt"

# A metadata change, live: how long until the guest's agent shows it.
# Three changes; the best must be under 1 s (the guest is emulated and
# the machine shared: one slow turn is not the shim's latency).
best=999999 all=
for mb in 150 140 130; do
	t0=$(now_ms)
	virsh -q metadata "$DOM" "$NS" --key vtier --live --config \
		--set "<vm><budget>${mb}M</budget><prefault_cap>1G</prefault_cap></vm>" ||
		bad "virsh metadata --set"
	if wait_out "^GUEST budget $((mb * 1048576)) " 10; then
		ms=$(( $(now_ms) - t0 ))
		all="$all ${ms}"
		[ $ms -lt $best ] && best=$ms
	else bad "budget ${mb}M never reached the agent"; fi
done
echo "metadata change to the agent's status (ms, from virsh metadata's start):$all"
[ $best -lt 1000 ] && ok "the agent saw a new budget within 1 s (best $best ms)" ||
	bad "the agent saw the new budget after $best ms at best"

# vtierctl budget writes the metadata (live and persistent).
ctl budget "$DOM" 120M || bad "vtierctl budget"
if wait_out '^GUEST budget 125829120' 10; then ok "vtierctl budget 120M reached the agent"
else bad "vtierctl budget 120M did not reach the agent"; fi
live=$(virsh -q dumpxml "$DOM" | grep -cE '<(vtier:)?budget>120M</')
conf=$(virsh -q dumpxml --inactive "$DOM" | grep -cE '<(vtier:)?budget>120M</')
[ "$live" = 1 ] && [ "$conf" = 1 ] &&
	ok "vtierctl budget is in the domain's XML, live and persistent" ||
	bad "dumpxml: live $live, inactive $conf"
virsh -q dumpxml "$DOM" | sed -n '/<metadata>/,/<\/metadata>/p'

# A [vm] of the same name in hostshim.ini wins: the error is shown for
# it and the domain is not served; without it, the domain is back.
cp "$T/shim.ini" "$T/shim.ini.orig"
printf '[vm %s]\nsocket = %s/clash.sock\n' "$DOM" "$T" >>"$T/shim.ini"
kill -HUP "$SHIM"
if wait_get 'vm["source"] + " " + str("libvirt domain" in (vm["error"] or ""))' \
	"ini True" 10 && [ "$(get 'len(d["vms"])')" = 1 ]; then
	ok "a [vm] of the same name: '$(get 'vm["error"]')'"
else bad "clash: $(get 'd["vms"]')"; fi
cp "$T/shim.ini.orig" "$T/shim.ini"
kill -HUP "$SHIM"
if wait_get 'vm["source"] + " " + str(vm["connected"])' "libvirt True" 40; then
	ok "without the [vm], the domain is served again and its agent is back"
else bad "after the clash: $(get 'vm')"; fi

# Malformed metadata: an error for that VM, the budget stays.
virsh -q metadata "$DOM" "$NS" --key vtier --live \
	--set '<vm><budget>lots</budget></vm>'
if wait_get 'vm["error"] is not None and "budget" in vm["error"]' True 5 &&
	[ "$(get 'vm["budget_bytes"]')" = 125829120 ] && kill -0 "$SHIM"; then
	ok "malformed metadata: '$(get 'vm["error"]')', budget kept"
else bad "malformed metadata: $(get 'vm["error"]') $(get 'vm["budget_bytes"]')"; fi

# libvirtd restarted: QEMU runs on, the shim reconnects and follows.
kill -TERM "$LVPID"; wait "$LVPID"; LVPID=
t0=$(now_ms)
wait_get 'd["libvirt"]["state"]' reconnecting 10 && ok "shim saw libvirtd go" ||
	bad "libvirt state $(get 'd["libvirt"]["state"]')"
[ "$(get 'vm["connected"]')" = True ] && ok "the VM stays while libvirt is away" ||
	bad "VM lost while libvirt was away"
start_libvirtd || exit 1
if wait_get 'd["libvirt"]["state"]' connected 40; then
	ok "shim reconnected to the restarted libvirtd after $(( $(now_ms) - t0 )) ms"
else bad "no reconnect: $(get 'd["libvirt"]')"; fi
virsh -q metadata "$DOM" "$NS" --key vtier --live --config \
	--set '<vm><budget>100M</budget></vm>'
if wait_out '^GUEST budget 104857600' 10; then
	ok "after the reconnect a metadata change still reaches the agent"
else bad "budget 100M after the reconnect"; fi

# The guest ends its scenario at 100M and powers off: the VM goes.
if wait_get 'vm' None 60; then ok "domain stopped: the VM is gone from vms"
else bad "VM still listed after the domain stopped"; fi
lck=$(awk '/^VmLck:/ { print $2 }' "/proc/$SHIM/status")
[ "$lck" = 0 ] && ok "pins released (VmLck 0)" || bad "VmLck $lck kB after stop"
kill -0 "$SHIM" && ok "shim alive" || bad "shim died"
kill -TERM "$SHIM"; wait "$SHIM"; src=$?; SHIM=
[ $src = 0 ] && ok "shim exit 0" || bad "shim exit $src"

echo "--- guest output"; tr -d '\r' <"$T/out.log"
echo "--- shim log"; cat "$T/shim.log"
if [ $fails -gt 0 ]; then
	echo "--- libvirtd log"; tail -40 "$T/libvirtd.log"
	echo "--- console"; tr -d '\r' <"$T/console.log" | tail -30
	for f in /var/log/libvirt/qemu/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }
	done
fi
echo "shim_libvirt: $fails failure(s)"
[ $fails = 0 ]
