# install.sh - make install DESTDIR=... PREFIX=... puts the binaries and
# the config where the README says, and the installed agent accepts the
# installed config.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
SAN=0
[ "$(basename "$B")" = san ] && SAN=1
make -s -C "$SRC" SANITIZE=$SAN install DESTDIR="$T/root" PREFIX=/usr >/dev/null
for f in usr/sbin/vtier-agent usr/bin/vtierctl etc/vtier/agent.ini; do
	[ -f "$T/root/$f" ] || { echo "missing $f"; exit 1; }
done
[ -x "$T/root/usr/sbin/vtier-agent" ]
"$T/root/usr/sbin/vtier-agent" -n -c "$T/root/etc/vtier/agent.ini" >/dev/null
