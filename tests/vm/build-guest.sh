#!/bin/sh
# build-guest.sh [BUILD_DIR] - build the vtier test-bed guest (POSIX sh).
#
# Produces, under BUILD_DIR/vm (BUILD_DIR defaults to ./build):
#   vmlinuz            Debian's linux-image-amd64 kernel (bzImage)
#   vmlinux            the same kernel uncompressed, booted via PVH (faster)
#   kernel.release     its release string (e.g. 6.1.0-56-amd64)
#   kernel-root/       the unpacked kernel package (depmod has been run)
#   modules.load       the modules the guest loads, in load order
#   bin/<name>         static test programs, one per tests/workloads/*.c
#                      (numa_probe, vsock_ping)
#   initramfs.cpio     base initramfs: busybox, /init, modules, bin/<name>
#   initramfs.inputs   hash of everything the initramfs was built from
#
# The kernel: Debian's linux-image-amd64, by default from the release's
# backports suite (bookworm-backports: 6.12, the kernel line of Debian 13),
# VTIER_KERNEL=stable for the release's own (Debian 12: 6.1), or
# VTIER_KERNEL_DEB=/path/to/linux-image-*.deb for a local .deb.  Why
# backports: later kernels (6.12) batch the TLB flushes of a migration;
# 6.1 sends one shootdown per page to every CPU running the process, and
# on a loaded TCG host each waits for a vCPU the host has not scheduled
# (README, "Limits").  tests/sh/vm_stable_kernel.sh keeps 6.1 tested.
# The backports index lives in BUILD_DIR/vm/apt (the host's apt sources
# are not touched).
#
# Idempotent and cached: the kernel is downloaded once (set
# VTIER_KERNEL_REFRESH=1 to re-resolve linux-image-amd64 and fetch a newer
# one),
# the workloads are rebuilt when their source is newer, and the initramfs is
# rebuilt only when the hash of its inputs changes.
#
# Needs root for apt-get (only when a package is missing) and to give the
# cpio archive root-owned files.
set -eu

SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${1:-build}
mkdir -p "$B"
B=$(cd "$B" && pwd)
VM=$B/vm
mkdir -p "$VM"

say() { echo "build-guest: $*" >&2; }
die() { say "error: $*"; exit 1; }

# One build at a time per build dir: parallel run-guest.sh calls each run
# this script, and two of them must not stage the same initramfs.
exec 9>"$VM/.lock"
flock 9

# ---------------------------------------------------------------- packages
# Install only what is missing; apt-get update only if something is.
# qemu without recommends: no GUI, no ovmf, which a -nographic TCG guest
# does not need.  libnuma-dev for libnuma.a (numa_probe and, later, the
# static agent).
PKGS="qemu-system-x86 busybox-static cpio kmod xz-utils binutils libnuma-dev gcc libc6-dev"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "installing:$missing"
	apt-get update -qq
	# shellcheck disable=SC2086  # word splitting of the list is wanted
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing
fi

# ------------------------------------------------------------------ kernel
# linux-image-amd64 is a metapackage; its one dependency names the real,
# versioned package (linux-image-6.1.0-NN-amd64), which is what we fetch.
# kapt runs apt-get/apt-cache on the host's sources (stable) or on a
# sources list of the release's backports suite alone, with its own index
# and cache under $VM/apt, on the host's mirror and archive keyring.
KSUITE=${VTIER_KERNEL:-backports}
case $KSUITE in
stable|backports) ;;
*) die "VTIER_KERNEL=$KSUITE: say stable or backports" ;;
esac
KAPT=$VM/apt
kapt() {
	if [ "$KSUITE" = stable ]; then
		"$@"
	else
		"$@" -o Dir::Etc::SourceList="$KAPT/sources.list" \
			-o Dir::Etc::SourceParts="$KAPT/none" \
			-o Dir::State::Lists="$KAPT/lists" \
			-o Dir::Cache="$KAPT/cache"
	fi
}
kapt_setup() {
	[ "$KSUITE" = stable ] && return 0
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
	# shellcheck disable=SC2016  # $(...) is apt's format, not the shell's
	mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
		awk -v r="$codename" '$2 == r { print $1; exit }')
	: "${mirror:=http://deb.debian.org/debian/}"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] || die "no $keyring (package debian-archive-keyring)"
	mkdir -p "$KAPT/lists/partial" "$KAPT/cache/archives/partial" "$KAPT/none"
	echo "deb [signed-by=$keyring] $mirror $codename-backports main" \
		>"$KAPT/sources.list"
}
resolve_kernel_pkg() {
	kapt apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# Unpack the .deb named in kernel.deb into kernel-root (whole: depmod
# and modprobe need every module to resolve dependencies); the tree is
# pruned to what the guest uses once the module list is known.
unpack_kernel() {
	deb=$(cat "$VM/kernel.deb")
	[ -f "$deb" ] || die "kernel package $deb is gone: rerun with VTIER_KERNEL_REFRESH=1"
	say "unpacking $(basename "$deb")"
	rm -rf "$VM/kernel-root.new"
	dpkg-deb -x "$deb" "$VM/kernel-root.new"
	rel=$(ls "$VM/kernel-root.new/lib/modules" | head -n 1)
	[ -n "$rel" ] && [ -f "$VM/kernel-root.new/boot/vmlinuz-$rel" ] ||
		die "$deb has no vmlinuz/modules"
	# modules.dep is not shipped in the .deb (the postinst makes it).
	depmod -b "$VM/kernel-root.new" "$rel"
	rm -rf "$VM/kernel-root"
	mv "$VM/kernel-root.new" "$VM/kernel-root"
}

# newer A B: A was modified after B ("test -nt" is not POSIX).
newer() { [ -n "$(find "$1" -prune -newer "$2" 2>/dev/null)" ]; }
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

# Which .deb the guest kernel comes from: a given one, or the cached
# download, or (first build, or VTIER_KERNEL_REFRESH=1 after an apt-get
# update) whatever linux-image-amd64 resolves to now.
deb=
if [ -n "${VTIER_KERNEL_DEB:-}" ]; then
	[ -f "$VTIER_KERNEL_DEB" ] || die "no kernel package at $VTIER_KERNEL_DEB"
	deb=$(abs "$VTIER_KERNEL_DEB")
	echo file >"$VM/kernel.suite"
elif [ "${VTIER_KERNEL_REFRESH:-0}" = 1 ] || [ ! -s "$VM/kernel.deb" ] ||
	[ "$(cat "$VM/kernel.suite" 2>/dev/null)" != "$KSUITE" ]; then
	kapt_setup
	# As root into our own directories: tell apt not to drop to the _apt
	# user, which could not write there.
	[ "${VTIER_KERNEL_REFRESH:-0}" = 1 ] &&
		kapt apt-get update -qq -o APT::Sandbox::User=root
	pkg=$(resolve_kernel_pkg)
	if [ -z "$pkg" ]; then
		# Fresh machine: the package lists may not be there yet.
		kapt apt-get update -qq -o APT::Sandbox::User=root
		pkg=$(resolve_kernel_pkg)
	fi
	[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 ($KSUITE)"
	mkdir -p "$VM/debs"
	deb=$(ls -t "$VM/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		say "downloading $pkg ($KSUITE)"
		(cd "$VM/debs" && kapt apt-get download -q \
			-o APT::Sandbox::User=root "$pkg") >&2
		deb=$(ls -t "$VM/debs/${pkg}_"*.deb | head -n 1)
	fi
	echo "$KSUITE" >"$VM/kernel.suite"
else
	deb=$(cat "$VM/kernel.deb")
fi

need_kernel=0
[ "$deb" = "$(cat "$VM/kernel.deb" 2>/dev/null)" ] || need_kernel=1
[ -s "$VM/kernel.release" ] && [ -s "$VM/vmlinuz" ] &&
	[ -d "$VM/kernel-root/lib/modules" ] || need_kernel=1
if [ $need_kernel = 1 ]; then
	echo "$deb" >"$VM/kernel.deb"
	unpack_kernel
	rel=$(ls "$VM/kernel-root/lib/modules" | head -n 1)
	cp "$VM/kernel-root/boot/vmlinuz-$rel" "$VM/vmlinuz.new"
	mv "$VM/vmlinuz.new" "$VM/vmlinuz"
	echo "$rel" >"$VM/kernel.release"
fi
REL=$(cat "$VM/kernel.release")
KROOT=$VM/kernel-root

# --------------------------------------------------------------- vmlinux
# Under TCG the bzImage spends ~3 s decompressing itself before the kernel
# prints a line -- more than half of the boot.  QEMU can instead load the
# uncompressed ELF vmlinux directly through its PVH entry point (Debian
# builds CONFIG_PVH=y), so unpack it once here.  The payload's place is in
# the bzImage header (boot protocol >= 2.08): setup_sects at 0x1f1,
# payload_offset at 0x248, payload_length at 0x24c.  If anything about it
# is unexpected, leave no vmlinux and run-guest.sh boots the bzImage.
le_u() {	# file offset bytes -> unsigned little-endian integer
	od -An -tu1 -j "$2" -N "$3" "$1" |
		awk '{ for (i = NF; i >= 1; i--) v = v * 256 + $i } END { print v + 0 }'
}
extract_vmlinux() {
	bz=$VM/vmlinuz
	ss=$(le_u "$bz" $((0x1f1)) 1)
	[ "$ss" = 0 ] && ss=4
	po=$(le_u "$bz" $((0x248)) 4)
	pl=$(le_u "$bz" $((0x24c)) 4)
	off=$(( (ss + 1) * 512 + po ))
	magic=$(tail -c +$((off + 1)) "$bz" | head -c 6 | od -An -tx1 | tr -d ' \n')
	# The build appends the uncompressed size (4 bytes) to the payload.
	case $magic in
	fd377a585a00) dec="xz -dc --single-stream" ;;
	28b52ffd*)    dec="zstd -qdc"; pl=$((pl - 4)) ;;
	1f8b*)        dec="gzip -dc"; pl=$((pl - 4)) ;;
	*) say "unknown kernel payload ($magic): will boot the bzImage"; return 1 ;;
	esac
	command -v "${dec%% *}" >/dev/null || return 1
	tail -c +$((off + 1)) "$bz" | head -c "$pl" | $dec >"$VM/vmlinux.new" ||
		return 1
	[ "$(head -c 4 "$VM/vmlinux.new" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] ||
		return 1
	# XEN_ELFNOTE_PHYS32_ENTRY (type 0x12) is the PVH entry QEMU needs.
	LC_ALL=C readelf -n "$VM/vmlinux.new" 2>/dev/null |
		grep -q 'Xen.*(0x00000012)' || {
		say "kernel has no PVH entry: will boot the bzImage"; return 1; }
	mv "$VM/vmlinux.new" "$VM/vmlinux"
}
if [ ! -s "$VM/vmlinux" ] || newer "$VM/vmlinuz" "$VM/vmlinux"; then
	rm -f "$VM/vmlinux" "$VM/vmlinux.new"
	say "extracting vmlinux for a PVH boot"
	extract_vmlinux || { rm -f "$VM/vmlinux.new"; say "no vmlinux: bzImage boot"; }
fi

# ----------------------------------------------------------------- modules
# What the test bed needs: virtio-pci and virtio-console for the
# virtio-serial link to the host, vsock + the virtio transport (the
# agent's production transport; it has no device here, but loading it
# makes the AF_VSOCK code paths behave as in a real guest) and
# vsock_loopback (CID 1, to exercise the AF_VSOCK code inside the guest),
# and virtio_balloon for free page reporting (run-guest.sh gives the
# guest virtio-balloon-pci,free-page-reporting=on: what the guest frees
# goes back to the host; Debian's 6.1 has CONFIG_PAGE_REPORTING=y).
# modprobe --show-depends resolves dependencies and their order from the
# depmod output, and says "builtin" for what is built in (skipped).
# VTIER_GUEST_MODULES adds more (names as modprobe knows them).
WANT="virtio_pci virtio_console vmw_vsock_virtio_transport vsock_loopback virtio_balloon"
WANT="$WANT ${VTIER_GUEST_MODULES:-}"
resolve_modules() {
	: >"$VM/modules.deps"
	for m in $WANT; do
		modprobe -d "$KROOT" -S "$REL" --show-depends "$m" \
			>>"$VM/modules.deps" 2>/dev/null || return 1
	done
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$VM/modules.deps" \
		>"$VM/modules.list"
	# ... and every module listed must still be in the (pruned) tree.
	while read -r ko; do [ -f "$ko" ] || return 1; done <"$VM/modules.list"
}
if ! resolve_modules; then
	# The tree was pruned for an earlier module list: unpack it again.
	unpack_kernel
	resolve_modules || {
		for m in $WANT; do
			modprobe -d "$KROOT" -S "$REL" --show-depends "$m" \
				>/dev/null || say "no module $m"
		done
		die "cannot resolve modules [$WANT] in $REL"
	}
fi
# Paths in the guest: /lib/modules/REL/<path below the module dir>.
sed "s|^$KROOT/*|/|" "$VM/modules.list" >"$VM/modules.load.new"
mv "$VM/modules.load.new" "$VM/modules.load"
# Prune the unpacked tree (~400 MB) to what the guest uses: the kernel
# files in boot/, depmod's index, the listed modules.  The .deb stays in
# debs/ to unpack again if the list grows.
if [ -d "$KROOT/usr" ] ||
   [ "$(find "$KROOT/lib/modules/$REL/kernel" -name '*.ko*' | wc -l)" -gt \
     "$(wc -l <"$VM/modules.list")" ]; then
	find "$KROOT/lib/modules/$REL/kernel" -name '*.ko*' | LC_ALL=C sort \
		>"$VM/modules.all"
	LC_ALL=C sort "$VM/modules.list" | comm -23 "$VM/modules.all" - |
		xargs -r rm -f
	find "$KROOT/lib/modules/$REL/kernel" -depth -type d -empty -delete
	rm -rf "${KROOT:?}/usr" "$VM/modules.all"
fi

# --------------------------------------------------------------- workloads
# Every tests/workloads/*.c is one static test program, in the guest's
# /bin.  Rebuilt when its source is newer than the binary.
mkdir -p "$VM/bin"
WORKLOADS=
for c in "$SRC"/tests/workloads/*.c; do
	[ -f "$c" ] || continue
	w=$(basename "$c" .c)
	WORKLOADS="$WORKLOADS $w"
	[ -x "$VM/bin/$w" ] && ! newer "$c" "$VM/bin/$w" && continue
	say "building $w"
	# libnuma.a's affinity.o references getaddrinfo, hence a linker
	# warning about static getaddrinfo (kept in $w.ld.log); nothing here
	# calls it.
	gcc -O2 -g -Wall -Wextra -static -o "$VM/bin/$w.new" "$c" -lnuma \
		2>"$VM/bin/$w.ld.log" || {
		cat "$VM/bin/$w.ld.log" >&2
		die "$w build failed"
	}
	mv "$VM/bin/$w.new" "$VM/bin/$w"
done

# --------------------------------------------------------------- initramfs
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] && "$BUSYBOX" --list >/dev/null 2>&1 ||
	die "$BUSYBOX (busybox-static) missing"
file_is_static() { ! LC_ALL=C ldd "$1" >/dev/null 2>&1; }
file_is_static "$BUSYBOX" || die "$BUSYBOX is not static"

# Everything that goes into the archive, hashed: rebuild iff it changed.
inputs=$( {
	echo "format 1"
	echo "$REL"
	cat "$VM/modules.load"
	echo "$WORKLOADS"
	sha256sum "$SRC/tests/vm/init" "$SRC/tests/vm/build-guest.sh" \
		"$BUSYBOX" | cut -d' ' -f1
	for w in $WORKLOADS; do sha256sum "$VM/bin/$w"; done | cut -d' ' -f1
	xargs sha256sum <"$VM/modules.list" | cut -d' ' -f1
} | sha256sum | cut -d' ' -f1)

if [ -f "$VM/initramfs.cpio" ] &&
   [ "$(cat "$VM/initramfs.inputs" 2>/dev/null)" = "$inputs" ]; then
	say "up to date: kernel $REL, $VM/initramfs.cpio"
	exit 0
fi

say "building initramfs for $REL"
ST=$VM/initramfs.stage
rm -rf "$ST"
mkdir -p "$ST/bin" "$ST/sbin" "$ST/usr/bin" "$ST/usr/sbin" "$ST/etc/vtier" \
	"$ST/proc" "$ST/sys" "$ST/dev" "$ST/tmp" "$ST/run" "$ST/root" \
	"$ST/vtier" "$ST/lib/modules/$REL"
cp "$BUSYBOX" "$ST/bin/busybox"
# One symlink per applet at the path busybox itself names (bin/ls,
# sbin/insmod, ...), so scripts find tools where they expect them.
"$BUSYBOX" --list-full | while read -r app; do
	[ -e "$ST/$app" ] && continue
	mkdir -p "$ST/$(dirname "$app")"
	ln -s /bin/busybox "$ST/$app"
done
cp "$SRC/tests/vm/init" "$ST/init"
chmod 0755 "$ST/init"
for w in $WORKLOADS; do cp "$VM/bin/$w" "$ST/bin/$w"; done
# The kernel packs no compressed modules in 6.1 (MODULE_COMPRESS_NONE),
# but a later one might: busybox insmod cannot read .ko.xz/.ko.zst, so
# store every module uncompressed and name it .ko in modules.load.
: >"$ST/etc/vtier/modules.load"
while read -r rel_path; do
	dst=$ST$rel_path
	mkdir -p "$(dirname "$dst")"
	case $rel_path in
	*.ko.xz)  xz -dc "$KROOT$rel_path" >"${dst%.xz}"; dst=${dst%.xz} ;;
	*.ko.zst) zstd -qdc "$KROOT$rel_path" >"${dst%.zst}"; dst=${dst%.zst} ;;
	*.ko.gz)  gzip -dc "$KROOT$rel_path" >"${dst%.gz}"; dst=${dst%.gz} ;;
	*)        cp "$KROOT$rel_path" "$dst" ;;
	esac
	echo "${dst#"$ST"}" >>"$ST/etc/vtier/modules.load"
done <"$VM/modules.load"
echo "$REL" >"$ST/etc/vtier/kernel.release"

# Uncompressed: the kernel unpacks it faster than it would gunzip it
# under TCG, and run-guest.sh appends a per-run archive to it.
(cd "$ST" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) >"$VM/initramfs.cpio.new"
mv "$VM/initramfs.cpio.new" "$VM/initramfs.cpio"
echo "$inputs" >"$VM/initramfs.inputs"
rm -rf "$ST"
say "built $VM/initramfs.cpio ($(($(wc -c <"$VM/initramfs.cpio") / 1024)) KiB), kernel $REL"
say "modules: $(sed 's|.*/||; s|\.ko.*||' "$VM/modules.load" | tr '\n' ' ')"
