/* A FAKE QMP peer for tests (see fake-qmp.h): canned replies, no QEMU. */

#include <check.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/lib/fake-qmp.h"

#define GREETING                                                                                   \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 2, \"minor\": 0, \"major\": 10}, "         \
	"\"package\": \"Debian 1:10.0.2\"}, \"capabilities\": [\"oob\"]}}\r\n"

/* A QEMU 10 with failover, rp1 (holding the standby net0) and a free rp2. */
static const FakeQmpRule defaults[] = {
	{ "qmp_capabilities", NULL, "{}" },
	{ "device-list-properties", "\"typename\":\"virtio-net-pci\"",
	  "[{\"name\":\"mac\",\"type\":\"str\"},{\"name\":\"failover\",\"type\":\"bool\"}]" },
	{ "device-list-properties", NULL, "[{\"name\":\"failover_pair_id\",\"type\":\"str\"}]" },
	{ "query-qmp-schema", NULL,
	  "[{\"name\":\"UNPLUG_PRIMARY\",\"meta-type\":\"event\"},"
	  "{\"name\":\"FAILOVER_NEGOTIATED\",\"meta-type\":\"event\"}]" },
	{ "query-migrate-capabilities", NULL, "[{\"capability\":\"events\",\"state\":false}]" },
	{ "query-name", NULL, "{}" },
	{ "query-status", NULL, "{\"status\":\"running\",\"running\":true}" },
	{ "query-migrate", NULL, "{}" },
	{ "qom-get", "\"property\":\"failover\"", "true" },
	{ "qom-get", "\"property\":\"mac\"", "\"52:54:00:aa:bb:01\"" },
	{ "qom-list", "\"path\":\"/machine/peripheral\"}",
	  "[{\"name\":\"type\",\"type\":\"string\"},"
	  "{\"name\":\"net0\",\"type\":\"child<virtio-net-pci>\"},"
	  "{\"name\":\"rp1\",\"type\":\"child<pcie-root-port>\"},"
	  "{\"name\":\"rp2\",\"type\":\"child<pcie-root-port>\"}]" },
	{ "qom-list", "/rp1/rp1", "[{\"name\":\"child[0]\",\"type\":\"child<virtio-net-pci>\"}]" },
	{ "qom-list", NULL, "[]" },
	{ "migrate-set-capabilities", NULL, "{}" },
	{ "device_add", NULL, "{}" },
	{ "device_del", NULL, "{}" },
	{ "migrate_cancel", NULL, "{}" },
	{ NULL, NULL, NULL },
};

typedef struct Count {
	char command[64];
	unsigned n;
} Count;

struct FakeQmp {
	int lfd, fd;
	char buf[1 << 16];
	size_t len;
	const FakeQmpRule *rules;
	Count counts[32];
};

static FakeQmp *fake_new(void)
{
	FakeQmp *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	f->lfd = f->fd = -1;
	return f;
}

FakeQmp *fake_qmp_new_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	FakeQmp *f = fake_new();

	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f->lfd, 4), 0);
	return f;
}

static void fake_greet(FakeQmp *f)
{
	f->len = 0;
	fake_qmp_send(f, GREETING);
}

FakeQmp *fake_qmp_new_fd(int fd)
{
	FakeQmp *f = fake_new();

	f->fd = fd;
	fake_greet(f);
	return f;
}

FakeQmp *fake_qmp_free(FakeQmp *f)
{
	if (!f)
		return NULL;
	if (f->fd >= 0)
		close(f->fd);
	if (f->lfd >= 0)
		close(f->lfd);
	free(f);
	return NULL;
}

void fake_qmp_set_rules(FakeQmp *f, const FakeQmpRule *rules)
{
	f->rules = rules;
}

bool fake_qmp_connected(const FakeQmp *f)
{
	return f->fd >= 0;
}

void fake_qmp_hangup(FakeQmp *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->len = 0;
}

void fake_qmp_send(FakeQmp *f, const char *json)
{
	size_t len = strlen(json);

	/* A client that went away is the test's to notice, not a failure here. */
	while (f->fd >= 0 && len > 0) {
		ssize_t n = send(f->fd, json, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fake_qmp_hangup(f);
			return;
		}
		json += n;
		len -= (size_t)n;
	}
}

unsigned fake_qmp_count(const FakeQmp *f, const char *command)
{
	for (size_t k = 0; k < sizeof(f->counts) / sizeof(f->counts[0]); k++)
		if (strcmp(f->counts[k].command, command) == 0)
			return f->counts[k].n;
	return 0;
}

static void fake_count(FakeQmp *f, const char *command)
{
	for (size_t k = 0; k < sizeof(f->counts) / sizeof(f->counts[0]); k++) {
		Count *c = &f->counts[k];

		if (!c->command[0])
			snprintf(c->command, sizeof(c->command), "%s", command);
		if (strcmp(c->command, command) == 0) {
			c->n++;
			return;
		}
	}
}

static const FakeQmpRule *rule_find(const FakeQmpRule *rules, const char *command, const char *args)
{
	for (const FakeQmpRule *r = rules; r && r->command; r++)
		if (strcmp(r->command, command) == 0 && (!r->args || strstr(args, r->args)))
			return r;
	return NULL;
}

static void fake_answer(FakeQmp *f, const char *line)
{
	json_object *msg = json_tokener_parse(line), *v, *id = NULL, *args = NULL;
	const FakeQmpRule *rule;
	const char *command, *args_json;
	char *out;

	if (!msg || !json_object_object_get_ex(msg, "execute", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		json_object_put(msg);
		return;
	}
	command = json_object_get_string(v);
	json_object_object_get_ex(msg, "id", &id);
	json_object_object_get_ex(msg, "arguments", &args);
	args_json = args ? json_object_to_json_string_ext(
				   args, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
			 : "";
	fake_count(f, command);
	rule = rule_find(f->rules, command, args_json);
	if (!rule)
		rule = rule_find(defaults, command, args_json);
	if (!rule || rule->reply[0] == '!')
		ck_assert_int_ge(
			asprintf(&out,
				 "{\"error\": {\"class\": \"%s\", \"desc\": \"fake: no %s\"}, "
				 "\"id\": %s}\r\n",
				 rule ? rule->reply + 1 : "CommandNotFound", command,
				 id ? json_object_to_json_string(id) : "null"),
			0);
	else
		ck_assert_int_ge(asprintf(&out, "{\"return\": %s, \"id\": %s}\r\n", rule->reply,
					  id ? json_object_to_json_string(id) : "null"),
				 0);
	fake_qmp_send(f, out);
	free(out);
	json_object_put(msg);
}

static void fake_read(FakeQmp *f)
{
	ssize_t n = read(f->fd, f->buf + f->len, sizeof(f->buf) - 1 - f->len);
	char *nl;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		fake_qmp_hangup(f);
		return;
	}
	f->len += (size_t)n;
	f->buf[f->len] = 0;
	while (f->fd >= 0 && (nl = memchr(f->buf, '\n', f->len))) {
		size_t used = (size_t)(nl - f->buf) + 1;

		*nl = 0;
		fake_answer(f, f->buf);
		if (f->fd < 0)
			break; /* the client went away: fake_qmp_hangup() emptied the buffer */
		memmove(f->buf, f->buf + used, f->len - used);
		f->len -= used;
		f->buf[f->len] = 0;
	}
	ck_assert_msg(f->len < sizeof(f->buf) - 1, "fake QMP peer: command line too long");
}

void fake_qmp_step_all(FakeQmp *const *fakes, int n, int timeout_ms)
{
	struct pollfd pfd[16];
	FakeQmp *who[16];
	int k = 0;

	for (int i = 0; i < n && k < 16; i++) {
		FakeQmp *f = fakes[i];

		if (!f)
			continue;
		pfd[k] = (struct pollfd){ f->fd >= 0 ? f->fd : f->lfd, POLLIN, 0 };
		who[k++] = f;
	}
	if (poll(pfd, (nfds_t)k, timeout_ms) <= 0)
		return;
	for (int i = 0; i < k; i++) {
		FakeQmp *f = who[i];

		if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (f->fd >= 0) {
			fake_read(f);
		} else if (f->lfd >= 0) {
			f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
			if (f->fd >= 0)
				fake_greet(f);
		}
	}
}

void fake_qmp_step(FakeQmp *f, int timeout_ms)
{
	fake_qmp_step_all(&f, 1, timeout_ms);
}
