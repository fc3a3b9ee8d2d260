/*
 * budget.c - the VM table: for each configured VM, the budget in force,
 * its sessions, what its agent last said (HELLO, STATS) and what is
 * pinned for it.  A VM is identified by the transport its connections
 * arrive on (listen.c), never by anything the guest says.
 *
 * The budget in force starts as the file's.  `vtierctl budget` replaces
 * it until the next start, or until a reload brings a file budget that
 * differs from the file's previous one (the file changed: it wins).
 * Either way every session past WELCOME hears the new value at once.
 *
 * VMs found through libvirt (virt.c) live in the same table, added and
 * removed one by one (budget_add, budget_remove); a reload of the file
 * leaves them where they are.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtier/log.h"
#include "vtier/util.h"
#include "hostshim.h"

static int
vm_new(struct vm **vp, const struct vm_config *vc)
{
	struct vm *vm;

	if ((vm = calloc(1, sizeof(*vm))) == NULL)
		return -ENOMEM;
	vm->cfg = *vc;
	vm->budget = vc->budget;
	vm->changed = VM_NEW;
	for (int i = 0; i < SHIM_MAX_BACKING; i++)
		vm->resident[i] = RESIDENT_UNKNOWN;
	vm->resident_total = RESIDENT_UNKNOWN;
	*vp = vm;
	return 0;
}

void
budget_vm_free(struct vm *vm)
{
	if (vm == NULL)
		return;
	prefault_release(vm);
	free(vm);
}

int
budget_init(struct vmtab *t, const struct shim_config *cfg)
{
	int rc;

	memset(t, 0, sizeof(*t));
	if (cfg->nvms == 0)
		return 0;
	if ((t->v = calloc(cfg->nvms, sizeof(*t->v))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->nvms; i++) {
		if ((rc = vm_new(&t->v[i], &cfg->vms[i])) < 0) {
			budget_free(t);
			return rc;
		}
		t->n++;
	}
	return 0;
}

void
budget_free(struct vmtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		budget_vm_free(t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static bool
same_backing(const struct vm_config *a, const struct vm_config *b)
{
	if (a->nbacking != b->nbacking)
		return false;
	for (int i = 0; i < a->nbacking; i++)
		if (strcmp(a->backing[i].path, b->backing[i].path) != 0 ||
		    a->backing[i].offset != b->backing[i].offset ||
		    a->backing[i].gpa != b->backing[i].gpa ||
		    a->backing[i].size != b->backing[i].size)
			return false;
	return true;
}

int
budget_add(struct vmtab *t, const struct vm_config *vc, struct vm **vp)
{
	struct vm **nv;
	int rc;

	if ((nv = realloc(t->v, (t->n + 1) * sizeof(*nv))) == NULL)
		return -ENOMEM;
	t->v = nv;
	if ((rc = vm_new(&t->v[t->n], vc)) < 0)
		return rc;
	*vp = t->v[t->n++];
	return 0;
}

void
budget_remove(struct vmtab *t, struct vm *vm)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i] == vm) {
			memmove(&t->v[i], &t->v[i + 1],
			    (t->n - i - 1) * sizeof(*t->v));
			t->n--;
			break;
		}
	budget_vm_free(vm);
}

/* The file's VM of that name (not a libvirt one of the same name). */
static struct vm *
find_ini(const struct vmtab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i]->from_libvirt &&
		    strcmp(t->v[i]->cfg.name, name) == 0)
			return t->v[i];
	return NULL;
}

/*
 * All allocations first, so that a failure leaves t as it was; then the
 * new table takes the surviving VMs (same struct: sessions, pins and
 * stats carry over) in the file's order, then the libvirt VMs.
 */
int
budget_sync(struct vmtab *t, const struct shim_config *cfg,
    struct vm ***gone, size_t *ngone)
{
	struct vm **nv = NULL, **old = NULL;
	size_t nold = 0, nlv = 0;
	int rc = -ENOMEM;

	*gone = NULL;
	*ngone = 0;
	for (size_t i = 0; i < t->n; i++)
		nlv += t->v[i]->from_libvirt;
	if (cfg->nvms + nlv > 0 &&
	    (nv = calloc(cfg->nvms + nlv, sizeof(*nv))) == NULL)
		goto err;
	if (t->n > 0 && (old = calloc(t->n, sizeof(*old))) == NULL)
		goto err;
	for (size_t i = 0; i < cfg->nvms; i++) {
		if (find_ini(t, cfg->vms[i].name) != NULL)
			continue;
		if ((rc = vm_new(&nv[i], &cfg->vms[i])) < 0)
			goto err;
	}

	for (size_t i = 0; i < t->n; i++)
		t->v[i]->changed = t->v[i]->from_libvirt ? 0 : VM_REMOVED;
	for (size_t i = 0; i < cfg->nvms; i++) {
		const struct vm_config *vc = &cfg->vms[i];
		struct vm *vm;

		if (nv[i] != NULL)
			continue;	/* new */
		vm = find_ini(t, vc->name);
		vm->changed = 0;
		if (vc->budget != vm->cfg.budget)
			vm->changed |= VM_BUDGET;
		if (strcmp(vc->socket, vm->cfg.socket) != 0 ||
		    vc->serial != vm->cfg.serial ||
		    vc->socket_uid != vm->cfg.socket_uid ||
		    vc->socket_gid != vm->cfg.socket_gid ||
		    vc->socket_mode != vm->cfg.socket_mode)
			vm->changed |= VM_SOCKET;	/* reopened */
		if (vc->cid != vm->cfg.cid)
			vm->changed |= VM_CID;
		if (!same_backing(vc, &vm->cfg))
			vm->changed |= VM_BACKING;
		vm->cfg = *vc;
		nv[i] = vm;
	}
	nlv = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->changed == VM_REMOVED)
			old[nold++] = t->v[i];
		else if (t->v[i]->from_libvirt)
			nv[cfg->nvms + nlv++] = t->v[i];
	free(t->v);
	t->v = nv;
	t->n = cfg->nvms + nlv;

	for (size_t i = 0; i < cfg->nvms; i++) {
		struct vm *vm = t->v[i];

		if (vm->changed & VM_BACKING) {
			prefault_release(vm);	/* may no longer be its RAM */
			vm->resident_ns = 0;	/* read afresh */
		}
		if (vm->changed & VM_BUDGET)
			budget_set(vm, vm->cfg.budget, false);
	}
	if (nold == 0) {
		free(old);
		old = NULL;
	}
	*gone = old;
	*ngone = nold;
	return 0;
err:
	if (nv != NULL)		/* only new VMs are in it yet */
		for (size_t i = 0; i < cfg->nvms; i++)
			free(nv[i]);
	free(nv);
	free(old);
	return rc;
}

struct vm *
budget_find(const struct vmtab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i]->cfg.name, name) == 0)
			return t->v[i];
	return NULL;
}

struct vm *
budget_find_cid(const struct vmtab *t, uint32_t cid)
{
	if (cid == 0)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->cfg.cid == cid)
			return t->v[i];
	return NULL;
}

void
budget_set(struct vm *vm, uint64_t bytes, bool from_ctl)
{
	char b[32];

	vm->budget = bytes;
	vm->budget_from_ctl = from_ctl;
	format_size(bytes, b, sizeof(b));
	log_info("VM %s: budget %s%s, pushed to %u session%s", vm->cfg.name,
	    bytes ? b : "not set", from_ctl ? " (vtierctl)" :
	    vm->from_libvirt ? " (libvirt metadata)" : " (config)",
	    vm->nup, vm->nup == 1 ? "" : "s");
}

bool
budget_connected(const struct vm *vm)
{
	return vm->nup > 0;
}

void
budget_attach(struct vm *vm, struct session *s)
{
	s->vm_prev = NULL;
	s->vm_next = vm->sessions;
	if (vm->sessions != NULL)
		vm->sessions->vm_prev = s;
	vm->sessions = s;
	vm->nsessions++;
}

void
budget_detach(struct vm *vm, struct session *s)
{
	if (s->vm_prev != NULL)
		s->vm_prev->vm_next = s->vm_next;
	else
		vm->sessions = s->vm_next;
	if (s->vm_next != NULL)
		s->vm_next->vm_prev = s->vm_prev;
	s->vm_next = s->vm_prev = NULL;
	vm->nsessions--;
}

void
budget_store_stats(struct vm *vm, const struct proto_stats *st, uint64_t now)
{
	vm->stats = *st;
	vm->have_stats = true;
	vm->stats_ns = now;
}
