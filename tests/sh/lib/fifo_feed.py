"""fifo_feed.py - the agent_* tests' side of a live replay FIFO
(fifo_agent.sh): the agent's status, and writes that never block.

Writes go in batches (64 lines: the PEBS wake-up batch); what the FIFO
refuses is counted lost and reported to the agent in the next write's
"# lost N" line, as tierload does, so that every sample written is read
or counted lost."""
import errno, json, os, subprocess, time


class Agent:
    def __init__(self, tdir, ctl):
        self.tdir, self.ctl = tdir, ctl
        self.fd = os.open(tdir + "/fifo", os.O_WRONLY | os.O_NONBLOCK)
        self.written = self.lost = self.pending = 0

    def status(self):
        return json.loads(subprocess.run(
            [self.ctl, "-s", self.tdir + "/agent.sock", "status", "--json"],
            check=True, capture_output=True, text=True, timeout=5).stdout)

    def wait_status(self):
        while True:
            try:
                return self.status()
            except Exception:
                time.sleep(0.1)

    def write(self, lines):
        """One batch: lines, each ending in a newline."""
        head = "# lost %d\n" % self.pending if self.pending else ""
        try:
            os.write(self.fd, (head + "".join(lines)).encode())
            self.pending = 0
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
            self.lost += len(lines)
            self.pending += len(lines)
        self.written += len(lines)

    def flush_lost(self):
        """Report what is still pending."""
        if self.pending:
            os.write(self.fd, ("# lost %d\n" % self.pending).encode())
            self.pending = 0
