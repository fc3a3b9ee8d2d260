/*
 * test.h - the unit-test harness: one binary per module, each test a
 * function, ASSERT_* print file:line and both values and end the test.
 * Exit status: 0 all passed, 1 something failed, 77 skipped (missing
 * hardware only).
 */
#ifndef VTIER_TEST_H
#define VTIER_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_current_failed;

#define TEST_SKIP 77

#define FAIL_(fmt, ...) do {						\
	fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__); \
	test_current_failed = 1;					\
	return;								\
} while (0)

#define ASSERT_TRUE(c) do {						\
	if (!(c))							\
		FAIL_("ASSERT_TRUE(%s) failed", #c);			\
} while (0)

#define ASSERT_EQ(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ != b_)							\
		FAIL_("ASSERT_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_); \
} while (0)

#define ASSERT_NE(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (a_ == b_)							\
		FAIL_("ASSERT_NE(%s, %s): both %lld", #a, #b, a_);	\
} while (0)

#define ASSERT_EQ_U(a, b) do {						\
	unsigned long long a_ = (unsigned long long)(a);		\
	unsigned long long b_ = (unsigned long long)(b);		\
	if (a_ != b_)							\
		FAIL_("ASSERT_EQ_U(%s, %s): %llu (0x%llx) != %llu (0x%llx)", \
		    #a, #b, a_, a_, b_, b_);				\
} while (0)

#define ASSERT_LE(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (!(a_ <= b_))						\
		FAIL_("ASSERT_LE(%s, %s): %lld > %lld", #a, #b, a_, b_); \
} while (0)

#define ASSERT_GE(a, b) do {						\
	long long a_ = (long long)(a), b_ = (long long)(b);		\
	if (!(a_ >= b_))						\
		FAIL_("ASSERT_GE(%s, %s): %lld < %lld", #a, #b, a_, b_); \
} while (0)

#define ASSERT_STREQ(a, b) do {						\
	const char *a_ = (a), *b_ = (b);				\
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)		\
		FAIL_("ASSERT_STREQ(%s, %s): \"%s\" != \"%s\"", #a, #b,	\
		    a_ ? a_ : "(null)", b_ ? b_ : "(null)");		\
} while (0)

#define ASSERT_CONTAINS(hay, needle) do {				\
	const char *h_ = (hay), *n_ = (needle);				\
	if (h_ == NULL || strstr(h_, n_) == NULL)			\
		FAIL_("ASSERT_CONTAINS(%s, \"%s\"): got \"%s\"", #hay, n_, \
		    h_ ? h_ : "(null)");				\
} while (0)

#define RUN_TEST(fn) do {						\
	test_current_failed = 0;					\
	fn();								\
	fprintf(stderr, "  %s %s\n", test_current_failed ? "FAIL" : "ok", #fn); \
	test_failures += test_current_failed;				\
} while (0)

#define TEST_EXIT() return test_failures ? 1 : 0

#endif
