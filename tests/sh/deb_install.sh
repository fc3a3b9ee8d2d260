# deb_install.sh - the Debian packages, built and installed for real.
#
# `make deb` builds vtierctl, vtier-agent and vtier-hostshim (below
# build/deb/ only) and lintian finds no error in them.  They are then
# installed with apt into a fresh Debian 12 root (debootstrap
# --variant=minbase plus systemd, in build/deb/root, deleted at the end),
# which resolves their dependencies from the archive and runs their
# maintainer scripts there.  Checked: binaries, units, conffiles and man
# pages are where the man pages and the README say; the installed agent
# and shim accept the installed configs; systemd-analyze verify is
# silent on the installed units (ExecStart, /bin/kill and every
# Documentation= man page resolved in that root); both units are
# enabled; purging removes it all.  Needs root, debootstrap and the
# Debian archive; a missing man page in packaging/man fails the test.
set -eu
: "${B:=build}" "${SRC:=.}"
SRC=$(cd "$SRC" && pwd)
D=$SRC/build/deb
ROOT=$D/root
MIRROR=${DEB_MIRROR:-http://deb.debian.org/debian}
T=$(mktemp -d /tmp/vtier-deb.XXXXXX)
fail() { echo "deb_install: $*"; exit 1; }
# nothing is mounted in the root: removing it touches nothing else
trap 'rm -rf "$T" "$ROOT"' EXIT
t0=$(date +%s)
step() { echo "deb_install: $(( $(date +%s) - t0 ))s: $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot)"
for m in vtier-agent.8 vtier-hostshim.8 vtierctl.8 vtier-agent.ini.5 \
    vtier-hostshim.ini.5; do
	[ -f "$SRC/packaging/man/$m" ] ||
		fail "packaging/man/$m is missing: the packages ship it"
done

step "make deb"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SRC" deb \
    >"$T/make-deb.log" 2>&1 || { tail -40 "$T/make-deb.log"; fail "make deb failed"; }
grep '^E:' "$D/lintian.txt" && fail "lintian errors (above)"
grep '^[WI]:' "$D/lintian.txt" || true
V=$(sed -n 's/^#define VTIER_VERSION "\(.*\)"/\1/p' "$SRC/include/vtier/version.h")
A=$(dpkg --print-architecture)
DEBS=""
for p in vtierctl vtier-agent vtier-hostshim; do
	f=$D/${p}_${V}_$A.deb
	[ -f "$f" ] || fail "no $f"
	DEBS="$DEBS /tmp/debs/${f##*/}"
done

step "debootstrap --variant=minbase bookworm"
rm -rf "$ROOT"
debootstrap --variant=minbase --include=systemd bookworm "$ROOT" "$MIRROR" \
    >"$T/debootstrap.log" 2>&1 || { tail -20 "$T/debootstrap.log"; fail "debootstrap failed"; }
mkdir -p "$ROOT/tmp/debs"
cp "$D"/*_"${V}_$A.deb" "$ROOT/tmp/debs/"
in_root() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	    LC_ALL=C.UTF-8 chroot "$ROOT" "$@"
}

step "apt-get install ./vtierctl ./vtier-agent ./vtier-hostshim in the root"
# shellcheck disable=SC2086
in_root apt-get install -y -q --no-install-recommends $DEBS >"$T/apt.log" 2>&1 ||
	{ tail -30 "$T/apt.log"; fail "apt-get install of the packages failed"; }
Q="dpkg-query --admindir=$ROOT/var/lib/dpkg"
for p in vtierctl vtier-agent vtier-hostshim; do
	[ "$($Q -W -f='${Status}' $p)" = "install ok installed" ] ||
		fail "$p is not installed: $($Q -W -f='${Status}' $p)"
done

step "files, owners, conffiles"
while read -r pkg f; do
	[ -f "$ROOT$f" ] || fail "$pkg: $f missing"
	case $f in */sbin/*|*/bin/*) [ -x "$ROOT$f" ] || fail "$f not executable";; esac
	owner=$($Q -S "$f" 2>/dev/null | cut -d: -f1)
	# usrmerge: /lib is /usr/lib in the root, dpkg knows the /lib name
	[ "$owner" = "$pkg" ] || fail "$f belongs to '$owner', not $pkg"
done <<LIST
vtierctl /usr/bin/vtierctl
vtierctl /usr/share/man/man8/vtierctl.8.gz
vtier-agent /usr/sbin/vtier-agent
vtier-agent /etc/vtier/agent.ini
vtier-agent /lib/systemd/system/vtier-agent.service
vtier-agent /usr/share/man/man8/vtier-agent.8.gz
vtier-agent /usr/share/man/man5/vtier-agent.ini.5.gz
vtier-hostshim /usr/sbin/vtier-hostshim
vtier-hostshim /etc/vtier/hostshim.ini
vtier-hostshim /lib/systemd/system/vtier-hostshim.service
vtier-hostshim /usr/share/man/man8/vtier-hostshim.8.gz
vtier-hostshim /usr/share/man/man5/vtier-hostshim.ini.5.gz
LIST
$Q -W -f='${Conffiles}\n' vtier-agent | grep -q '^ /etc/vtier/agent.ini [0-9a-f]\{32\}$' ||
	fail "/etc/vtier/agent.ini is not a conffile of vtier-agent"
$Q -W -f='${Conffiles}\n' vtier-hostshim | grep -q '^ /etc/vtier/hostshim.ini [0-9a-f]\{32\}$' ||
	fail "/etc/vtier/hostshim.ini is not a conffile of vtier-hostshim"
cmp -s "$ROOT/etc/vtier/agent.ini" "$SRC/agent.ini" || fail "installed agent.ini differs"

# Every vtier path the man pages and the README's Installing section
# name must be in the root (sockets under /run/vtier exist only at run
# time; the examples in /dev/shm, /run/fc are the admin's).
step "paths named by the man pages and the README"
for m in "$ROOT"/usr/share/man/man[58]/vtier*.gz; do
	LC_ALL=C MANWIDTH=200 man -l "$m" 2>/dev/null | col -b
done >"$T/man.txt"
[ -s "$T/man.txt" ] || fail "the man pages render to nothing"
sed -n '/^## Installing/,/^## /p' "$SRC/README.md" >>"$T/man.txt"
grep -o '/\(etc/vtier\|usr/s\?bin\|lib/systemd/system\|usr/share/man\)/[A-Za-z0-9._/-]*[A-Za-z0-9]' \
    "$T/man.txt" | sort -u >"$T/paths"
[ -s "$T/paths" ] || fail "the man pages name no installed path"
while read -r p; do
	case $p in */) continue;; esac
	[ -e "$ROOT$p" ] || fail "$p is named in the docs but not installed"
done <"$T/paths"
echo "deb_install: $(wc -l <"$T/paths") documented paths present"

step "the installed programs in the root"
in_root /usr/sbin/vtier-agent -n -c /etc/vtier/agent.ini >"$T/agent-n.txt" ||
	fail "the installed agent refuses the installed config"
grep -q '^\[agent\]' "$T/agent-n.txt" || fail "vtier-agent -n printed no config"
in_root /usr/sbin/vtier-hostshim -n -c /etc/vtier/hostshim.ini >/dev/null ||
	fail "the installed shim refuses the installed config"
in_root /usr/bin/vtierctl --help >"$T/help.txt" 2>&1 || fail "vtierctl --help failed"
grep -q 'status' "$T/help.txt" || fail "vtierctl --help says nothing of status"

step "systemd-analyze verify (and security) on the installed units"
for u in vtier-agent vtier-hostshim; do
	[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/$u.service" ] ||
		fail "$u.service was not enabled by the package"
	# Documentation=man:... is checked with man against the root's pages
	out=$(cd / && MANPATH="$ROOT/usr/share/man" systemd-analyze verify \
	    --root="$ROOT" "$u.service" 2>&1) || fail "verify $u: $out"
	[ -z "$out" ] || fail "verify $u is not silent: $out"
	systemd-analyze security --offline=yes --root="$ROOT" "$u.service" 2>&1 |
	    grep 'Overall exposure' || true
done

step "apt-get purge"
in_root apt-get purge -y -q vtier-agent vtier-hostshim vtierctl >"$T/purge.log" 2>&1 ||
	{ tail -20 "$T/purge.log"; fail "purge failed"; }
for f in /etc/vtier /usr/sbin/vtier-agent /usr/sbin/vtier-hostshim /usr/bin/vtierctl \
    /lib/systemd/system/vtier-agent.service \
    /etc/systemd/system/multi-user.target.wants/vtier-agent.service \
    /etc/systemd/system/multi-user.target.wants/vtier-hostshim.service; do
	if [ -e "$ROOT$f" ] || [ -L "$ROOT$f" ]; then fail "$f left after purge"; fi
done
step "passed"
