#!/bin/bash
# run-guest.sh [options] SCENARIO [EXTRA[:GUEST_PATH]]...
#
# Boot the vtier test-bed guest (two vNUMA nodes, QEMU TCG) and run one
# scenario in it; print the scenario's output and exit with its status.
#
# bash, not POSIX sh: the QEMU command line, the extra files and the
# repeatable options are arrays, and "$@"-juggling them in sh is fragile.
#
# SCENARIO  a shell script, run by busybox sh as root in the guest, with
#           $VTIER_PORT (e.g. /dev/vport0p1, the virtio-serial port named
#           --port-name) and /vtier on PATH.  "-" reads it from stdin.
# EXTRA     files (static binaries, data) or directories put into the
#           guest at GUEST_PATH, by default /vtier/<basename>.  The guest
#           has busybox and nothing else: binaries must be static.
#
# Options:
#   -B, --build-dir DIR  build dir holding vm/ (default: build); the guest
#                        is (re)built there first by build-guest.sh, which
#                        is a no-op when it is up to date
#   --no-build           do not run build-guest.sh (the base must exist)
#   --node0 MiB          size of node 0, the CPU node (default 512)
#   --node1 MiB          size of node 1, memory only (default 1024; 0 = no
#                        node 1)
#   --smp N              vCPUs, all on node 0 (default 2)
#   --cpu MODEL          QEMU CPU model (default max: every feature TCG
#                        emulates)
#   --tcg-thread T       single (default; VTIER_TCG_THREAD sets it too): the
#                        vCPUs take turns on one host thread; multi: a host
#                        thread each.  Multi-threaded TCG lets a vCPU run a
#                        stale translation of kernel text another vCPU is
#                        patching: Linux 6.12 died of "Oops: int3" at
#                        sched_clock_cpu while "sched_clock: Marking stable"
#                        patched its static key, in 1 of 25 boots here
#                        (0 of 50 single-threaded)
#   --bzimage            boot vmlinuz (bzImage) instead of the uncompressed
#                        vmlinux via PVH; slower (~3 s of decompression
#                        under TCG), same kernel
#   -t, --timeout SEC    hard limit for the whole boot+scenario (default
#                        300); QEMU is killed and the run fails (exit 124)
#   -e VAR=VALUE         environment for the scenario (repeatable)
#   --append ARGS        more kernel command line
#   --qemu-arg ARG       one more QEMU argument (repeatable)
#   --port-name NAME     virtio-serial port name (default vtier.ctl)
#   --no-balloon         no virtio-balloon device (by default the guest has
#                        virtio-balloon-pci,free-page-reporting=on and loads
#                        virtio_balloon: free guest memory goes back to the
#                        host in 2 MiB blocks)
#   --host-sock PATH     where the host end of the port is (default
#                        $VM_DIR/host.sock); the caller picks the path so
#                        it knows where to connect before the guest runs
#   --host-listens       the host program is the server: it listens on
#                        --host-sock and QEMU connects (and reconnects every
#                        second until it can).  Default: QEMU is the server
#                        (server=on,wait=off) and a host program connects.
#   --host-cmd CMD       run CMD (sh -c) on the host beside the guest; see
#                        "Host side" below
#   --host-grace SEC     how long CMD may take to finish after the guest
#                        ends before it is killed (default 5)
#   --console-log FILE   keep a copy of the guest's kernel console
#   -k, --keep           keep the per-run directory (also VTIER_VM_KEEP=1)
#   -q, --quiet          no progress lines on stderr
#
# Host side: QEMU's chardev socket is a Unix stream socket.  By default
# QEMU listens on it (server=on,wait=off: the guest boots without waiting
# for anyone), so the host program -- later the host shim -- connects to
# it; only one connection at a time, and a reconnect is allowed after a
# disconnect.  With --host-listens, the host program must listen on
# --host-sock and QEMU connects to it.  CMD is started with:
#   VTIER_HOST_SOCK    the socket path
#   VTIER_VM_DIR       the per-run directory (on /dev/shm)
#   VTIER_NODE0_FILE, VTIER_NODE1_FILE   the guest RAM backing files
#                      (memory-backend-file, share=on): node 0 covers GPA
#                      0..node0 size, node 1 starts right after it (both
#                      below 4 GiB while the total is under 2.75 GiB on q35)
#   VTIER_NODE0_MIB, VTIER_NODE1_MIB
#   VTIER_HOST_RESIDENT  the host residency log (see "Host residency")
# It starts after QEMU has created the socket (default mode) or before
# QEMU (--host-listens).  If CMD ends by itself with a non-zero status the
# run fails with that status; if it is still running --host-grace seconds
# after the guest powered off, it is killed (process group) and that is
# not a failure.
#
# Host residency: every 0.5 s the allocated bytes (st_blocks) of each
# node's backing file are written to $VM_DIR/host_resident.log on the host
# and to a second virtio-serial port, vtier.hostres, in the guest; /init
# appends what arrives to /run/host_resident.  One line each time:
#   host_resident ms=MS node0=BYTES node1=BYTES
# (MS: since QEMU started).  Scenarios read the latest with lib.sh's
# host_resident NODE; host commands get VTIER_HOST_RESIDENT (the log).
#
# Output and status: the scenario's stdout+stderr (a dedicated serial
# port, ttyS1, not mixed with kernel messages) is printed on stdout as it
# arrives.  Exit status: the scenario's; 124 on timeout; 125 when the guest
# never reported an end (panic, QEMU error); 2 on bad usage.  On any
# failure the last 60 lines of the kernel console go to stderr.
set -u

SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=build
NOBUILD=0
N0=512
N1=1024
SMP=2
CPU=max
BZIMAGE=0
TIMEOUT=300
APPEND=
PORT_NAME=vtier.ctl
HOST_SOCK=
HOST_LISTENS=0
HOST_CMD=
HOST_GRACE=5
CONSOLE_COPY=
KEEP=${VTIER_VM_KEEP:-0}
QUIET=0
BALLOON=1
TCG_THREAD=${VTIER_TCG_THREAD:-single}
ENVS=()
QEMU_EXTRA=()

usage() { sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
say() { [ "$QUIET" = 1 ] || echo "run-guest: $*" >&2; }
err() { echo "run-guest: $*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	-B|--build-dir) B=$2; shift ;;
	--no-build) NOBUILD=1 ;;
	--node0) N0=$2; shift ;;
	--node1) N1=$2; shift ;;
	--smp) SMP=$2; shift ;;
	--cpu) CPU=$2; shift ;;
	--tcg-thread) TCG_THREAD=$2; shift ;;
	--bzimage) BZIMAGE=1 ;;
	-t|--timeout) TIMEOUT=$2; shift ;;
	-e) ENVS+=("$2"); shift ;;
	--append) APPEND="$APPEND $2"; shift ;;
	--qemu-arg) QEMU_EXTRA+=("$2"); shift ;;
	--port-name) PORT_NAME=$2; shift ;;
	--no-balloon) BALLOON=0 ;;
	--host-sock) HOST_SOCK=$2; shift ;;
	--host-listens) HOST_LISTENS=1 ;;
	--host-cmd) HOST_CMD=$2; shift ;;
	--host-grace) HOST_GRACE=$2; shift ;;
	--console-log) CONSOLE_COPY=$2; shift ;;
	-k|--keep) KEEP=1 ;;
	-q|--quiet) QUIET=1 ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-) break ;;
	-*) err "unknown option $1"; usage ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 1 ] || usage
SCENARIO=$1; shift
for v in "$N0" "$N1" "$SMP" "$TIMEOUT" "$HOST_GRACE"; do
	case $v in ''|*[!0-9]*) err "not a number: '$v'"; exit 2 ;; esac
done
[ "$N0" -gt 0 ] || { err "--node0 must be > 0"; exit 2; }
case $TCG_THREAD in single|multi) ;; *) err "--tcg-thread: single or multi, not '$TCG_THREAD'"; exit 2 ;; esac
case $PORT_NAME in *[!A-Za-z0-9._-]*|'') err "bad port name"; exit 2 ;; esac

if [ "$NOBUILD" = 0 ]; then
	if [ "$QUIET" = 1 ]; then
		"$SRC/tests/vm/build-guest.sh" "$B" 2>/dev/null ||
			"$SRC/tests/vm/build-guest.sh" "$B" || exit 125
	else
		"$SRC/tests/vm/build-guest.sh" "$B" || exit 125
	fi
fi
VM=$(cd "$B" && pwd)/vm
KERNEL=$VM/vmlinux
[ "$BZIMAGE" = 1 ] || [ ! -f "$KERNEL" ] && KERNEL=$VM/vmlinuz
for f in "$KERNEL" "$VM/initramfs.cpio"; do
	[ -f "$f" ] || { err "$f missing: run tests/vm/build-guest.sh $B"; exit 125; }
done

# ------------------------------------------------------------ per-run dir
# On tmpfs, like a production host's guest RAM; everything of this run
# (RAM backing files, socket, logs, initrd) lives here and goes at exit.
D=$(mktemp -d /dev/shm/vtier-vm.XXXXXX) || exit 125
QPID=
HPID=
RPID=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
	[ -n "$QPID" ] && kill -KILL "$QPID" 2>/dev/null
	[ -n "$RPID" ] && kill -KILL "$RPID" 2>/dev/null
	[ -n "$HPID" ] && kill -KILL -- "-$HPID" 2>/dev/null
	# QEMU's listening socket may outlive it when --host-sock is outside $D.
	[ "$HOST_LISTENS" = 0 ] && [ -S "$HOST_SOCK" ] && rm -f "$HOST_SOCK"
	if [ "$KEEP" = 1 ]; then
		err "kept $D"
	else
		rm -rf "$D"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -n "$HOST_SOCK" ] || HOST_SOCK=$D/host.sock
if [ ${#HOST_SOCK} -ge 108 ]; then
	err "socket path longer than a sockaddr_un allows: $HOST_SOCK"; exit 2
fi
# A stale socket from an earlier run would let CMD connect to nothing
# before QEMU has replaced it.
[ "$HOST_LISTENS" = 0 ] && [ -S "$HOST_SOCK" ] && rm -f "$HOST_SOCK"
CONSOLE=$D/console.log
OUT=$D/scenario.out

# -------------------------------------------------- per-run initramfs part
# The kernel unpacks concatenated cpio archives in order, so the cached
# base is reused as is and this run's files are a second archive after it.
ST=$D/overlay
mkdir -p "$ST/vtier"
if [ "$SCENARIO" = - ]; then
	cat >"$ST/scenario"
else
	[ -f "$SCENARIO" ] || { err "no scenario $SCENARIO"; exit 2; }
	cp "$SCENARIO" "$ST/scenario"
fi
for x in "$@"; do
	src=${x%%:*}
	dst=/vtier/$(basename "$src")
	[ "$src" != "$x" ] && dst=${x#*:}
	[ -e "$src" ] || { err "no file $src"; exit 2; }
	case $dst in /*) ;; *) err "guest path must be absolute: $dst"; exit 2 ;; esac
	# The guest has no libc: a dynamic ELF would fail there with a
	# confusing "not found".  Say so here.
	if [ -f "$src" ] && [ "$(head -c 4 "$src" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] &&
	   LC_ALL=C ldd "$src" >/dev/null 2>&1; then
		err "warning: $src is dynamically linked; the guest has no libc"
	fi
	mkdir -p "$ST$(dirname "$dst")"
	cp -a "$src" "$ST$dst"
done
if [ ${#ENVS[@]} -gt 0 ]; then
	for e in "${ENVS[@]}"; do
		case $e in
		[A-Za-z_]*=*) ;;
		*) err "-e wants VAR=VALUE: $e"; exit 2 ;;
		esac
		# Single-quote the value for the guest's sh.
		v=${e#*=}
		printf "export %s='%s'\n" "${e%%=*}" \
			"$(printf '%s' "$v" | sed "s/'/'\\\\''/g")"
	done >"$ST/vtier/env"
fi
(cd "$ST" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) >"$D/overlay.cpio" || exit 125
cat "$VM/initramfs.cpio" "$D/overlay.cpio" >"$D/initrd"
rm -rf "$ST" "$D/overlay.cpio"

# ------------------------------------------------------------ QEMU command
# Node 0 has the CPUs; node 1 is memory only, as CXL memory appears to a
# guest.  share=on file backends are what the host shim maps to pre-fault.
Q=(qemu-system-x86_64 -accel "tcg,thread=$TCG_THREAD" -machine q35 -cpu "$CPU" -smp "$SMP"
	-m "$((N0 + N1))M"
	-object "memory-backend-file,id=m0,size=${N0}M,mem-path=$D/node0,share=on"
	-numa "node,nodeid=0,cpus=0-$((SMP - 1)),memdev=m0")
if [ "$N1" -gt 0 ]; then
	Q+=(-object "memory-backend-file,id=m1,size=${N1}M,mem-path=$D/node1,share=on"
		-numa "node,nodeid=1,memdev=m1")
fi
if [ "$HOST_LISTENS" = 1 ]; then
	SOCKOPT="server=off,reconnect=1"
else
	SOCKOPT="server=on,wait=off"
fi
# -nodefaults: no NIC (its option ROM would be one more package), no VGA.
# Two serial ports: ttyS0 = kernel console, ttyS1 = scenario output.
Q+=(-nodefaults -no-user-config -display none -monitor none -no-reboot
	-chardev "file,id=con,path=$CONSOLE" -serial chardev:con
	-chardev "file,id=out,path=$OUT" -serial chardev:out
	-device virtio-serial-pci
	-chardev "socket,id=c0,path=$HOST_SOCK,$SOCKOPT"
	-device "virtserialport,chardev=c0,name=$PORT_NAME"
	-chardev "pipe,id=hr,path=$D/hostres"
	-device virtserialport,chardev=hr,name=vtier.hostres
	-kernel "$KERNEL" -initrd "$D/initrd"
	-append "console=ttyS0 quiet panic=-1 vtier.port=$PORT_NAME$APPEND")
# Free page reporting: QEMU punches what the guest reports free out of
# the backing files (memory-backend-file, share=on).
[ "$BALLOON" = 1 ] && Q+=(-device virtio-balloon-pci,free-page-reporting=on)
[ ${#QEMU_EXTRA[@]} -gt 0 ] && Q+=("${QEMU_EXTRA[@]}")

# The host residency sampler (see "Host residency" above).  A pipe
# chardev: QEMU reads hostres.in (opened read-write, so neither side
# blocks on open); the guest's lines, if any, go to hostres.out, unread.
# If the guest never opens its port the FIFO fills after ~64 KiB (over
# 15 minutes of lines) and the sampler blocks: harmless, it is killed at
# the end.
mkfifo "$D/hostres.in" "$D/hostres.out" || exit 125
start_resident_sampler() {
	(
		exec 3<>"$D/hostres.in"
		while :; do
			b0=$(stat -c %b "$D/node0" 2>/dev/null || echo 0)
			b1=$(stat -c %b "$D/node1" 2>/dev/null || echo 0)
			l="host_resident ms=$(( $(date +%s%3N) - T0 )) node0=$((b0 * 512)) node1=$((b1 * 512))"
			echo "$l" >>"$D/host_resident.log"
			echo "$l" >&3
			sleep 0.5
		done
	) </dev/null >/dev/null 2>&1 &
	RPID=$!
	disown "$RPID"	# no "Killed" notice when it is killed
}

start_host_cmd() {
	# Own process group (setsid), so cleanup can kill CMD and its children.
	VTIER_HOST_SOCK=$HOST_SOCK VTIER_VM_DIR=$D \
	VTIER_NODE0_FILE=$D/node0 VTIER_NODE1_FILE=$D/node1 \
	VTIER_NODE0_MIB=$N0 VTIER_NODE1_MIB=$N1 \
	VTIER_HOST_RESIDENT=$D/host_resident.log \
		setsid sh -c "$HOST_CMD" </dev/null &
	HPID=$!
	say "host command started (pid $HPID)"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
: >"$OUT"
[ -n "$HOST_CMD" ] && [ "$HOST_LISTENS" = 1 ] && start_host_cmd
say "booting $(basename "$KERNEL"): node0 ${N0}M (cpus 0-$((SMP - 1))), node1 ${N1}M, host socket $HOST_SOCK, TCG $TCG_THREAD-threaded"
"${Q[@]}" </dev/null >"$D/qemu.log" 2>&1 &
QPID=$!
start_resident_sampler

# ----------------------------------------------------------- supervision
# Poll: print new complete scenario lines, start CMD once the socket is
# there, enforce the deadline.  Lines are counted, not bytes, so a line
# the guest is still writing is printed once it is complete.
shown=0
show_new() {	# $1 = 1: also the last, unterminated line
	local total
	total=$(wc -l <"$OUT")
	[ "$1" = 1 ] && [ -s "$OUT" ] && [ "$(tail -c 1 "$OUT")" != "" ] &&
		total=$((total + 1))
	if [ "$total" -gt "$shown" ]; then
		sed -n "$((shown + 1)),${total}p" "$OUT" | tr -d '\r' |
			grep -Ev '^VTIER-SCENARIO-(BEGIN|END rc=-?[0-9]+)$'
		shown=$total
	fi
}
deadline=$((T0 + TIMEOUT * 1000))
timed_out=0
booted_ms=
while kill -0 "$QPID" 2>/dev/null; do
	if [ -n "$HOST_CMD" ] && [ -z "$HPID" ] && [ -S "$HOST_SOCK" ]; then
		start_host_cmd
	fi
	if [ -z "$booted_ms" ] && grep -q '^VTIER-SCENARIO-BEGIN' "$OUT"; then
		booted_ms=$(( $(now_ms) - T0 ))
	fi
	show_new 0
	if [ "$(now_ms)" -ge "$deadline" ]; then
		timed_out=1
		err "timeout: killing QEMU after ${TIMEOUT}s"
		kill -TERM "$QPID" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$QPID" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$QPID" 2>/dev/null
		break
	fi
	sleep 0.1
done
wait "$QPID" 2>/dev/null
qrc=$?
QPID=
kill -KILL "$RPID" 2>/dev/null
RPID=
show_new 1
T1=$(now_ms)
[ -n "$CONSOLE_COPY" ] && cp "$CONSOLE" "$CONSOLE_COPY"

# ---------------------------------------------------------------- results
end=$(tr -d '\r' <"$OUT" | grep -E '^VTIER-SCENARIO-END rc=-?[0-9]+$' | tail -n 1)
if [ "$timed_out" = 1 ]; then
	rc=124
elif [ -n "$end" ]; then
	rc=${end#VTIER-SCENARIO-END rc=}
else
	err "the guest ended without reporting a status (QEMU exit $qrc)"
	rc=125
fi

if [ -n "$HPID" ]; then
	# Let CMD finish on its own (e.g. a shim that ends when the guest
	# disconnects), then kill it; a killed CMD is not a failure.
	g=$(( $(now_ms) + HOST_GRACE * 1000 ))
	while kill -0 "$HPID" 2>/dev/null && [ "$(now_ms)" -lt "$g" ]; do
		sleep 0.1
	done
	if kill -0 "$HPID" 2>/dev/null; then
		say "host command still running after ${HOST_GRACE}s: killed"
		kill -TERM -- "-$HPID" 2>/dev/null
		wait "$HPID" 2>/dev/null
	else
		wait "$HPID"
		hrc=$?
		if [ "$hrc" != 0 ]; then
			err "host command failed (exit $hrc)"
			[ "$rc" = 0 ] && rc=$hrc
		fi
	fi
	HPID=
fi

secs() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }
# Boot = QEMU start to the scenario's first line, seen by polling
# (0.1 s granularity); total = QEMU start to QEMU exit.
boot='?'
[ -n "$booted_ms" ] && boot=$(secs "$booted_ms")s
# A scenario that ends within one poll: the boot took at most the total.
[ -z "$booted_ms" ] && grep -q '^VTIER-SCENARIO-BEGIN' "$OUT" &&
	boot="<=$(secs $((T1 - T0)))s"
say "scenario exit $rc; boot $boot, total $(secs $((T1 - T0)))s"
if [ "$rc" != 0 ]; then
	if [ -s "$D/qemu.log" ]; then
		err "--- qemu output:"
		tail -n 20 "$D/qemu.log" >&2
	fi
	err "--- last 60 lines of the guest console ($CONSOLE):"
	tr -d '\r' <"$CONSOLE" | tail -n 60 >&2
fi
exit "$rc"
