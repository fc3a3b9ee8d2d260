/*
 * zeropage.h - whether this kernel maps the shared zero page on a read
 * fault of private anonymous memory, asked the way the agent learns it:
 * move_pages(2) says -EFAULT for such a page.  Some kernels never map
 * it: a PVM host kernel booted with pvm_no_zero_page=1 (the 6.18 kernel
 * the CI machine ran on, 2026-12-07) gives each read fault a page of its
 * own, an ordinary page on its node that the agent rightly tracks.  The
 * tests that check what the agent does with zero pages ask here and
 * leave only those checks out, saying so.
 */
#ifndef VTIER_TESTS_ZEROPAGE_H
#define VTIER_TESTS_ZEROPAGE_H

#include <numaif.h>
#include <stdbool.h>
#include <sys/mman.h>

static inline bool
zero_page_mapped(void)
{
	volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *page[1];
	int status = 0;
	char c;

	if (p == MAP_FAILED)
		return true;
	c = p[0];
	(void)c;
	page[0] = (void *)p;
	if (move_pages(0, 1, page, NULL, &status, 0) != 0)
		status = 0;
	munmap((void *)p, 4096);
	return status == -EFAULT;
}

#endif
