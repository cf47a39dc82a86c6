/* Real-kernel tier helpers; see kernel.h. */

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sriov/sriov.h"
#include "tests/lib/kernel.h"

const NlVfConfig test_igb_settings = {
	.set = NL_VF_BIT(NL_VF_VLAN) | NL_VF_BIT(NL_VF_SPOOFCHK) | NL_VF_BIT(NL_VF_TRUST) |
	       NL_VF_BIT(NL_VF_MAX_TX_RATE),
	.vlan = 10,
	.qos = 3,
	.spoofchk = false,
	.trust = true,
	.max_tx_rate = 100,
};

void test_igb_find(TestIgb *igb)
{
	struct dirent *de;
	DIR *d = opendir("/sys/class/net");

	ck_assert_ptr_nonnull(d);
	memset(igb, 0, sizeof(*igb));
	while ((de = readdir(d))) {
		SriovPf pf;

		if (de->d_name[0] == '.')
			continue;
		if (sriov_pf_find(NULL, de->d_name, &pf, NULL) == 0 &&
		    strcmp(pf.driver, "igb") == 0 && pf.total_vfs >= 7) {
			snprintf(igb->ifname, sizeof(igb->ifname), "%s", pf.ifname);
			snprintf(igb->bdf, sizeof(igb->bdf), "%s", pf.bdf);
			break;
		}
	}
	closedir(d);
	ck_assert_msg(igb->ifname[0], "no igb PF with 7 VFs: not inside the SR-IOV test guest?");
}

bool test_igb_carrier(const char *dev)
{
	char path[128], buf[8] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", dev);
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return buf[0] == '1';
}

void test_igb_up(const TestIgb *igb)
{
	char cmd[128];
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	snprintf(cmd, sizeof(cmd), "/sbin/ip link set dev %s up", igb->ifname);
	ck_assert_int_eq(system(cmd), 0);
	for (int i = 0; i < 200; i++) {
		if (test_igb_carrier(igb->ifname))
			return;
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("%s: no carrier after 20 s", igb->ifname);
}

void test_igb_set_vfs(const TestIgb *igb, unsigned n, bool autoprobe)
{
	SriovError err = { "" };
	SriovPf pf;

	ck_assert_msg(sriov_pf_find(NULL, igb->bdf, &pf, &err) == 0, "%s", err.message);
	/* a different autoprobe only matters for VFs created afterwards */
	if (pf.num_vfs == n && n > 0) {
		SriovVf vf;

		ck_assert_int_eq(sriov_vf_find(NULL, &pf, 0, &vf, &err), 0);
		if ((vf.driver[0] != 0) != autoprobe)
			ck_assert_msg(sriov_pf_set_num_vfs(NULL, &pf, 0, autoprobe, &err) == 0,
				      "%s", err.message);
	}
	ck_assert_msg(sriov_pf_set_num_vfs(NULL, &pf, n, autoprobe, &err) == 0, "%s", err.message);
}

int test_run(const char *cmd, char *out, size_t size)
{
	char full[1024];
	size_t len = 0;
	FILE *p;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	p = popen(full, "r");
	ck_assert_ptr_nonnull(p);
	out[0] = 0;
	while (len + 1 < size) {
		size_t n = fread(out + len, 1, size - 1 - len, p);

		if (n == 0)
			break;
		len += n;
	}
	out[len] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

bool test_fdb_shows(const char *dev, const char *mac, const char *words)
{
	char cmd[256], out[4096];

	snprintf(cmd, sizeof(cmd), "bridge fdb show dev %s | grep -i '^%s ' | grep '%s'", dev, mac,
		 words);
	return test_run(cmd, out, sizeof(out)) == 0;
}

void test_ip_vf_line(const TestIgb *igb, unsigned vf, char *buf, size_t size)
{
	char cmd[128], out[8192], prefix[16], *line, *save = NULL;

	snprintf(cmd, sizeof(cmd), "/sbin/ip -d link show dev %s", igb->ifname);
	ck_assert_int_eq(test_run(cmd, out, sizeof(out)), 0);
	snprintf(prefix, sizeof(prefix), "vf %u ", vf);
	buf[0] = 0;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ')
			line++;
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			snprintf(buf, size, "%s", line);
			return;
		}
	}
}

void test_vf_snapshot(const TestIgb *igb, unsigned vf, TestVfSnapshot *s)
{
	SriovError se = { "" };
	NlVfError ne = { .message = "" };
	NlVfSocket *nl = NULL;
	SriovPf pf;
	SriovVf v;

	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(sriov_pf_find(NULL, igb->bdf, &pf, &se), 0);
	ck_assert_msg(sriov_vf_find(NULL, &pf, vf, &v, &se) == 0, "%s", se.message);
	snprintf(s->bdf, sizeof(s->bdf), "%s", v.bdf);
	snprintf(s->driver, sizeof(s->driver), "%s", v.driver);
	snprintf(s->driver_override, sizeof(s->driver_override), "%s", v.driver_override);
	if (v.ifname[0]) {
		char path[128];
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/net/%s/address", v.ifname);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		ck_assert_ptr_nonnull(fgets(s->netdev_mac, sizeof(s->netdev_mac), f));
		fclose(f);
	}
	ck_assert_int_eq(nl_vf_socket_new(&nl), 0);
	ck_assert_msg(nl_vf_get(nl, igb->ifname, vf, &s->config, &ne) == 0, "%s", ne.message);
	nl_vf_socket_free(nl);
	test_ip_vf_line(igb, vf, s->ip, sizeof(s->ip));
}

bool test_vf_restored(const TestIgb *igb, unsigned vf, const TestVfSnapshot *before, char *why,
		      size_t size)
{
	static const uint8_t zero[6];
	TestVfSnapshot now;

	test_vf_snapshot(igb, vf, &now);
	if (strcmp(now.driver, before->driver) != 0) {
		snprintf(why, size, "VF %u: driver '%s', was '%s'", vf, now.driver, before->driver);
		return false;
	}
	if (strcmp(now.driver_override, before->driver_override) != 0) {
		snprintf(why, size, "VF %u: driver_override '%s', was '%s'", vf,
			 now.driver_override, before->driver_override);
		return false;
	}
	if (now.config.set != before->config.set) {
		snprintf(why, size, "VF %u: reported settings 0x%x, were 0x%x", vf, now.config.set,
			 before->config.set);
		return false;
	}
	if (memcmp(before->config.mac, zero, 6) == 0 && memcmp(now.config.mac, zero, 6) != 0) {
		char mac[18], *p = strstr(now.ip, "link/ether ");

		nl_vf_config_format(&now.config, NL_VF_MAC, mac, sizeof(mac));
		if (!now.netdev_mac[0] || strncmp(mac, now.netdev_mac, 17) != 0 || !p) {
			snprintf(why, size,
				 "VF %u: MAC %s is neither the saved 00:00:00:00:00:00 nor its "
				 "driver's own (%s)",
				 vf, mac, now.netdev_mac);
			return false;
		}
		memset(now.config.mac, 0, 6);
		memcpy(p + strlen("link/ether "), "00:00:00:00:00:00", 17);
	}
	if (strcmp(now.ip, before->ip) != 0) {
		snprintf(why, size, "VF %u: ip shows '%s', was '%s'", vf, now.ip, before->ip);
		return false;
	}
	for (int i = 0; i < _NL_VF_SETTING_MAX; i++)
		if ((before->config.set & NL_VF_BIT(i)) &&
		    !nl_vf_config_equal(&now.config, &before->config, i)) {
			snprintf(why, size, "VF %u: %s not restored", vf,
				 nl_vf_setting_to_string(i));
			return false;
		}
	return true;
}

void test_vf_assert_restored(const TestIgb *igb, unsigned vf, const TestVfSnapshot *before)
{
	char why[1200] = "";

	ck_assert_msg(test_vf_restored(igb, vf, before, why, sizeof(why)), "%s", why);
}
