/*
 * shim_hello.h - the HELLO a test agent sends the shim: version 0.1.0,
 * PREFAULT and STATS capabilities, the test bed's two nodes (node 0:
 * CPUs, fast, 512 MiB; node 1: memory only, 1 GiB).  Shared by the test
 * client, the session unit test and the fuzzer's seed corpus.
 */
#ifndef VTIER_TESTS_SHIM_HELLO_H
#define VTIER_TESTS_SHIM_HELLO_H

#include "vtier/proto.h"
#include "vtier/util.h"

static inline void
shim_test_hello(struct proto_msg *m)
{
	proto_msg_init(m, PROTO_HELLO);
	m->u.hello.agent_version = PROTO_SW_VERSION(0, 1, 0);
	m->u.hello.caps = PROTO_CAP_PREFAULT | PROTO_CAP_STATS;
	proto_hello_add_node(m, 0, PROTO_NODE_HAS_CPU | PROTO_NODE_FAST,
	    512 * MiB);
	proto_hello_add_node(m, 1, 0, 1 * GiB);
}

#endif
