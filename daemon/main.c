/* failoverd: SR-IOV failover pairs for QEMU, with live migration. */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/manager.h"

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
	       "     --root=DIR          Read configuration below DIR instead of /\n");
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
		{},
	};
	ManagerOptions opts = { .log_level = LOG_INFO };
	__attribute__((cleanup(manager_freep))) Manager *m = NULL;
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
			opts.config_root = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "failoverd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}

	r = manager_new(&m, &opts);
	if (r < 0) {
		fprintf(stderr, "failoverd: start-up failed: %s\n", strerror(-r));
		return 1;
	}
	r = manager_start(m);
	if (r < 0) {
		fprintf(stderr, "failoverd: start-up failed: %s\n", strerror(-r));
		return 1;
	}
	r = manager_run(m);
	return r < 0 ? 1 : 0;
}
