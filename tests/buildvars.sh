# buildvars.sh - sourced by the test scripts that need make to build
# something more (static guest programs, a tool): the build dir they were
# given, and make for exactly that build dir.
#   B     the build dir (absolute); run.sh passes it, default build
#   BR    the same as the Makefile names it (build, build/san): targets
#         are asked for by the rule's own names
#   SRC   the source tree (absolute)
#   bmake make -s in SRC with SANITIZE matching B (SAN)
# Static guest programs live in $B/static whatever B is: they are never
# sanitized (the Makefile compiles their objects without the sanitizers).
# SAN is the SANITIZE value of B (0, 1, thread).
: "${B:=build}" "${SRC:=.}"
SRC=$(cd "$SRC" && pwd)
case $B in
/*) ;;
*) [ -d "$B" ] || mkdir -p "$B"; B=$(cd "$B" && pwd) ;;
esac
BR=${B#"$SRC"/}
case $BR in
build/san) SAN=1 ;;
build/tsan) SAN=thread ;;
*) SAN=0 ;;
esac
bmake() { make -s -C "$SRC" SANITIZE=$SAN "$@"; }
