# install.sh - make install DESTDIR=... PREFIX=... puts the binaries, the
# configs, the systemd units and the man pages where the README says,
# the installed agent accepts the installed config, and the units name
# the installed binaries (rewritten for a PREFIX other than /usr).
set -eu
. "${SRC:-.}/tests/buildvars.sh"
T=$(mktemp -d /tmp/vtier-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
make -s -C "$SRC" SANITIZE=$SAN install DESTDIR="$T/root" PREFIX=/usr >/dev/null
for f in usr/sbin/vtier-agent usr/bin/vtierctl etc/vtier/agent.ini \
    usr/sbin/vtier-hostshim etc/vtier/hostshim.ini usr/bin/vtier-sim \
    lib/systemd/system/vtier-agent.service \
    lib/systemd/system/vtier-hostshim.service \
    usr/share/man/man8/vtier-agent.8 usr/share/man/man8/vtier-hostshim.8 \
    usr/share/man/man8/vtierctl.8 usr/share/man/man5/vtier-agent.ini.5 \
    usr/share/man/man5/vtier-hostshim.ini.5 usr/share/man/man1/vtier-sim.1; do
	[ -f "$T/root/$f" ] || { echo "missing $f"; exit 1; }
done
[ -x "$T/root/usr/sbin/vtier-agent" ]
"$T/root/usr/sbin/vtier-agent" -n -c "$T/root/etc/vtier/agent.ini" >/dev/null
"$T/root/usr/sbin/vtier-hostshim" -n -c "$T/root/etc/vtier/hostshim.ini" >/dev/null
# PREFIX=/usr: the units are installed as shipped
cmp "$T/root/lib/systemd/system/vtier-agent.service" \
    "$SRC/packaging/systemd/vtier-agent.service"
# another prefix: ExecStart follows SBINDIR, the config SYSCONFDIR
make -s -C "$SRC" SANITIZE=$SAN install DESTDIR="$T/local" PREFIX=/opt/vt \
    SYSCONFDIR=/opt/vt/etc UNITDIR=/opt/vt/units >/dev/null
for u in vtier-agent vtier-hostshim; do
	grep -qx "ExecStart=/opt/vt/sbin/$u -c /opt/vt/etc/vtier/${u#vtier-}.ini" \
	    "$T/local/opt/vt/units/$u.service" ||
		{ echo "$u.service: ExecStart not rewritten"; exit 1; }
done
[ -f "$T/local/opt/vt/share/man/man8/vtier-agent.8" ]
[ -f "$T/local/opt/vt/share/man/man1/vtier-sim.1" ]
