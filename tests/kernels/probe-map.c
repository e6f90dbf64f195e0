/* probe-map: whether the running kernel can create BPF maps of the given
 * types, by libbpf's own probe (which supplies the BTF that local-storage
 * maps need). Used by smoke.sh where bpftool is older than the map type:
 * Debian 12's bpftool 7.1 does not probe cgrp_storage (Linux 6.2).
 *
 * usage: probe-map NAME=NUMBER...   e.g. probe-map cgrp_storage=32
 * prints "map_type NAME is available" or "... is NOT available"; exit 0
 * unless a probe itself fails (not for an absent map type).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	int i, rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: probe-map NAME=NUMBER...\n");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		char *end;
		long type;
		int r;

		if (!eq || !eq[1]) {
			fprintf(stderr, "probe-map: bad argument '%s'\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		type = strtol(eq + 1, &end, 10);
		if (*end || type <= 0) {
			fprintf(stderr, "probe-map: bad map type number '%s'\n", eq + 1);
			return 2;
		}
		r = libbpf_probe_bpf_map_type((enum bpf_map_type)type, NULL);
		if (r == 1)
			printf("map_type %s (%ld) is available\n", argv[i], type);
		else if (r == 0)
			printf("map_type %s (%ld) is NOT available\n", argv[i], type);
		else {
			printf("map_type %s (%ld): probe failed: %s\n", argv[i], type,
			       strerror(-r));
			rc = 1;
		}
	}
	return rc;
}
