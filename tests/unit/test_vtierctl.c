/*
 * test_vtierctl.c - vtierctl's Prometheus text (agent/vtierctl.c,
 * included whole): the metric tables keep Prometheus's naming rules,
 * label values are escaped, a missing key gives no sample and no
 * family, a value that is not a number fails the whole output, and the
 * shim's VMs are grouped per family.  tests/sh/metrics.sh checks the
 * real daemons' output with promtool.
 */
#include <errno.h>
#include <stdbool.h>

#define main vtierctl_main
int vtierctl_main(int argc, char **argv);
#include "../../agent/vtierctl.c"
#undef main

#include "../test.h"

/* The metrics text for document json, or NULL if it does not parse. */
static char *
render(int (*build)(FILE *, const struct doc *), const char *json,
    const char *key, const char *val, int *rc)
{
	struct doc d = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	*rc = -EINVAL;
	if (parse_object(json, "", &d, 0) == NULL ||
	    (f = open_memstream(&text, &len)) == NULL) {
		free(d.p);
		return NULL;
	}
	/* a value the JSON reader cannot produce, e.g. a raw newline */
	for (int i = 0; key != NULL && i < d.n; i++)
		if (strcmp(d.p[i].key, key) == 0)
			snprintf(d.p[i].val, sizeof(d.p[i].val), "%s", val);
	*rc = build(f, &d);
	fclose(f);
	free(d.p);
	return text;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *s = hay; (s = strstr(s, needle)) != NULL; s++)
		n++;
	return n;
}

static void
check_row(const struct metric *m, int *bad)
{
	size_t n = strlen(m->name);
	bool counter = strcmp(m->type, "counter") == 0;

	if (!counter && strcmp(m->type, "gauge") != 0)
		(*bad)++;
	if (strspn(m->name, "abcdefghijklmnopqrstuvwxyz_") != n)
		(*bad)++;
	/* counters, and only counters, end in _total */
	if (counter != (n > 6 && strcmp(m->name + n - 6, "_total") == 0))
		(*bad)++;
	if (strpbrk(m->help, "\\\n") != NULL || m->help[0] == '\0')
		(*bad)++;
	if (*bad)
		fprintf(stderr, "bad row: %s\n", m->name);
}

static void
test_tables(void)
{
	const struct metric *all[64];
	size_t n = 0;
	int bad = 0;

	for (size_t i = 0; i < ARRAY_SIZE(agent_metrics); i++)
		all[n++] = &agent_metrics[i];
	all[n++] = &shim_vms;
	all[n++] = &shim_connected_vms;
	for (size_t i = 0; i < ARRAY_SIZE(shim_vm_metrics); i++)
		all[n++] = &shim_vm_metrics[i];
	ASSERT_EQ(n, 35 + 2 + 9);
	for (size_t i = 0; i < n; i++) {
		check_row(all[i], &bad);
		ASSERT_EQ(bad, 0);
		for (size_t j = 0; j < i; j++)
			ASSERT_TRUE(strcmp(all[i]->name, all[j]->name) != 0);
	}
}

static void
test_agent(void)
{
	const char *json = "{\"version\": \"1\\\"2\\\\3\", \"sampler\": "
	    "\"replay\", \"backend\": \"sim\", \"samples\": 7, "
	    "\"budget_unattainable\": true, \"shim_state\": \"down\", "
	    "\"migration_errors\": {\"busy\": 2, \"other\": 0}, "
	    "\"cpu_seconds\": 0.125, \"budget_bytes\": 18446744073709551615}";
	char *t;
	int rc;

	t = render(metrics_agent, json, NULL, NULL, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_CONTAINS(t, "# HELP vtier_agent_info ");
	ASSERT_CONTAINS(t, "\n# TYPE vtier_agent_info gauge\n"
	    "vtier_agent_info{version=\"1\\\"2\\\\3\",sampler=\"replay\","
	    "backend=\"sim\"} 1\n");
	ASSERT_CONTAINS(t, "\nvtier_agent_up 1\n");
	ASSERT_CONTAINS(t, "# TYPE vtier_agent_samples_total counter\n"
	    "vtier_agent_samples_total 7\n");
	ASSERT_CONTAINS(t, "\nvtier_agent_budget_unattainable 1\n");
	ASSERT_CONTAINS(t, "\nvtier_agent_shim_connected 0\n");
	ASSERT_CONTAINS(t, "# TYPE vtier_agent_migration_errors_total counter\n"
	    "vtier_agent_migration_errors_total{kind=\"busy\"} 2\n"
	    "vtier_agent_migration_errors_total{kind=\"other\"} 0\n");
	ASSERT_CONTAINS(t, "\nvtier_agent_cpu_seconds_total 0.125\n");
	/* exactly as the document says, not through a double */
	ASSERT_CONTAINS(t, "\nvtier_agent_budget_bytes 18446744073709551615\n");
	/* keys the document lacks: no sample, no family */
	ASSERT_EQ(count(t, "lost_samples"), 0);
	ASSERT_EQ(count(t, "tracked_pages"), 0);
	ASSERT_EQ(count(t, "# TYPE "), 8);
	ASSERT_EQ(count(t, "# HELP "), 8);
	free(t);
}

static void
test_label_escapes(void)
{
	char *t;
	int rc;

	t = render(metrics_agent, "{\"version\": \"x\", \"sampler\": \"s\"}",
	    "version", "a\nb\\c\"d", &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_CONTAINS(t, "vtier_agent_info{version=\"a\\nb\\\\c\\\"d\","
	    "sampler=\"s\",backend=\"?\"} 1\n");
	free(t);
}

static void
test_bad_values(void)
{
	static const char *const docs[] = {
		"{\"samples\": \"many\"}",
		"{\"samples\": 1e999}",
		"{\"samples\": \"nan\"}",
		"{\"samples\": \"\"}",
		"{\"migration_errors\": {\"busy\": \"x\"}}",
	};
	char *t;
	int rc;

	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		t = render(metrics_agent, docs[i], NULL, NULL, &rc);
		free(t);
		ASSERT_EQ(rc, -EBADMSG);
	}
}

static void
test_shim(void)
{
	const char *json = "{\"version\": \"0.1.0\", \"vms\": ["
	    "{\"name\": \"a\", \"connected\": true, \"budget_bytes\": 5, "
	    "\"pinned_bytes\": 0, \"stats\": {\"fast_used_bytes\": 3, "
	    "\"samples\": 9, \"promoted_bytes\": 4096, \"demoted_bytes\": 0}, "
	    "\"ends\": {\"eof\": 1}},"
	    "{\"name\": \"b\", \"connected\": false, \"budget_bytes\": 0, "
	    "\"pinned_bytes\": 0, \"stats\": null}]}";
	char *t;
	int rc;

	t = render(metrics_shim, json, NULL, NULL, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_CONTAINS(t, "# TYPE vtier_hostshim_vms gauge\n"
	    "vtier_hostshim_vms 2\n");
	ASSERT_CONTAINS(t, "\nvtier_hostshim_connected_vms 1\n");
	ASSERT_CONTAINS(t, "# TYPE vtier_hostshim_vm_connected gauge\n"
	    "vtier_hostshim_vm_connected{vm=\"a\"} 1\n"
	    "vtier_hostshim_vm_connected{vm=\"b\"} 0\n# HELP ");
	ASSERT_CONTAINS(t, "vtier_hostshim_vm_budget_bytes{vm=\"b\"} 0\n");
	/* b has sent no stats: no sample rather than a 0 */
	ASSERT_CONTAINS(t, "# TYPE vtier_hostshim_vm_samples_total counter\n"
	    "vtier_hostshim_vm_samples_total{vm=\"a\"} 9\n# HELP ");
	ASSERT_EQ(count(t, "{vm=\"b\"}"), 3);
	ASSERT_EQ(count(t, "# TYPE "), 9);
	free(t);

	t = render(metrics_shim, "{\"vms\": []}", NULL, NULL, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_CONTAINS(t, "\nvtier_hostshim_vms 0\n");
	ASSERT_CONTAINS(t, "\nvtier_hostshim_connected_vms 0\n");
	ASSERT_EQ(count(t, "# TYPE "), 2);
	free(t);
}

int
main(void)
{
	RUN_TEST(test_tables);
	RUN_TEST(test_agent);
	RUN_TEST(test_label_escapes);
	RUN_TEST(test_bad_values);
	RUN_TEST(test_shim);
	TEST_EXIT();
}
