# vm_creep.sh - the creep scenario (tests/vm/scenarios/creep.sh) in the
# two-node guest: an idle process first-touches 48 MiB on node 0 beside
# a settled hot set, taking node 0 over the budget; the agent must bring
# it back within 8 s by demoting those pages (adoption woken by the
# overshoot), not the hot set.  Run by vm_agent.sh's loop, apart from
# its five scenarios so that each test keeps within its 300 s.
VM_SCENARIOS=creep exec sh "${SRC:-.}/tests/sh/vm_agent.sh"
