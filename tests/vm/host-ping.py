#!/usr/bin/env python3
"""Host side of the smoke test's virtio-serial round trip.

Started by run-guest.sh --host-cmd with VTIER_HOST_SOCK set.  QEMU is the
server of that Unix socket (server=on), so this connects, reads one line
"ping TOKEN" from the guest and answers "pong TOKEN".  Exit 0 on success.
"""
import os
import socket
import sys
import time

path = os.environ["VTIER_HOST_SOCK"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
deadline = time.monotonic() + 30
while True:
    try:
        s.connect(path)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("host-ping: cannot connect to %s" % path)
        time.sleep(0.1)
s.settimeout(240)
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(256)
    if not d:
        sys.exit("host-ping: guest closed before a full line: %r" % buf)
    buf += d
line = buf.decode(errors="replace").strip()
if not line.startswith("ping "):
    sys.exit("host-ping: unexpected %r" % line)
s.sendall(("pong " + line[5:] + "\n").encode())
print("host-ping: got %r, answered" % line, file=sys.stderr)
# Let the reply drain before closing (the guest reads it at its pace).
time.sleep(1)
