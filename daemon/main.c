/* failoverd: SR-IOV failover pairs for QEMU, with live migration. */

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "conf/conf.h"
#include "daemon/bus.h"
#include "daemon/config.h"
#include "daemon/manager.h"
#include "daemon/service.h"
#include "daemon/watch.h"

static void on_started(Manager *m, void *userdata)
{
	service_ready(userdata);
}

/* Orchestrators changed /run/failoverd: the same reload as SIGHUP. */
static void on_runtime_config_changed(void *userdata)
{
	char err[256];

	service_reload(userdata, err, sizeof(err));
}

static void help(void)
{
	printf("Usage: failoverd [OPTIONS]\n\n"
	       "Manage virtio-net failover pairs (SR-IOV VF + virtio standby) of QEMU\n"
	       "instances over QMP, across live migration.\n\n"
	       "  -h --help              Show this help\n"
	       "     --version           Show the version\n"
	       "  -l --log-level=LEVEL   err, warning, notice, info (default), debug\n"
	       "     --listen-qmp=PATH   Accept QEMU monitor connections on PATH\n"
	       "     --state-dir=DIR     Keep ownership and pair state in DIR\n"
	       "                         (default /var/lib/failoverd)\n"
	       "     --root=DIR          Read configuration below DIR instead of /\n"
	       "     --check-config      Print the effective configuration and every\n"
	       "                         diagnostic; exit 0 only if it is valid\n"
	       "     --bus=BUS           Serve org.failoverd1 on BUS: system, session or a\n"
	       "                         D-Bus address (default: system when started by\n"
	       "                         systemd as a service, no bus otherwise)\n"
	       "     --no-bus            Do not connect to D-Bus\n"
	       "     --admin-group=GROUP Members of GROUP may call mutating D-Bus methods\n"
	       "                         (default: [Daemon] AdminGroup=; root always may)\n"
	       "     --metrics-file=PATH On SIGUSR1, write reaction times and counters to\n"
	       "                         PATH as JSON (see docs/performance.md)\n"
	       "     --debug-stop-at=POINT  Fault injection for tests: SIGSTOP itself at\n"
	       "                         POINT (reserved, saved, programmed, bound,\n"
	       "                         primary-added, state:NAME); see docs/reliability.md\n");
}

/*
 * A descriptor per QEMU (its monitor; a pidfd only while that is away): the
 * soft limit of 1024 is select()'s, and libevent polls with epoll, so take
 * the hard limit. Where that is still too
 * few (or setrlimit() is filtered, as in the unit, which sets LimitNOFILE=
 * instead), say so now rather than per failed connect (docs/performance.md
 * §Ten thousand instances).
 */
static void raise_nofile(Log *log, size_t n_instances)
{
	/*
	 * A monitor per QEMU, and a pidfd per QEMU whose monitor is away
	 * (daemon/instance.c); beyond those: pools, netlink, udev, the bus,
	 * state files, the log.
	 */
	const rlim_t spare = 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = { rl.rlim_max, rl.rlim_max };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	if (rl.rlim_cur != RLIM_INFINITY && n_instances + spare > rl.rlim_cur)
		log_warning(log,
			    "%zu instances need about %zu file descriptors, but RLIMIT_NOFILE "
			    "is %llu: some QEMUs will not be connected (raise LimitNOFILE=)",
			    n_instances, n_instances + (size_t)spare,
			    (unsigned long long)rl.rlim_cur);
}

/*
 * systemd socket activation (failoverd-qmp.socket): the listening AF_UNIX
 * stream socket it passed, made with its SocketMode=/SocketGroup=, or -1.
 */
static int activated_qmp_socket(void)
{
	int n = sd_listen_fds(1);

	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++)
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) > 0)
			return fd;
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "listen-qmp", required_argument, NULL, 'L' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "root", required_argument, NULL, 'R' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "bus", required_argument, NULL, 'B' },
		{ "no-bus", no_argument, NULL, 'N' },
		{ "admin-group", required_argument, NULL, 'G' },
		{ "metrics-file", required_argument, NULL, 'M' },
		{ "debug-stop-at", required_argument, NULL, 'D' },
		{},
	};
	ManagerOptions opts = { .log_level = -1, .listen_qmp_gid = (gid_t)-1, .listen_qmp_fd = -1 };
	__attribute__((cleanup(manager_freep))) Manager *m = NULL;
	__attribute__((cleanup(conf_set_freep))) ConfSet *conf = NULL;
	__attribute__((cleanup(config_freep))) Config *config = NULL;
	/* After the manager: freed first, they hold events on its loop. */
	__attribute__((cleanup(service_freep))) Service *service = NULL;
	__attribute__((cleanup(bus_freep))) Bus *bus = NULL;
	__attribute__((cleanup(conf_watch_freep))) ConfWatch *watch = NULL;
	/*
	 * Started by systemd as a service's main process (INVOCATION_ID, parent
	 * PID 1): serve the system bus. Not for processes a unit merely spawns
	 * (tests in a CI unit), which would compete for the name.
	 */
	const char *bus_address = getenv("INVOCATION_ID") && getppid() == 1 ? "system" : NULL;
	const char *admin_group = NULL;
	const char *root = NULL; /* prefix for /etc, /run, /usr/lib; NULL = "/" */
	bool check_config = false;
	Log log;
	int c, r;

	while ((c = getopt_long(argc, argv, "hl:", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 0;
		case 'V':
			printf("failoverd %s\n", FAILOVERD_VERSION);
			return 0;
		case 'l':
			opts.log_level = log_parse_level(optarg);
			if (opts.log_level < 0) {
				fprintf(stderr, "failoverd: invalid log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'L':
			opts.listen_qmp = optarg;
			break;
		case 'S':
			opts.state_dir = optarg;
			break;
		case 'R':
			root = optarg;
			break;
		case 'C':
			check_config = true;
			break;
		case 'B':
			bus_address = optarg;
			break;
		case 'N':
			bus_address = NULL;
			break;
		case 'G':
			admin_group = optarg;
			break;
		case 'M':
			opts.metrics_file = optarg;
			break;
		case 'D':
			opts.stop_at = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "failoverd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	/* Command-line options win over the configuration files. */
	log_init(&log, opts.log_level >= 0 ? opts.log_level : LOG_INFO);
	r = config_load(root, &log, &conf, NULL, 0);
	if (check_config) {
		if (conf)
			conf_set_dump(conf, stdout);
		fprintf(stderr, "failoverd: configuration is %s\n", r < 0 ? "invalid" : "valid");
		return r < 0 ? 1 : 0;
	}
	if (r < 0) {
		fprintf(stderr, "failoverd: invalid configuration, not starting\n");
		return 1;
	}
	raise_nofile(&log, conf->n_instances);
	if (opts.log_level < 0)
		opts.log_level = conf->daemon.log_level;
	if (!opts.state_dir)
		opts.state_dir = conf->daemon.state_directory;
	if (!opts.listen_qmp && conf->daemon.listen_qmp[0])
		opts.listen_qmp = conf->daemon.listen_qmp;
	opts.listen_qmp_mode = conf->daemon.listen_qmp_mode;
	if (conf->daemon.listen_qmp_group[0]) {
		struct group *gr = getgrnam(conf->daemon.listen_qmp_group);

		if (!gr) {
			fprintf(stderr,
				"failoverd: ListenQMPGroup=%s: no such group, not starting\n",
				conf->daemon.listen_qmp_group);
			return 1;
		}
		opts.listen_qmp_gid = gr->gr_gid;
	}
	opts.listen_qmp_fd = activated_qmp_socket();
	if (!admin_group)
		admin_group = conf->daemon.admin_group;
	opts.command_timeout_ms = conf->daemon.command_timeout_ms;

	r = manager_new(&m, &opts);
	if (r < 0) {
		fprintf(stderr, "failoverd: start-up failed: %s\n", strerror(-r));
		return 1;
	}
	r = config_new(&config, root, manager_get_log(m));
	if (r < 0) {
		fprintf(stderr, "failoverd: start-up failed: %s\n", strerror(-r));
		return 1;
	}
	r = config_start(config, m, conf);
	if (r < 0)
		return 1;
	conf = NULL; /* kept as the last good configuration for reloads */
	r = service_new(&service, m, config);
	if (r < 0) {
		fprintf(stderr, "failoverd: start-up failed: %s\n", strerror(-r));
		return 1;
	}
	{
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/run/failoverd", root ? root : "");
		r = conf_watch_new(&watch, manager_get_event_base(m), dir,
				   on_runtime_config_changed, service);
		if (r < 0 && r != -ENOENT)
			log_warning(manager_get_log(m), "cannot watch %s for changes: %s", dir,
				    strerror(-r));
	}
	/* Before manager_start(): transitions during reconciliation are signalled too. */
	if (bus_address) {
		BusOptions bo = {
			.address = bus_address,
			.admin_group = admin_group,
			.service = service,
		};

		r = bus_new(&bus, m, &bo);
		if (r < 0)
			return 1; /* logged */
	}
	/* READY=1 once every running QEMU is reconciled, not before. */
	manager_set_started_hook(m, on_started, service);
	r = manager_start(m);
	if (r < 0) {
		fprintf(stderr, "failoverd: start-up failed: %s\n", strerror(-r));
		return 1;
	}
	r = manager_run(m);
	service_stopping(service);
	return r < 0 ? 1 : 0;
}
