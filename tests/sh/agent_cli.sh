# agent_cli.sh - vtier-agent's command line: -n accepts the shipped
# agent.ini and prints the effective config; a broken file exits 2 and
# names the file and line; bad options exit 2; -V prints the version.
set -eu
: "${B:=build}" "${SRC:=.}"
T=$(mktemp -d /tmp/vtier-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT

"$B/vtier-agent" -n -c "$SRC/agent.ini" >"$T/out"
grep -q '^\[budget\]' "$T/out"
# the printed config is itself a valid config
"$B/vtier-agent" -n -c "$T/out" >/dev/null

printf '[budget]\ndram = 512M\nheadroom = lots\n' >"$T/bad.ini"
rc=0; "$B/vtier-agent" -n -c "$T/bad.ini" 2>"$T/err" || rc=$?
cat "$T/err"
[ $rc -eq 2 ]
grep -q "$T/bad.ini:3:" "$T/err"

printf '[nosuchsection]\nx = 1\n' >"$T/bad2.ini"
rc=0; "$B/vtier-agent" -n -c "$T/bad2.ini" 2>"$T/err" || rc=$?
[ $rc -eq 2 ]
grep -q "$T/bad2.ini:1:" "$T/err"

rc=0; "$B/vtier-agent" -n -c "$T/missing.ini" 2>"$T/err" || rc=$?
[ $rc -eq 2 ]
grep -q "missing.ini" "$T/err"

rc=0; "$B/vtier-agent" --bogus 2>/dev/null || rc=$?
[ $rc -eq 2 ]
"$B/vtier-agent" -V | grep -q '^vtier-agent [0-9]'
"$B/vtierctl" -V | grep -q '^vtierctl [0-9]'
rc=0; "$B/vtierctl" -s "$T/none.sock" status 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "is vtier-agent running" "$T/err"
