/* Manager: owns the loop, signals, and the QEMU connections. */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/manager.h"
#include "qmp/qmp.h"

typedef struct Peer Peer;
struct Peer {
	Manager *manager;
	Peer *prev, *next;
	QmpConn *conn;
};

struct Manager {
	struct event_base *base;
	Log log;
	struct event *sig_term, *sig_int;
	QmpListener *listener;
	Peer *peers;
};

static void peer_free(Peer *p)
{
	Manager *m = p->manager;

	if (p->prev)
		p->prev->next = p->next;
	else
		m->peers = p->next;
	if (p->next)
		p->next->prev = p->prev;
	qmp_conn_free(p->conn);
	free(p);
}

static void peer_on_probe(QmpConn *c, int r, const QmpProbe *probe, const char *reason,
			  void *userdata)
{
	Peer *p = userdata;

	if (r < 0) {
		log_warning(&p->manager->log, "QEMU on fd refused: %s", reason);
		return;
	}
	log_info(&p->manager->log, "QEMU %d.%d.%d connected, failover supported",
		 probe->version.major, probe->version.minor, probe->version.micro);
}

static void peer_on_ready(QmpConn *c, void *userdata)
{
	Peer *p = userdata;
	int r = qmp_probe_start(c, "vfio-pci", peer_on_probe, p);

	if (r < 0)
		log_warning(&p->manager->log, "cannot probe QEMU: %s", strerror(-r));
}

static void peer_on_disconnected(QmpConn *c, int err, const char *reason, void *userdata)
{
	Peer *p = userdata;

	log_info(&p->manager->log, "QEMU monitor connection closed: %s", reason);
	peer_free(p);
}

static void peer_on_event(QmpConn *c, const char *name, json_object *data, const QmpTimestamp *ts,
			  void *userdata)
{
	Peer *p = userdata;

	log_debug(&p->manager->log, "QMP event %s at %lld.%06lld", name, (long long)ts->seconds,
		  (long long)ts->microseconds);
}

static const QmpConnOps peer_ops = {
    .ready = peer_on_ready,
    .disconnected = peer_on_disconnected,
    .event = peer_on_event,
};

static void manager_on_accept(QmpListener *l, int fd, void *userdata)
{
	Manager *m = userdata;
	Peer *p = calloc(1, sizeof(*p));
	int r;

	if (!p) {
		close(fd);
		return;
	}
	p->manager = m;
	r = qmp_conn_new_fd(&p->conn, m->base, fd, &peer_ops, p);
	if (r < 0) {
		log_warning(&m->log, "cannot adopt QEMU connection: %s", strerror(-r));
		free(p);
		return;
	}
	p->next = m->peers;
	if (m->peers)
		m->peers->prev = p;
	m->peers = p;
}

static void manager_on_signal(evutil_socket_t sig, short what, void *userdata)
{
	Manager *m = userdata;

	log_info(&m->log, "received %s, shutting down", strsignal((int)sig));
	event_base_loopbreak(m->base);
}

int manager_new(Manager **out, const ManagerOptions *opts)
{
	Manager *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	log_init(&m->log, opts->log_level);
	m->base = event_base_new();
	if (!m->base) {
		free(m);
		return -ENOMEM;
	}
	m->sig_term = evsignal_new(m->base, SIGTERM, manager_on_signal, m);
	m->sig_int = evsignal_new(m->base, SIGINT, manager_on_signal, m);
	if (!m->sig_term || !m->sig_int) {
		manager_free(m);
		return -ENOMEM;
	}
	evsignal_add(m->sig_term, NULL);
	evsignal_add(m->sig_int, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opts->listen_qmp) {
		r = qmp_listener_new(&m->listener, m->base, opts->listen_qmp, 0600,
				     manager_on_accept, m);
		if (r < 0) {
			log_error(&m->log, "cannot listen on %s: %s", opts->listen_qmp,
				  strerror(-r));
			manager_free(m);
			return r;
		}
		log_info(&m->log, "listening for QEMU monitors on %s", opts->listen_qmp);
	}
	*out = m;
	return 0;
}

Manager *manager_free(Manager *m)
{
	if (!m)
		return NULL;
	while (m->peers)
		peer_free(m->peers);
	qmp_listener_free(m->listener);
	if (m->sig_term)
		event_free(m->sig_term);
	if (m->sig_int)
		event_free(m->sig_int);
	event_base_free(m->base);
	free(m);
	return NULL;
}

int manager_run(Manager *m)
{
	if (event_base_dispatch(m->base) < 0)
		return -EIO;
	return 0;
}

struct event_base *manager_get_event_base(Manager *m)
{
	return m->base;
}

const Log *manager_get_log(const Manager *m)
{
	return &m->log;
}
