# man.sh - the man pages in packaging/man: they render without a warning
# (the way lintian renders them, and under groff -ww), they have the
# sections and .TH line every page needs, and they are complete against
# the code: every config key the parsers accept (with its default, as
# `-n` prints it), every option in the getopt tables and usage texts
# (and, for vtier-sim, in what each --help prints), every vtierctl
# subcommand, every getenv() name, every status JSON key and metric name,
# the shipped ini files as their examples; vtier-sim's subcommands, trace
# kinds, policies, summary-line fields, CSV columns and --cost keys.
# Needs man-db and groff-base (lexgrog is used when present).
set -eu
: "${B:=build}" "${SRC:=.}"
M=$SRC/packaging/man
T=$(mktemp -d /tmp/vtier-man.XXXXXX)
trap 'rm -rf "$T"' EXIT
bad=0
fail() { echo "man: $*"; bad=1; }

PAGES="vtier-agent.8 vtier-hostshim.8 vtierctl.8 vtier-agent.ini.5
vtier-hostshim.ini.5 vtier-sim.1"
for p in $PAGES; do
	[ -f "$M/$p" ] || fail "$M/$p is missing"
done
[ $bad -eq 0 ] || exit 1
for tool in man groff; do
	command -v $tool >/dev/null 2>&1 ||
	    { echo "man: $tool not found (Debian: man-db, groff-base)"; exit 1; }
done
VERSION=$(sed -n 's/^#define VTIER_VERSION "\(.*\)"$/\1/p' \
    "$SRC/include/vtier/version.h")
[ -n "$VERSION" ] || { echo "man: no VTIER_VERSION in version.h"; exit 1; }

# ---------------------------------------------------------------- rendering
for p in $PAGES; do
	f=$M/$p
	# what lintian runs: any output on stderr is a warning
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
	    man --warnings -E UTF-8 -l -Tutf8 -Z "$f" >/dev/null 2>"$T/err" ||
	    fail "$p: man exited $?"
	[ -s "$T/err" ] && fail "$p: man --warnings: $(cat "$T/err")"
	groff -man -ww -z -Tutf8 "$f" 2>"$T/err" || fail "$p: groff exited $?"
	[ -s "$T/err" ] && fail "$p: groff -ww: $(cat "$T/err")"
	# nothing wider than the terminal it was formatted for
	LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$f" 2>/dev/null >"$T/txt"
	w=$(LC_ALL=C.UTF-8 wc -L <"$T/txt")
	[ "$w" -le 80 ] || fail "$p: a rendered line is $w columns wide" \
	    "(at most 80): $(LC_ALL=C.UTF-8 awk 'length > 80' "$T/txt" |
	    head -1)"
	if command -v lexgrog >/dev/null 2>&1; then
		lexgrog "$f" >"$T/whatis" 2>&1 ||
		    fail "$p: lexgrog finds no whatis entry: $(cat "$T/whatis")"
	fi
done

# ------------------------------------------------------------ the source text
for p in $PAGES; do
	f=$M/$p
	name=${p%.*}
	sec=${p##*.}
	# .TH NAME SECTION DATE "vtier VERSION" "MANUAL"
	th=$(grep -m1 '^\.TH ' "$f" || true)
	want=$(echo "$name" | tr 'a-z' 'A-Z' | sed 's/-/\\\\-/g')
	echo "$th" | grep -Eq "^\.TH $want $sec [0-9]{4}-[0-9]{2}-[0-9]{2} \"vtier $VERSION\" \"[^\"]+\"\$" ||
	    fail "$p: want '.TH $want $sec YYYY-MM-DD \"vtier $VERSION\"" \
	    "\"Manual\"', have '$th'"
	for s in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
		grep -q "^\.SH \"*$s\"*\$" "$f" || fail "$p: no .SH $s"
	done
	# NAME is "name \- what it is"
	sed -n '/^\.SH NAME$/{n;p;}' "$f" | grep -q "^$(echo "$name" |
	    sed 's/-/\\\\-/g') \\\\- " || fail "$p: NAME line is not '$name \\- ...'"
	# lintian: ASCII source, minus signs escaped (hyphen-used-as-minus-sign)
	LC_ALL=C grep -n '[^ -~]' "$f" >"$T/x" &&
	    fail "$p: non-ASCII or control characters: $(head -3 "$T/x")"
	grep -n '[[:blank:]]$' "$f" >"$T/x" &&
	    fail "$p: trailing blanks: $(head -3 "$T/x")"
	# an option-like dash not written \- (comments left out)
	grep -v '^\.\\"' "$f" | sed 's/\\-/@/g' |
	    grep -nE '(^|[[:blank:]("[|=,])--?[A-Za-z]' >"$T/x" &&
	    fail "$p: unescaped minus in option: $(head -3 "$T/x")"
	# a line starting with ' is a control line, not text
	grep -n "^'" "$f" >"$T/x" && fail "$p: line starts with ': $(cat "$T/x")"
done

# ----------------------------------------------------------- helpers
# The body of a C initializer "NAME[] = {" ... "};" of FILE.
table() {	# file name
	sed -n "/$2\[\] = {/,/^[[:blank:]]*};/p" "$1"
}
# The text of section/subsection TITLE of a page, up to the next .SH/.SS.
part() {	# page title
	awk -v t="$2" '
	    /^\.S[HS] / { on = (substr($0, 5) == t); next }
	    on' "$1"
}
# The tagged paragraph (.TP tag, .TQ tags, body) whose tag starts with
# KEY, from text on stdin; empty if there is none.
para() {	# key
	awk -v k="$1" '
	    function tagged(line) {
		return line ~ ("^\\.BI? " k "( |$)") || line ~ ("^\\.BI? \"" k " ")
	    }
	    /^\.(TP|SS|SH|PP|P|LP|RS)( |$)/ { if (on) exit; tag = ($1 == ".TP"); next }
	    /^\.TQ/ { tag = 1; next }
	    tag && tagged($0) { on = 1 }
	    { if (on) print; tag = 0 }'
}
# The default a paragraph on stdin states: "Default: empty." -> "",
# "Default:\n.BR 64M ." -> "64M", "No default." -> "-".
default_of() {
	awk '
	    /No default\./ { print "-"; found = 1; exit }
	    want { v = $0; sub(/^\.[A-Z]+ /, "", v); sub(/ [.,;]$/, "", v)
		   gsub(/\\-/, "-", v); gsub(/\\~/, " ", v); gsub(/"/, "", v)
		   print v; found = 1; exit }
	    /Default: empty\./ { print ""; found = 1; exit }
	    /Default:$/ { want = 1 }
	    END { if (!found) print "?" }'
}
# key = value lines of an ini file on stdin, as "section key value".
ini_values() {
	awk '
	    /^\[/ { s = $0; gsub(/^\[|\]$/, "", s); next }
	    / =/ { k = $1; v = $0; sub(/^[^=]*= ?/, "", v); print s, k, v }'
}

# A value as the binary prints it back (60s -> 1m), "?" if refused.
agent_says() {	# section key value
	printf '[%s]\n%s = %s\n' "$1" "$2" "$3" >"$T/one.ini"
	"$B/vtier-agent" -n -c "$T/one.ini" 2>/dev/null | ini_values |
	    awk -v s="$1" -v k="$2" '$1 == s && $2 == k {
		sub(/^[^ ]+ [^ ]+ ?/, ""); print }' || echo "?"
}
shim_says() {	# section key value
	if [ "$1" = vm ]; then
		printf '[vm t]\nsocket = %s/t.sock\n%s = %s\n' "$T" "$2" "$3"
	else
		printf '[%s]\n%s = %s\n' "$1" "$2" "$3"
	fi >"$T/one.ini"
	"$B/vtier-hostshim" -n -c "$T/one.ini" 2>/dev/null | ini_values |
	    sed 's/^vm t /vm /' | awk -v s="$1" -v k="$2" '$1 == s && $2 == k {
		sub(/^[^ ]+ [^ ]+ ?/, ""); print }' || echo "?"
}

# ----------------------------------------------- agent.ini keys -> .5 page
P=$M/vtier-agent.ini.5
table "$SRC/agent/config.c" keys |
    sed -n 's/^[[:blank:]]*{ *"\([a-z_]*\)", *"\([a-z_]*\)",.*/\1 \2/p' \
    >"$T/agent_keys"
[ "$(wc -l <"$T/agent_keys")" -ge 20 ] ||
    fail "extracted only $(wc -l <"$T/agent_keys") keys from agent/config.c"
table "$SRC/agent/config.c" sections | grep -o '"[a-z]*"' | tr -d '"' \
    >"$T/agent_sections"
[ -s "$T/agent_sections" ] || fail "no sections[] in agent/config.c"
# what the binary accepts and prints must be what the table says
: >"$T/empty.ini"
"$B/vtier-agent" -n -c "$T/empty.ini" | ini_values >"$T/agent_defaults"
cut -d' ' -f1,2 "$T/agent_defaults" | sort >"$T/a"
sort "$T/agent_keys" >"$T/b"
cmp -s "$T/a" "$T/b" || fail "agent keys: table in config.c and" \
    "vtier-agent -n differ: $(diff "$T/b" "$T/a" | grep '^[<>]' | tr '\n' ' ')"
while read -r s; do
	grep -q "^\.SS \[$s\]\$" "$P" || fail "vtier-agent.ini.5: no .SS [$s]"
done <"$T/agent_sections"
while read -r s k v; do
	part "$P" "[$s]" | para "$k" >"$T/para"
	if [ ! -s "$T/para" ]; then
		fail "vtier-agent.ini.5: [$s] $k is not documented (.TP .BI $k ...)"
		continue
	fi
	d=$(default_of <"$T/para")
	[ "$d" = "$v" ] || [ "$(agent_says "$s" "$k" "$d")" = "$v" ] ||
	    fail "vtier-agent.ini.5: [$s] $k: page says default '$d'," \
	    "vtier-agent -n says '$v'"
done <"$T/agent_defaults"

# ------------------------------------------- hostshim.ini keys -> .5 page
P=$M/vtier-hostshim.ini.5
table "$SRC/hostshim/config.c" keys |
    sed -n 's/^[[:blank:]]*{ *IN_\([A-Z]*\), *"\([a-z_]*\)",.*/\1 \2/p' |
    tr 'A-Z' 'a-z' >"$T/shim_keys"
[ "$(wc -l <"$T/shim_keys")" -ge 10 ] ||
    fail "extracted only $(wc -l <"$T/shim_keys") keys from hostshim/config.c"
# a config that sets every key, printed back by the binary
printf '[vm t]\ncid = 3\nsocket = %s/t.sock\nserial = yes\nbacking = %s\n' \
    "$T" "/dev/shm/t:0@0+4K" >"$T/shim.ini"
echo "socket_owner = root" >>"$T/shim.ini"	# printed only when set
printf '[libvirt]\nuri = qemu:///system\n' >>"$T/shim.ini"
"$B/vtier-hostshim" -n -c "$T/shim.ini" | ini_values |
    sed 's/^vm t /vm /' >"$T/shim_all"
cut -d' ' -f1,2 "$T/shim_all" | sort >"$T/a"
sort "$T/shim_keys" >"$T/b"
cmp -s "$T/a" "$T/b" || fail "shim keys: table in hostshim/config.c and" \
    "vtier-hostshim -n differ: $(diff "$T/b" "$T/a" | grep '^[<>]' |
    tr '\n' ' ')"
# defaults: an empty file for [shim], a VM with only a socket for [vm]
printf '[vm t]\nsocket = %s/t.sock\n[libvirt]\n' "$T" >"$T/shim1.ini"
"$B/vtier-hostshim" -n -c "$T/shim1.ini" | ini_values |
    sed 's/^vm t /vm /' >"$T/shim_defaults"
while read -r s k; do
	case $s in
	shim) title="THE [shim] SECTION" ;;
	vm) title="THE [vm NAME] SECTIONS" ;;
	libvirt) title="THE [libvirt] SECTION" ;;
	*) fail "hostshim/config.c: unknown section kind $s"; continue ;;
	esac
	part "$P" "$title" | para "$k" >"$T/para"
	if [ ! -s "$T/para" ]; then
		fail "vtier-hostshim.ini.5: [$s] $k is not documented"
		continue
	fi
	d=$(default_of <"$T/para")
	v=$(awk -v s="$s" -v k="$k" '$1 == s && $2 == k {
	    sub(/^[^ ]+ [^ ]+ ?/, ""); print; f = 1 } END { if (!f) print "-" }' \
	    "$T/shim_defaults")
	[ "$s $k" = "vm socket" ] && v=-	# set above to have a VM at all
	[ "$d" = "$v" ] || [ "$(shim_says "$s" "$k" "$d")" = "$v" ] ||
	    fail "vtier-hostshim.ini.5: [$s] $k: page says default '$d'," \
	    "vtier-hostshim -n says '$v'"
done <"$T/shim_keys"

# -------------------- the shipped ini files are the pages' first examples
for pair in "vtier-agent.ini.5 agent.ini agent.ini" \
    "vtier-hostshim.ini.5 hostshim.ini hostshim/hostshim.ini"; do
	set -- $pair
	sed -n "/^\.\\\\\" BEGIN $2\$/,/^\.\\\\\" END $2\$/p" "$M/$1" |
	    grep -v '^\.' | sed 's/\\-/-/g' | grep -v '^$' >"$T/a" || true
	grep -v '^[#;]' "$SRC/$3" | grep -v '^[[:blank:]]*$' >"$T/b"
	[ -s "$T/a" ] || fail "$1: no '.\\\" BEGIN $2' example block"
	cmp -s "$T/a" "$T/b" || fail "$1: example differs from $3:" \
	    "$(diff "$T/b" "$T/a" | grep '^[<>]' | head -5 | tr '\n' ' ')"
done

# ---------------------------------------------- options -> .8 and .1 pages
# opts_documented PAGE WHERE: each option in $T/opts.in (-x or --name,
# one a line) must appear as \-x or \-\-name in the page.
opts_documented() {
	page=$M/$1
	sort -u "$T/opts.in" >"$T/opts"
	[ -s "$T/opts" ] || fail "${page##*/}: no options found in $2"
	while read -r o; do
		esc=$(echo "$o" | sed 's/-/\\\\-/g')
		grep -q -- "$esc\\([^a-z-]\\|\$\\)" "$page" ||
		    fail "${page##*/}: option $o ($2) is not documented"
	done <"$T/opts"
}
# Long options of the getopt tables and of usage(), short ones of the
# getopt strings.
check_opts() {	# page source...
	page=$1; shift
	for src in "$@"; do
		table "$src" longopts |
		    sed -n 's/^[[:blank:]]*{ *"\([a-z-]*\)",.*/--\1/p'
		sed -n '/^usage(/,/^}/p' "$src" |
		    grep -oE -- '--[a-z][a-z-]*' || true
		sed -n 's/.*getopt_long([^"]*"\([^"]*\)".*/\1/p' "$src" |
		    tr -d ':' | fold -w1 | sed 's/^/-/'
	done >"$T/opts.in"
	opts_documented "$page" "$*"
}
check_opts vtier-agent.8 "$SRC/agent/main.c"
check_opts vtier-hostshim.8 "$SRC/hostshim/main.c"
check_opts vtierctl.8 "$SRC/agent/vtierctl.c"
check_opts vtier-sim.1 "$SRC/agent/sim/main.c" "$SRC/agent/sim/gen.c" \
    "$SRC/agent/sim/lackey.c"
# and every option vtier-sim's --help texts show, its own and each
# subcommand's (a word starting with - or --, after a blank or bracket)
for sub in "" gen lackey convert; do
	"$B/vtier-sim" $sub --help >"$T/help" ||
	    fail "vtier-sim $sub --help exited $?"
	grep -oE -- '(^|[[:blank:][(|])--?[A-Za-z][a-z-]*' "$T/help" |
	    sed 's/^[^-]*//'
done >"$T/opts.in"
opts_documented vtier-sim.1 "vtier-sim --help"

# ------------------------------------------------ vtierctl subcommands
{
	grep -o 'strcmp(cmd, "[a-z-]*")' "$SRC/agent/vtierctl.c" |
	    sed 's/.*"\(.*\)")/\1/'
	echo status; echo vms; echo budget; echo metrics
} | sort -u >"$T/cmds"
part "$M/vtierctl.8" SUBCOMMANDS >"$T/subs"
while read -r c; do
	grep -qE "^\\.BI? \"?$c( |\"|\$)" "$T/subs" ||
	    fail "vtierctl.8: subcommand $c is not under SUBCOMMANDS"
	part "$M/vtierctl.8" SYNOPSIS | grep -q "^\.B $c\$" ||
	    fail "vtierctl.8: subcommand $c is not in the SYNOPSIS"
done <"$T/cmds"

# ------------------------------------------------------------ vtier-sim.1
P=$M/vtier-sim.1
D=$SRC/agent/sim
# subcommands and gen's trace kinds: in the SYNOPSIS, and as a .SS
# (subcommands) or .TP tag (kinds) of their own
grep -ho 'strcmp(argv\[1\], "[a-z]*")' "$D/main.c" |
    sed 's/.*"\(.*\)")/\1/' | sort -u >"$T/subs"
[ "$(wc -l <"$T/subs")" -ge 3 ] || fail "few subcommands in agent/sim/main.c"
while read -r c; do
	part "$P" SYNOPSIS | grep -q "^\.B $c\$" ||
	    fail "vtier-sim.1: subcommand $c is not in the SYNOPSIS"
	grep -q "^\.SS vtier\\\\-sim $c " "$P" ||
	    fail "vtier-sim.1: no .SS for subcommand $c"
done <"$T/subs"
grep -ho 'strcmp(argv\[1\], "[a-z]*")' "$D/gen.c" |
    sed 's/.*"\(.*\)")/\1/' | sort -u >"$T/kinds"
[ "$(wc -l <"$T/kinds")" -ge 5 ] || fail "few trace kinds in agent/sim/gen.c"
while read -r k; do
	grep -A1 '^\.TP' "$P" | grep -q "^\.B $k\$" ||
	    fail "vtier-sim.1: gen $k is not a .TP tag of its own"
done <"$T/kinds"
# policies: every .name of the engine's and the baselines', and the
# names --policy takes besides, tagged under POLICIES
{
	grep -ho '\.name = "[a-z-]*"' "$D"/*.c | sed 's/.*"\(.*\)"/\1/'
	echo oracle; echo all
} | sort -u >"$T/pols"
[ "$(wc -l <"$T/pols")" -ge 7 ] || fail "few policies in agent/sim"
part "$P" POLICIES >"$T/x"
while read -r n; do
	esc=$(echo "$n" | sed 's/-/\\\\-/g')
	grep -q "^\.B $esc\$" "$T/x" ||
	    fail "vtier-sim.1: policy $n is not under POLICIES"
done <"$T/pols"
# the summary line's fields and the CSV's columns, under OUTPUT
sed -n '/^summary(/,/^}/p' "$D/main.c" | grep -oE '[a-z_]+=%' |
    tr -d '=%' >"$T/fields"
[ "$(wc -l <"$T/fields")" -ge 6 ] || fail "few summary fields in main.c"
part "$P" OUTPUT >"$T/x"
while read -r k; do
	grep -qE "^\.BI? $k=( |\$)" "$T/x" ||
	    fail "vtier-sim.1: summary field $k= is not under OUTPUT"
done <"$T/fields"
sed -n '/^write_csv(/,/^}/p' "$D/main.c" | sed -n '/"policy,epoch/,/\\n"/p' |
    grep -o '"[^"]*"' | tr -d '"\n' | sed 's/\\n$/\n/' | tr ',' '\n' >"$T/cols"
[ "$(wc -l <"$T/cols")" -ge 10 ] || fail "few CSV columns in main.c"
while read -r k; do
	grep -qE "^\.BR? $k( |\$)" "$T/x" ||
	    fail "vtier-sim.1: CSV column $k is not under OUTPUT"
done <"$T/cols"
# --cost keys, under COST MODEL; --agent-cpu keys, under OPTIONS
cost_keys() {	# function in cost.c that sets them
	sed -n "/^$1(/,/^}/p" "$D/cost.c" |
	    grep -o 'strcmp(key, "[a-z]*")' | sed 's/.*"\(.*\)")/\1/'
}
cost_keys set_cost >"$T/keys"
[ "$(wc -l <"$T/keys")" -ge 4 ] || fail "few --cost keys in cost.c"
while read -r k; do
	part "$P" "COST MODEL" | grep -q "^\.BI $k= " ||
	    fail "vtier-sim.1: --cost key $k is not under COST MODEL"
done <"$T/keys"
cost_keys set_cpu >"$T/keys"
[ "$(wc -l <"$T/keys")" -ge 3 ] || fail "few --agent-cpu keys in cost.c"
while read -r k; do
	part "$P" OPTIONS | grep -q "^\.BI $k= " ||
	    fail "vtier-sim.1: --agent-cpu key $k is not under OPTIONS"
done <"$T/keys"

# ---------------------------------------------- environment variables
env_check() {	# page files...
	page=$M/$1; shift
	grep -ho 'getenv("[A-Za-z_0-9]*")' "$@" | sed 's/.*"\(.*\)".*/\1/' |
	    sort -u | while read -r e; do
		part "$page" ENVIRONMENT | grep -q "^\.B $e\$" ||
		    echo "${page##*/}: \$$e is not under ENVIRONMENT"
	done
}
env_check vtier-agent.8 $(ls "$SRC"/agent/*.c | grep -v vtierctl.c) >"$T/x"
env_check vtierctl.8 "$SRC/agent/vtierctl.c" >>"$T/x"
env_check vtier-hostshim.8 "$SRC"/hostshim/*.c >>"$T/x"
[ -s "$T/x" ] && fail "$(cat "$T/x")"

# ------------------------------ status JSON keys and metric names -> vtierctl.8
grep -oE '\b(js|ju|jkey)\(&j, "[a-z_]+"' "$SRC/agent/status.c" |
    sed 's/.*"\(.*\)"/\1/' | sort -u >"$T/json"
grep -oE '\\"[a-z]+\\": %llu' "$SRC/agent/status.c" |
    sed 's/\\"\([a-z]*\)\\".*/\1/' >>"$T/json"
[ "$(wc -l <"$T/json")" -ge 30 ] || fail "few JSON keys in agent/status.c"
part "$M/vtierctl.8" "STATUS JSON" >"$T/sj"
while read -r k; do
	grep -qE "^\\.BR? (.* )?\"?$k\"?( |\$)" "$T/sj" ||
	    fail "vtierctl.8: status JSON key $k is not under STATUS JSON"
done <"$T/json"
# metric names wherever the code defines them (once `metrics` exists)
grep -rhoE 'vtier_(agent|hostshim)_[a-z_]*[a-z]' "$SRC/agent" \
    "$SRC/hostshim" "$SRC/include" 2>/dev/null | sort -u >"$T/metrics" || true
while read -r m; do
	grep -qF "$m" "$M/vtierctl.8" ||
	    fail "vtierctl.8: metric $m (in the code) is not documented"
done <"$T/metrics"

[ $bad -eq 0 ] && echo "man: $(echo $PAGES | wc -w) pages checked"
exit $bad
