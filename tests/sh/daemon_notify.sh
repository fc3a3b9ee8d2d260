# daemon_notify.sh - both daemons speak systemd's notify protocol
# (Type=notify units): started with $NOTIFY_SOCKET they send READY=1
# once up, RELOADING=1 (with MONOTONIC_USEC) and READY=1 around a SIGHUP
# reload, STOPPING=1 on SIGTERM, and exit 0.  A Python datagram socket
# in the abstract namespace stands in for systemd.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-notify.XXXXXX)
trap 'rm -rf "$T"' EXIT
cat >"$T/shim.ini" <<INI
[shim]
control_socket = $T/shim.sock
listen_vsock = no
INI
cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[sampler]
source = replay
replay = $T/fifo
[migrate]
backend = sim
INI
mkfifo "$T/fifo"
python3 - "$B" "$T" <<'PY'
import os, re, signal, socket, subprocess, sys
b, t = sys.argv[1], sys.argv[2]
for name, cmd in (("vtier-hostshim", [b + "/vtier-hostshim", "-c", t + "/shim.ini"]),
                  ("vtier-agent", [b + "/vtier-agent", "-c", t + "/agent.ini"])):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0vtier-notify-%d-%s" % (os.getpid(), name))
    s.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET="@vtier-notify-%d-%s" % (os.getpid(), name))
    p = subprocess.Popen(cmd, env=env)
    fifo = open(t + "/fifo", "w") if name == "vtier-agent" else None
    got = [s.recv(512).decode()]
    p.send_signal(signal.SIGHUP)
    got += [s.recv(512).decode(), s.recv(512).decode()]
    p.send_signal(signal.SIGTERM)
    got += [s.recv(512).decode()]
    rc = p.wait(10)
    print(name, rc, got)
    assert got[0] == "READY=1\n", got
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=[0-9]+\n", got[1]), got
    assert got[2] == "READY=1\n" and got[3] == "STOPPING=1\n", got
    assert rc == 0, rc
PY
