# fifo_agent.sh - sourced by the agent_* tests that feed the agent live:
# a vtier-agent on the two-node fixture topology (backend = sim, budget
# 64M, headroom 4M) replaying from a FIFO, in a fresh directory.
#
# fifo_agent NAME [INI]: sets T (the directory: fifo, agent.ini,
# agent.sock, agent.log) and agent (its pid); INI is appended to the
# configuration.  At exit the agent is killed and T removed; a test that
# stops the agent itself clears agent first.  Needs B and SRC.
fifo_agent() {
	T=$(mktemp -d "/tmp/vtier-$1.XXXXXX")
	agent=
	trap '[ -z "$agent" ] || kill "$agent" 2>/dev/null; rm -rf "$T"' EXIT
	mkfifo "$T/fifo"
	cat >"$T/agent.ini" <<INI
[agent]
status_socket = $T/agent.sock
[budget]
dram = 64M
headroom = 4M
[sampler]
source = replay
replay = $T/fifo
[migrate]
backend = sim
${2:-}
INI
	"$B/vtier-agent" -c "$T/agent.ini" \
		--sysfs "$SRC/tests/fixtures/topo-2node" 2>"$T/agent.log" &
	agent=$!
}
