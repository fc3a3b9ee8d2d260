/*
 * virt_xml.c - a libvirt domain's XML and QEMU's flat memory map, read
 * into plain structs (virt_xml.h).  Pure: no file, socket or libvirt
 * call; the input is untrusted text (a domain's XML holds whatever its
 * owner wrote into <metadata>), so every length is bounded, nothing is
 * sized from the input, and libxml2 is told to fetch nothing from the
 * network and to expand no entities.
 *
 * The domain: libvirt's own format (docs/formatdomain):
 *   <domain type='kvm' id='3'>
 *     <name>web1</name> <uuid>...</uuid> <memory unit='KiB'>N</memory>
 *     <memoryBacking> <hugepages/> <source type='file|memfd|anonymous'/>
 *                     <access mode='shared|private'/> </memoryBacking>
 *     <cpu><numa><cell id='0' cpus='0-1' memory='N' unit='KiB'
 *                      memAccess='shared'/>...</numa></cpu>
 *     <devices>
 *       <vsock model='virtio'><cid auto='no' address='5'/></vsock>
 *       <channel type='unix'><source mode='bind' path='/...'/>
 *                <target type='virtio' name='org.vtier.0'/></channel>
 *     </devices>
 *     <metadata> <vtier:vm xmlns:vtier='VIRT_NS'>...</vtier:vm> </metadata>
 *   </domain>
 * Elements are matched by name as children of their parent, never by a
 * search through the whole tree, so a <name> inside <metadata> or a
 * device is never taken for the domain's.
 *
 * vtier's metadata (every child optional, each at most once; children
 * in vtier's namespace or in none, as `virsh metadata --set` and
 * virDomainSetMetadata leave them):
 *   <vtier:vm xmlns:vtier='http://vtier.dev/xmlns/domain/1'>
 *     <budget>4G</budget>               none, or a size > 0
 *     <prefault_cap>1G</prefault_cap>   a size, 0 refuses every pre-fault
 *     <managed>yes</managed>            no: the shim leaves it alone
 *   </vtier:vm>
 * Sizes as in hostshim.ini (bytes, K, M, G, T; binary).  An unknown
 * child, a repeated one or a bad value makes the whole element
 * malformed: meta.error says which, the values are the defaults, and
 * virt.c keeps the last good ones of a VM it already serves.
 *
 * The flat view (`info mtree -f`, QEMU's HMP): blocks of
 *   FlatView #N
 *    AS "memory", root: system
 *    AS "cpu-memory-0", root: system
 *    Root memory region: system
 *     0000000000000000-00000000000bffff (prio 0, ram): ram-node0
 *     0000000000100000-000000001fffffff (prio 0, ram): ram-node0 @0000000000100000
 * Only the view of AS "memory" counts; in it only "ram" lines (not rom,
 * romd, i/o, nv-ram).  END is inclusive; "@OFF" is the offset in the
 * region, absent when 0; anything after the name (" KVM", dispatch
 * info) is ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "vtier/util.h"
#include "virt_xml.h"

static void __attribute__((format(printf, 3, 4)))
say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------- XML helpers */

static bool
is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns == NULL &&
	    strcmp((const char *)n->name, name) == 0;
}

/* The first child element called name (no namespace), or NULL. */
static xmlNode *
child(const xmlNode *n, const char *name)
{
	for (xmlNode *c = n != NULL ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/*
 * An attribute or an element's text, copied into buf (trimmed of
 * surrounding blanks).  0; -ENOENT absent; -ENAMETOOLONG too long.
 */
static int
copy_text(xmlChar *s, char *buf, size_t len)
{
	const char *b, *e;
	size_t n;

	if (s == NULL)
		return -ENOENT;
	b = (const char *)s;
	while (*b && isspace((unsigned char)*b))
		b++;
	e = b + strlen(b);
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - b);
	if (n >= len) {
		xmlFree(s);
		return -ENAMETOOLONG;
	}
	memcpy(buf, b, n);
	buf[n] = '\0';
	xmlFree(s);
	return 0;
}

static int
attr(const xmlNode *n, const char *name, char *buf, size_t len)
{
	if (n == NULL)
		return -ENOENT;
	return copy_text(xmlGetNoNsProp(n, (const xmlChar *)name), buf, len);
}

static int
text(const xmlNode *n, char *buf, size_t len)
{
	if (n == NULL)
		return -ENOENT;
	return copy_text(xmlNodeGetContent(n), buf, len);
}

/*
 * A libvirt scaled integer (docs/formatdomain "Memory Allocation"):
 * digits and a unit: b/bytes, KB/MB/GB/TB (powers of 1000), k/KiB,
 * M/MiB, G/GiB, T/TiB (1024); no unit means def_unit.  -EINVAL/-ERANGE.
 */
static int
scaled(const char *num, const char *unit, uint64_t def_unit, uint64_t *out)
{
	static const struct { const char *u; uint64_t m; } units[] = {
		{ "b", 1 }, { "bytes", 1 },
		{ "KB", 1000ULL }, { "MB", 1000000ULL },
		{ "GB", 1000000000ULL }, { "TB", 1000000000000ULL },
		{ "k", KiB }, { "KiB", KiB }, { "M", MiB }, { "MiB", MiB },
		{ "G", GiB }, { "GiB", GiB }, { "T", 1024 * GiB },
		{ "TiB", 1024 * GiB },
	};
	uint64_t v, m = def_unit;
	int rc;

	if ((rc = parse_u64(num, &v)) < 0)
		return rc;
	if (unit != NULL && *unit != '\0') {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (strcasecmp(unit, units[i].u) == 0 &&
			    (unit[0] != 'b' || units[i].m == 1))
				break;
		if (i == ARRAY_SIZE(units))
			return -EINVAL;
		m = units[i].m;
	}
	if (v > UINT64_MAX / m)
		return -ERANGE;
	*out = v * m;
	return 0;
}

/* An element's size: its text and its unit attribute (KiB by default). */
static int
elem_size(const xmlNode *n, uint64_t *out)
{
	char num[32], unit[16] = "";

	if (text(n, num, sizeof(num)) < 0)
		return -EINVAL;
	if (attr(n, "unit", unit, sizeof(unit)) == -ENAMETOOLONG)
		return -EINVAL;
	return scaled(num, unit, KiB, out);
}

/* ------------------------------------------------------------- metadata */

static bool
ours(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL &&
	    n->ns->href != NULL &&
	    strcmp((const char *)n->ns->href, VIRT_NS) == 0;
}

static void
meta_defaults(struct virt_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->prefault_cap = VIRT_PREFAULT_CAP_DEFAULT;
	m->managed = true;
}

/* Our element: every child once, each value checked; else m->error. */
static void
parse_meta(const xmlNode *el, struct virt_meta *m)
{
	bool seen[3] = { false, false, false };
	char v[64];
	int b;

	meta_defaults(m);
	m->present = true;
	for (const xmlNode *c = el->children; c != NULL; c = c->next) {
		const char *name = (const char *)c->name;
		int k;

		if (c->type == XML_TEXT_NODE || c->type == XML_COMMENT_NODE)
			continue;
		/* children in our namespace or in none: `virsh metadata
		 * --set '<vm><budget>4G</budget></vm>'` gives the second */
		if (c->type != XML_ELEMENT_NODE || (c->ns != NULL && !ours(c))) {
			snprintf(m->error, sizeof(m->error), "<%s:%s>: unexpected "
			    "<%.32s> in it (expected budget, prefault_cap, "
			    "managed)", VIRT_NS_PREFIX, VIRT_META_ELEM,
			    c->name != NULL ? name : "?");
			goto bad;
		}
		k = strcmp(name, "budget") == 0 ? 0 :
		    strcmp(name, "prefault_cap") == 0 ? 1 :
		    strcmp(name, "managed") == 0 ? 2 : -1;
		if (k < 0) {
			snprintf(m->error, sizeof(m->error), "unknown element "
			    "<%s:%.32s> (expected budget, prefault_cap or "
			    "managed)", VIRT_NS_PREFIX, name);
			goto bad;
		}
		if (seen[k]) {
			snprintf(m->error, sizeof(m->error), "<%s:%s> given "
			    "twice", VIRT_NS_PREFIX, name);
			goto bad;
		}
		seen[k] = true;
		if (text(c, v, sizeof(v)) < 0) {
			snprintf(m->error, sizeof(m->error), "<%s:%s>: value "
			    "too long", VIRT_NS_PREFIX, name);
			goto bad;
		}
		switch (k) {
		case 0:
			if (strcmp(v, "none") == 0)
				m->budget = 0;
			else if (parse_size(v, &m->budget) < 0 || m->budget == 0)
				goto badval;
			break;
		case 1:
			if (parse_size(v, &m->prefault_cap) < 0)
				goto badval;
			break;
		case 2:
			if (parse_bool(v, &b) < 0)
				goto badval;
			m->managed = b;
			break;
		}
		continue;
badval:
		snprintf(m->error, sizeof(m->error), "<%s:%s>: bad value "
		    "'%.32s' (expected %s)", VIRT_NS_PREFIX, name, v,
		    k == 0 ? "none or a size above 0, e.g. 4G" :
		    k == 1 ? "a size, e.g. 1G" : "yes or no");
		goto bad;
	}
	return;
bad:
	{
		char e[VIRT_ERR_MAX];

		memcpy(e, m->error, sizeof(e));
		meta_defaults(m);
		m->present = true;
		memcpy(m->error, e, sizeof(e));
	}
}

int
virt_xml_format_meta(const struct virt_meta *m, char *buf, size_t len)
{
	char budget[32], cap[32];
	int n;

	if (m->budget == 0)
		snprintf(budget, sizeof(budget), "none");
	else
		format_size(m->budget, budget, sizeof(budget));
	format_size(m->prefault_cap, cap, sizeof(cap));
	/* no prefix: libvirt puts the element in the namespace it is given */
	n = snprintf(buf, len, "<%s><budget>%s</budget><prefault_cap>%s"
	    "</prefault_cap><managed>%s</managed></%s>", VIRT_META_ELEM,
	    budget, cap, m->managed ? "yes" : "no", VIRT_META_ELEM);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* -------------------------------------------------------------- domain */

/* The names hostshim.ini allows: 1-64 of [A-Za-z0-9._-]. */
static bool
good_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > PROTO_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

static bool
good_uuid(const char *s)
{
	if (strlen(s) != VIRT_UUID_LEN)
		return false;
	for (int i = 0; i < VIRT_UUID_LEN; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ?
		    s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int
parse_backing(const xmlNode *mb, struct virt_domain *d, char *why,
    size_t whylen)
{
	char v[32];

	if (mb == NULL)
		return 0;
	d->hugepages = child(mb, "hugepages") != NULL;
	if (attr(child(mb, "source"), "type", v, sizeof(v)) == 0) {
		if (strcmp(v, "file") == 0)
			d->mem = VIRT_MEM_FILE;
		else if (strcmp(v, "memfd") == 0)
			d->mem = VIRT_MEM_MEMFD;
		else if (strcmp(v, "anonymous") != 0) {
			say(why, whylen, "<memoryBacking><source type='%s'>: "
			    "unknown type", v);
			return -EINVAL;
		}
	}
	if (attr(child(mb, "access"), "mode", v, sizeof(v)) == 0)
		d->mem_shared = strcmp(v, "shared") == 0;
	return 0;
}

static int
parse_cells(const xmlNode *numa, struct virt_domain *d, char *why,
    size_t whylen)
{
	for (const xmlNode *c = numa != NULL ? numa->children : NULL; c;
	    c = c->next) {
		struct virt_cell *cell;
		char v[32], unit[16] = "";
		uint64_t id;

		if (!is(c, "cell"))
			continue;
		if (d->ncells == VIRT_MAX_CELLS) {
			say(why, whylen, "more than %d NUMA cells",
			    VIRT_MAX_CELLS);
			return -EINVAL;
		}
		cell = &d->cell[d->ncells];
		if (attr(c, "id", v, sizeof(v)) < 0)
			snprintf(v, sizeof(v), "%d", d->ncells);
		if (parse_u64(v, &id) < 0 || id >= 4096) {
			say(why, whylen, "NUMA cell %d: bad id", d->ncells);
			return -EINVAL;
		}
		cell->id = (uint32_t)id;
		if (attr(c, "memory", v, sizeof(v)) < 0 ||
		    attr(c, "unit", unit, sizeof(unit)) == -ENAMETOOLONG ||
		    scaled(v, unit, KiB, &cell->bytes) < 0) {
			say(why, whylen, "NUMA cell %u: bad or no memory",
			    cell->id);
			return -EINVAL;
		}
		cell->mem_access = -1;
		if (attr(c, "memAccess", v, sizeof(v)) == 0)
			cell->mem_access = strcmp(v, "shared") == 0;
		d->ncells++;
	}
	return 0;
}

/* <devices>: the vsock CID and the vtier channel. */
static int
parse_devices(const xmlNode *devs, struct virt_domain *d, char *why,
    size_t whylen)
{
	bool have_channel = false;
	char v[32];
	uint64_t cid;

	for (const xmlNode *c = devs != NULL ? devs->children : NULL; c;
	    c = c->next) {
		if (is(c, "vsock")) {
			if (attr(child(c, "cid"), "address", v, sizeof(v)) < 0)
				continue;	/* auto, not yet assigned */
			if (parse_u64(v, &cid) < 0 || cid < 3 ||
			    cid > UINT32_MAX - 1) {
				say(why, whylen, "<vsock><cid address='%s'>: not "
				    "a guest CID", v);
				return -EINVAL;
			}
			d->cid = (uint32_t)cid;
		} else if (is(c, "channel")) {
			const xmlNode *t = child(c, "target"), *s;
			char name[64], type[16], mode[16] = "";
			int rc;

			if (attr(t, "name", name, sizeof(name)) < 0 ||
			    strcmp(name, VIRT_CHANNEL) != 0)
				continue;
			if (attr(c, "type", type, sizeof(type)) < 0 ||
			    strcmp(type, "unix") != 0 ||
			    attr(t, "type", type, sizeof(type)) < 0 ||
			    strcmp(type, "virtio") != 0) {
				say(why, whylen, "channel %s: not <channel "
				    "type='unix'> with <target type='virtio'>",
				    VIRT_CHANNEL);
				return -EINVAL;
			}
			if (have_channel) {
				say(why, whylen, "two channels named %s",
				    VIRT_CHANNEL);
				return -EINVAL;
			}
			have_channel = true;
			s = child(c, "source");
			attr(s, "mode", mode, sizeof(mode));
			d->channel_connect = strcmp(mode, "connect") == 0;
			rc = attr(s, "path", d->channel, sizeof(d->channel));
			if (rc == -ENAMETOOLONG || (rc == 0 &&
			    d->channel[0] != '/')) {
				say(why, whylen, "channel %s: path not an "
				    "absolute path of at most %d characters",
				    VIRT_CHANNEL, VIRT_PATH_MAX - 1);
				return -EINVAL;
			}
			if (rc < 0)
				d->channel[0] = '\0';	/* not started yet */
		}
	}
	return 0;
}

/* <seclabel type='dynamic' model='dac'><label>+64055:+64055</label>: the
 * user and group libvirt runs QEMU as (live XML only). */
static void
parse_dac(const xmlNode *root, struct virt_domain *d)
{
	char v[64], *colon;
	uint64_t u, g;

	for (const xmlNode *c = root->children; c != NULL; c = c->next) {
		if (!is(c, "seclabel") || attr(c, "model", v, sizeof(v)) < 0 ||
		    strcmp(v, "dac") != 0 || text(child(c, "label"), v,
		    sizeof(v)) < 0)
			continue;
		if ((colon = strchr(v, ':')) == NULL || v[0] != '+' ||
		    colon[1] != '+')
			continue;
		*colon = '\0';
		if (parse_u64(v + 1, &u) < 0 || parse_u64(colon + 2, &g) < 0 ||
		    u >= UINT32_MAX || g >= UINT32_MAX)
			continue;
		d->has_dac = true;
		d->dac_uid = (uint32_t)u;
		d->dac_gid = (uint32_t)g;
		return;
	}
}

static void
no_xml_errors(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

int
virt_xml_parse_domain(const char *xml, size_t len, struct virt_domain *d,
    char *why, size_t whylen)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *n;
	char v[64];
	long id;
	int rc = -EINVAL;

	memset(d, 0, sizeof(*d));
	d->id = -1;
	meta_defaults(&d->meta);
	if (len > VIRT_XML_MAX || len > INT32_MAX) {
		say(why, whylen, "domain XML of %zu bytes (at most %u)", len,
		    VIRT_XML_MAX);
		return -EINVAL;
	}
	xmlSetGenericErrorFunc(NULL, no_xml_errors);
	/* No network, no entity expansion, no DTD loading. */
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL, XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (doc == NULL || (root = xmlDocGetRootElement(doc)) == NULL) {
		const xmlError *e = xmlGetLastError();

		say(why, whylen, "not well-formed XML%s%.80s", e && e->message ?
		    ": " : "", e && e->message ? e->message : "");
		goto out;
	}
	if (!is(root, "domain")) {
		say(why, whylen, "root element is not <domain>");
		goto out;
	}
	if ((rc = text(child(root, "name"), d->name, sizeof(d->name))) < 0 ||
	    !good_name(d->name)) {
		say(why, whylen, "domain name %s: a vtier VM name is 1-%d "
		    "letters, digits, '.', '-' or '_'", rc == -ENOENT ? "missing" :
		    rc < 0 ? "too long" : d->name, PROTO_NAME_MAX);
		rc = -EINVAL;
		goto out;
	}
	if (text(child(root, "uuid"), d->uuid, sizeof(d->uuid)) < 0 ||
	    !good_uuid(d->uuid)) {
		say(why, whylen, "domain %s: no or a bad <uuid>", d->name);
		rc = -EINVAL;
		goto out;
	}
	for (char *c = d->uuid; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (attr(root, "id", v, sizeof(v)) == 0) {
		char *end;

		errno = 0;
		id = strtol(v, &end, 10);
		if (errno == 0 && *end == '\0' && id >= 0 && id < INT32_MAX)
			d->id = (int)id;
	}
	rc = -EINVAL;
	if ((n = child(root, "memory")) != NULL && elem_size(n, &d->memory) < 0) {
		say(why, whylen, "domain %s: bad <memory>", d->name);
		goto out;
	}
	if (parse_backing(child(root, "memoryBacking"), d, why, whylen) < 0 ||
	    parse_cells(child(child(root, "cpu"), "numa"), d, why, whylen) < 0 ||
	    parse_devices(child(root, "devices"), d, why, whylen) < 0)
		goto out;
	parse_dac(root, d);
	for (n = child(root, "metadata") ? child(root, "metadata")->children :
	    NULL; n != NULL; n = n->next)
		if (ours(n) && strcmp((const char *)n->name, VIRT_META_ELEM) == 0) {
			if (d->meta.present) {
				meta_defaults(&d->meta);
				d->meta.present = true;
				snprintf(d->meta.error, sizeof(d->meta.error),
				    "<%s:%s> given twice", VIRT_NS_PREFIX,
				    VIRT_META_ELEM);
				break;
			}
			parse_meta(n, &d->meta);
		}
	rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

/* ------------------------------------------------------------ the map */

static int
cmp_ram(const void *a, const void *b)
{
	const struct virt_ram *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Hex digits [p, p+n) into *v: 1..16 of them. */
static int
hexnum(const char *p, size_t n, uint64_t *v)
{
	char b[17];

	if (n == 0 || n > 16)
		return -EINVAL;
	memcpy(b, p, n);
	b[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)b[i]))
			return -EINVAL;
	return parse_hex_u64(b, v);
}

/*
 * One range line: "  START-END (prio P, TYPE): NAME[ @OFF][ ...]".
 * 1 RAM range in *r, 0 another kind, -EINVAL malformed.
 */
static int
range_line(const char *l, size_t n, struct virt_ram *r)
{
	const char *e = l + n, *p = l, *dash, *close, *name, *ne;
	uint64_t start, end;
	size_t tl;

	while (p < e && *p == ' ')
		p++;
	if ((dash = memchr(p, '-', (size_t)(e - p))) == NULL ||
	    hexnum(p, (size_t)(dash - p), &start) < 0)
		return -EINVAL;
	p = dash + 1;
	for (close = p; close < e && isxdigit((unsigned char)*close); close++)
		;
	if (hexnum(p, (size_t)(close - p), &end) < 0 || end < start ||
	    e - close < 2 || close[0] != ' ' || close[1] != '(')
		return -EINVAL;
	p = close + 2;
	if ((close = memchr(p, ')', (size_t)(e - p))) == NULL ||
	    e - close < 3 || close[1] != ':' || close[2] != ' ')
		return -EINVAL;
	/* "prio P, TYPE": the type is after the last ", " */
	{
		const char *t = close;

		while (t > p && t[-1] != ' ')
			t--;
		tl = (size_t)(close - t);
		if (!(tl == 3 && memcmp(t, "ram", 3) == 0))
			return 0;
	}
	name = close + 3;
	for (ne = name; ne < e && *ne != ' '; ne++)
		if (!isgraph((unsigned char)*ne))
			return -EINVAL;
	if (ne == name || (size_t)(ne - name) >= sizeof(r->region))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	memcpy(r->region, name, (size_t)(ne - name));
	r->gpa = start;
	if (end == UINT64_MAX)
		return -EINVAL;
	r->size = end - start + 1;
	r->off = 0;
	if (e - ne > 2 && ne[1] == '@') {
		const char *o = ne + 2, *oe = o;

		while (oe < e && isxdigit((unsigned char)*oe))
			oe++;
		if (hexnum(o, (size_t)(oe - o), &r->off) < 0)
			return -EINVAL;
	}
	if (r->off > UINT64_MAX - r->size)
		return -EINVAL;
	return 1;
}

int
virt_xml_parse_mtree(const char *text, size_t len, struct virt_ram *r,
    size_t max, size_t *n, char *why, size_t whylen)
{
	const char *p = text, *e = text + len;
	bool in_view = false, is_memory = false, found = false;
	size_t k = 0, nw = 0, lineno = 0;

	*n = 0;
	if (len > VIRT_MTREE_MAX) {
		say(why, whylen, "memory map of %zu bytes (at most %u)", len,
		    VIRT_MTREE_MAX);
		return -EINVAL;
	}
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl != NULL ? nl : e;
		size_t ll;
		struct virt_ram one;
		int rc;

		lineno++;
		if (le > p && le[-1] == '\r')
			le--;
		ll = (size_t)(le - p);
		if (ll >= 8 && memcmp(p, "FlatView", 8) == 0) {
			if (is_memory)
				break;		/* the one view we wanted */
			in_view = true;
			is_memory = false;
		} else if (in_view && ll >= 5 && memcmp(p, " AS \"", 5) == 0) {
			if (ll >= 13 && memcmp(p, " AS \"memory\",", 13) == 0)
				is_memory = found = true;
		} else if (is_memory && ll > 2 && p[0] == ' ' && p[1] == ' ' &&
		    isxdigit((unsigned char)p[2])) {
			if ((rc = range_line(p, ll, &one)) < 0) {
				say(why, whylen, "memory map line %zu: not "
				    "'START-END (prio P, TYPE): NAME'", lineno);
				return -EINVAL;
			}
			if (rc == 1) {
				if (k == max) {
					say(why, whylen, "more than %zu RAM "
					    "ranges in the memory map", max);
					return -E2BIG;
				}
				r[k++] = one;
			}
		}
		p = nl != NULL ? nl + 1 : e;
	}
	if (!found) {
		say(why, whylen, "no flat view of address space \"memory\" in "
		    "the memory map");
		return -EINVAL;
	}
	qsort(r, k, sizeof(*r), cmp_ram);
	for (size_t i = 1; i < k; i++)
		if (r[i].gpa < r[i - 1].gpa + r[i - 1].size) {
			say(why, whylen, "overlapping RAM ranges at GPA 0x%llx",
			    (unsigned long long)r[i].gpa);
			return -EINVAL;
		}
	/* Neighbours of one region at the same GPA-offset distance are one
	 * mapping of it with something overlaid between (no RAM: they are
	 * neighbours in GPA order): merged. */
	for (size_t i = 0; i < k; i++) {
		struct virt_ram *w = nw > 0 ? &r[nw - 1] : NULL;

		if (w != NULL && strcmp(w->region, r[i].region) == 0 &&
		    r[i].off >= w->off && r[i].gpa - w->gpa == r[i].off - w->off) {
			w->size = r[i].gpa + r[i].size - w->gpa;
			continue;
		}
		r[nw++] = r[i];
	}
	*n = nw;
	return 0;
}

/* ---------------------------------------------------------- QMP replies */

/* Past one JSON value at *p (any kind, nested at most 64 deep). */
static const char *
skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *
skip_string(const char *p, const char *e)
{
	if (p >= e || *p != '"')
		return NULL;
	for (p++; p < e; p++) {
		if (*p == '\\') {
			if (++p >= e)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

static const char *
skip_value(const char *p, const char *e)
{
	int depth = 0;

	p = skip_ws(p, e);
	do {
		if (p >= e)
			return NULL;
		if (*p == '"') {
			if ((p = skip_string(p, e)) == NULL)
				return NULL;
		} else if (*p == '{' || *p == '[') {
			if (++depth > 64)
				return NULL;
			p++;
		} else if (*p == '}' || *p == ']') {
			if (--depth < 0)
				return NULL;
			p++;
		} else {
			p++;
		}
		if (depth > 0)
			p = skip_ws(p, e);
	} while (depth > 0);
	/* a bare word or number runs to the next delimiter */
	while (p < e && !strchr(",}] \t\r\n", *p))
		p++;
	return p;
}

/* A JSON string at p into buf: ASCII escapes only, anything else refused. */
static int
copy_string(const char *p, const char *e, char *buf, size_t len)
{
	size_t k = 0;

	if (p >= e || *p != '"')
		return -EINVAL;
	for (p++; p < e && *p != '"'; p++) {
		char c = *p;

		if ((unsigned char)c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			if (++p >= e)
				return -EINVAL;
			switch (*p) {
			case '"': case '\\': case '/': c = *p; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			default: return -EINVAL;	/* \u, \b...: not in a path */
			}
		}
		if (k + 1 >= len)
			return -ENAMETOOLONG;
		buf[k++] = c;
	}
	if (p >= e)
		return -EINVAL;
	buf[k] = '\0';
	return 0;
}

int
virt_xml_qmp_return(const char *json, size_t len, char *buf, size_t buflen)
{
	const char *p = json, *e = json + len, *key, *ke;
	bool error = false;

	if (buflen == 0)
		return -EINVAL;
	buf[0] = '\0';
	p = skip_ws(p, e);
	if (p >= e || *p++ != '{')
		return -EINVAL;
	for (;;) {
		p = skip_ws(p, e);
		if (p < e && *p == '}')
			break;
		key = p;
		if ((ke = skip_string(p, e)) == NULL)
			return -EINVAL;
		p = skip_ws(ke, e);
		if (p >= e || *p++ != ':')
			return -EINVAL;
		p = skip_ws(p, e);
		if (ke - key == 8 && memcmp(key, "\"return\"", 8) == 0) {
			if (p < e && *p == '"')
				return copy_string(p, e, buf, buflen);
			if (e - p >= 4 && memcmp(p, "true", 4) == 0) {
				snprintf(buf, buflen, "true");
				return 0;
			}
			if (e - p >= 5 && memcmp(p, "false", 5) == 0) {
				snprintf(buf, buflen, "false");
				return 0;
			}
			return -EINVAL;
		}
		if (ke - key == 7 && memcmp(key, "\"error\"", 7) == 0)
			error = true;
		if ((p = skip_value(p, e)) == NULL)
			return -EINVAL;
		p = skip_ws(p, e);
		if (p < e && *p == ',')
			p++;
		else if (p < e && *p == '}')
			break;
		else
			return -EINVAL;
	}
	return error ? -ENOENT : -EINVAL;
}
