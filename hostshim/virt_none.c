/*
 * virt_none.c - virt.c's interface in a shim built without libvirt
 * (VIRT=0, and always the static shim of the test guest: Debian ships no
 * static libvirt).  A [libvirt] section is then a configuration error
 * (main.c asks virt_supported(), exit 2, also with -n); without one
 * nothing changes.
 */
#include <errno.h>
#include <stdio.h>

#include "vtier/log.h"
#include "hostshim.h"

bool
virt_supported(void)
{
	return false;
}

int
virt_open(struct shim *sh)
{
	if (!sh->cfg.libvirt)
		return 0;
	log_err("[libvirt]: this vtier-hostshim was built without libvirt "
	    "support (make VIRT=1 with libvirt-dev installed)");
	return -ENOTSUP;
}

void
virt_close(struct shim *sh)
{
	(void)sh;
}

void
virt_reload(struct shim *sh)
{
	if (sh->cfg.libvirt)
		log_warnx("[libvirt]: ignored: this vtier-hostshim was built "
		    "without libvirt support");
}

void
virt_dispatch(struct shim *sh, uint64_t now)
{
	(void)sh;
	(void)now;
}

int
virt_timeout_ms(const struct shim *sh, uint64_t now)
{
	(void)sh;
	(void)now;
	return -1;
}

int
virt_set_budget(struct shim *sh, struct vm *vm, uint64_t bytes, char *why,
    size_t whylen)
{
	(void)sh;
	(void)vm;
	(void)bytes;
	snprintf(why, whylen, "built without libvirt support");
	return -ENOTSUP;
}

const char *
virt_state(const struct shim *sh)
{
	(void)sh;
	return "off";
}

const char *
virt_last_error(const struct shim *sh)
{
	(void)sh;
	return NULL;
}
