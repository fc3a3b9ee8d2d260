/* test_thp.c - THP detection through pagemap + kpageflags, on this host */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vtier/util.h"
#include "thp.h"
#include "../test.h"

#define HP (2UL << 20)

static char *
aligned_region(size_t len)
{
	char *p = mmap(NULL, len + HP, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	return (char *)(((uintptr_t)p + HP - 1) & ~(HP - 1));
}

static void
test_thp(void)
{
	struct thp *t;
	char mode[128], *huge, *small;
	uint32_t me = (uint32_t)getpid();
	int rc;

	ASSERT_EQ(thp_open(&t, "/proc"), 0);
	small = aligned_region(HP);
	ASSERT_TRUE(small != NULL);
	madvise(small, HP, MADV_NOHUGEPAGE);
	ASSERT_EQ(thp_check(t, me, (uint64_t)(uintptr_t)small), 0); /* not present */
	small[0] = 1;
	ASSERT_EQ(thp_check(t, me, (uint64_t)(uintptr_t)small), 0);

	huge = aligned_region(HP);
	ASSERT_TRUE(huge != NULL);
	madvise(huge, HP, MADV_HUGEPAGE);
	for (size_t i = 0; i < HP; i += 4096)
		huge[i] = 1;
	rc = thp_check(t, me, (uint64_t)(uintptr_t)huge + 8192);
	ASSERT_TRUE(rc == 0 || rc == 1);
	if (read_file("/sys/kernel/mm/transparent_hugepage/enabled", mode,
	    sizeof(mode)) > 0 && strstr(mode, "[never]") == NULL) {
		/* a fault in a MADV_HUGEPAGE region gets a THP when it can */
		if (rc == 0)
			fprintf(stderr, "  note: no THP was allocated (memory "
			    "fragmented?); only the negative cases checked\n");
		else
			ASSERT_EQ(rc, 1);
	}
	ASSERT_EQ(thp_check(t, 999999999, 0x1000), -ENOENT);
	thp_forget(t, me);
	ASSERT_EQ(thp_check(t, me, (uint64_t)(uintptr_t)small), 0);
	thp_close(t);
}

int
main(void)
{
	RUN_TEST(test_thp);
	TEST_EXIT();
}
