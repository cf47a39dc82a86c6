/* The test's own view of a guest: a second QMP monitor, events recorded. */

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/vm.h"

static void on_ready(QmpConn *c, void *ud)
{
	((TestVm *)ud)->n_ready++;
}

static void on_disconnected(QmpConn *c, int err, const char *reason, void *ud)
{
}

static void on_event(QmpConn *c, const char *name, const QmpValue *data, const QmpTimestamp *ts,
		     void *ud)
{
	TestVm *v = ud;

	if (v->n_events >= TEST_VM_EVENTS)
		return;
	snprintf(v->events[v->n_events], sizeof(v->events[0]), "%s", name);
	if (data)
		qmp_value_format(*data, v->data[v->n_events], sizeof(v->data[0]));
	else
		v->data[v->n_events][0] = 0;
	v->ts[v->n_events++] = *ts;
}

static const QmpConnOps ops = { on_ready, on_disconnected, on_event };

static void on_reply(QmpConn *c, int r, const QmpValue *ret, const QmpError *err, void *ud)
{
	TestVm *v = ud;

	v->r = r;
	v->ret[0] = 0;
	if (ret)
		qmp_value_format(*ret, v->ret, sizeof(v->ret));
	if (err)
		v->err = *err;
	v->n_done++;
}

void test_vm_spin(struct event_base *base, unsigned ms)
{
	int64_t end = test_now_ms() + ms;

	while (test_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(2000);
}

int test_vm_call(TestVm *v, const char *command, const char *args_json)
{
	int before = v->n_done;
	int64_t end = test_now_ms() + 30000;
	json_object *args = args_json ? json_tokener_parse(args_json) : NULL;

	ck_assert_int_eq(qmp_conn_call(v->conn, command, args, QMP_RETURN_ANY, 30000, on_reply, v),
			 0);
	while (v->n_done == before && test_now_ms() < end)
		event_base_loop(v->base, EVLOOP_ONCE);
	ck_assert_int_gt(v->n_done, before);
	return v->r;
}

int test_vm_find_event(TestVm *v, const char *event, const char *data_substr)
{
	for (int i = 0; i < v->n_events; i++)
		if (strcmp(v->events[i], event) == 0 &&
		    (!data_substr || strstr(v->data[i], data_substr)))
			return i;
	return -1;
}

int test_vm_wait_event(TestVm *v, const char *event, const char *data_substr, unsigned ms)
{
	int64_t end = test_now_ms() + ms;
	int k;

	while ((k = test_vm_find_event(v, event, data_substr)) < 0 && test_now_ms() < end)
		test_vm_spin(v->base, 20);
	return k;
}

bool test_vm_has_device(TestVm *v, const char *id)
{
	char needle[100];

	ck_assert_int_eq(test_vm_call(v, "qom-list", "{\"path\": \"/machine/peripheral\"}"), 0);
	snprintf(needle, sizeof(needle), "\"name\":\"%s\"", id);
	return strstr(v->ret, needle) != NULL;
}

double test_qmp_ts_ms(const QmpTimestamp *ts)
{
	return (double)ts->seconds * 1000.0 + (double)ts->microseconds / 1000.0;
}

void test_vm_start(TestVm *v, struct event_base *base, const char *dir, const char *name,
		   const TestVmOptions *o)
{
	char qmp2[400];
	const char *extra[32] = { "-qmp", qmp2, NULL };
	TestGuestOptions g = { 0 };
	size_t n = 2;

	for (const char *const *a = o->extra_args; a && *a && n < 31; a++)
		extra[n++] = *a;
	extra[n] = NULL;
	v->base = base;
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->qmp, sizeof(v->qmp), "%s/%s.qmp", dir, name);
	snprintf(v->tqmp, sizeof(v->tqmp), "%s/%s-test.qmp", dir, name);
	snprintf(v->serial, sizeof(v->serial), "%s/%s-serial.log", dir, name);
	snprintf(v->migrate, sizeof(v->migrate), "%s/%s-migrate.sock", dir, name);
	snprintf(qmp2, sizeof(qmp2), "unix:%s,server=on,wait=off", v->tqmp);
	g.qmp_path = v->qmp;
	g.serial_log = v->serial;
	g.boot = o->boot;
	g.paused = !o->boot;
	g.incoming = o->incoming;
	g.name = o->instance ? o->instance : "vm1";
	g.mac = o->mac;
	g.standby = true;
	g.n_root_ports = 3;
	g.nofailover = o->nofailover;
	g.standby_netdev = o->standby_netdev;
	g.append = o->append;
	g.extra_args = extra;
	v->qemu = test_guest_spawn(&g, dir);
	ck_assert_ptr_nonnull(v->qemu);
	ck_assert_int_eq(test_qemu_wait_socket(v->qemu, v->tqmp, 20000), 0);
	/* Reconnecting: a QEMU slow to its main loop misses the first greeting timeout. */
	ck_assert_int_eq(qmp_conn_new_connect(&v->conn, base, v->tqmp, true, &ops, v), 0);
	for (int64_t end = test_now_ms() + 120000; v->n_ready == 0;) {
		ck_assert_msg(test_now_ms() < end, "QEMU %s: no QMP greeting on %s in 120 s", name,
			      v->tqmp);
		test_vm_spin(base, 20);
	}
	/* Events on our own monitor too: migration events need the capability. */
	ck_assert_int_eq(
		test_vm_call(v, "migrate-set-capabilities",
			     "{\"capabilities\": [{\"capability\": \"events\", \"state\": true}]}"),
		0);
}

void test_vm_stop(TestVm *v)
{
	v->conn = qmp_conn_free(v->conn);
	v->qemu = test_qemu_free(v->qemu);
}

void test_vm_migrate(TestVm *src, TestVm *dst)
{
	char uri[400];

	snprintf(uri, sizeof(uri), "{\"uri\": \"unix:%s\"}", dst->migrate);
	ck_assert_int_eq(test_vm_call(dst, "migrate-incoming", uri), 0);
	ck_assert_int_eq(test_vm_call(src, "migrate", uri), 0);
}
