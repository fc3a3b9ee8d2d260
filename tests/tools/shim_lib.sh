# shim_lib.sh - helpers for tests/sh/shim_*.sh (sourced, not run):
# start and stop vtier-hostshim, wait for its sockets.
#   B, SRC    build dir and source tree (run.sh exports them)
#   T         the test's scratch directory (the test makes and removes it)
: "${B:=build}" "${SRC:=.}"
A="$B/tools/shim_agent"
CTL="$B/vtierctl"
shim_pid=""

# shim_start INI [LOG]: run the shim in the background and wait until
# its control socket answers and every VM socket listens (unless
# SHIM_NOWAIT=1: a test that expects a socket to fail).
shim_start() {
	log=${2:-$T/shim.log}
	"$B/vtier-hostshim" -c "$1" 2>>"$log" &
	shim_pid=$!
	ctl=$(sed -n 's/^control_socket *= *//p' "$1")
	for i in $(seq 200); do
		if "$CTL" --shim "$ctl" vms --json >"$T/.ready" 2>/dev/null; then
			[ "${SHIM_NOWAIT:-0}" = 1 ] && return 0
			python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if all(v["listening"] or not v["socket"] for v in d["vms"]) else 1)' "$T/.ready" && return 0
		fi
		kill -0 "$shim_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "shim did not start:"; cat "$log"
	return 1
}

# shim_stop [SIGNAL]: signal the shim (TERM) and wait; its exit status.
shim_stop() {
	[ -n "$shim_pid" ] || return 0
	kill -"${1:-TERM}" "$shim_pid" 2>/dev/null
	rc=0; wait "$shim_pid" || rc=$?
	shim_pid=""
	return $rc
}

# wait_for CMD...: retry a command for up to 5 s.
wait_for() {
	for i in $(seq 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	"$@"
}

# count_ge N PATTERN FILE: at least N lines of FILE match PATTERN.
count_ge() {
	[ "$(grep -c -- "$2" "$3")" -ge "$1" ]
}

# json_get FILE EXPR: a Python expression on the document d.
json_get() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# The EXIT trap: kill what is left, remove the files, keep the status.
shim_cleanup() {
	rc=$?
	set +e
	[ -n "$shim_pid" ] && kill -9 "$shim_pid" 2>/dev/null
	for p in $bg_pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$T"
	rm -f /dev/shm/vtier-shimtest-$$-*
	exit $rc
}
bg_pids=""
