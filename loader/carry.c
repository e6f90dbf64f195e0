// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* carry.c - the carry row of a new image's counters (carry.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "carry.h"
#include "meta.h"

static bool audited(const struct pg_rule_rec *r)
{
	return r->rflags & PG_RF_AUDIT;
}

/* The verdict counter of the new image that counts what rule r counted. */
static uint32_t rule_verdict_cnt(const struct pg_rule_rec *r, const struct pg_hdr *nh)
{
	if (audited(r))
		return r->act == PG_ACT_ALLOW ? pg_cnt_carried_wa(nh->nrules) : PG_V_WOULD_DENY;
	return r->act == PG_ACT_ALLOW ? PG_V_GRANT : PG_V_DENY_RULE;
}

int pg_carry_row(const union pg_block *old, uint32_t nold, const uint64_t *sum,
		 const union pg_block *neu, uint32_t nneu, uint64_t *row)
{
	const struct pg_hdr *oh = &old[0].hdr, *nh = &neu[0].hdr;
	pg_rule_id_t *oids = NULL, *nids = NULL;
	struct pg_rule_key *nkeys = NULL;
	int64_t j;
	struct pg_meta om = { 0 }, nm = { 0 };
	bool have_old, have_new;
	uint32_t i, k, to;
	int err = 0;

	memset(row, 0, (size_t)nh->cnt_stride * sizeof(*row));
	for (k = 0; k < PG_V_COUNTED && k < oh->cnt_stride && k < nh->cnt_stride; k++)
		row[k] = sum[k];
	if (pg_cnt_carried_wa(oh->nrules) < oh->cnt_stride)
		row[pg_cnt_carried_wa(nh->nrules)] += sum[pg_cnt_carried_wa(oh->nrules)];
	have_old = !pg_meta_parse(old, nold, &om);
	have_new = !pg_meta_parse(neu, nneu, &nm);
	if ((have_old && !(oids = pg_meta_rule_ids(&om))) ||
	    (have_new &&
	     (!(nids = pg_meta_rule_ids(&nm)) || !(nkeys = pg_rule_keys(nids, nm.nrules))))) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0;
	     i < oh->nrules && PG_CNT_RULE0 + i < oh->cnt_stride && PG_RULE_OFF + i / 4 < nold;
	     i++) {
		j = oids && nkeys && i < om.nrules ? pg_rule_key_find(nkeys, nm.nrules, oids[i])
						   : -1;
		to = j >= 0 ? PG_CNT_RULE0 + (uint32_t)j : 0;
		/* a rule moved between audit and enforce: its counts mean another verdict */
		if (to && PG_RULE_OFF + (uint32_t)j / 4 < nneu &&
		    audited(&neu[PG_RULE_OFF + j / 4].rule[j % 4]) !=
			audited(&old[PG_RULE_OFF + i / 4].rule[i % 4]))
			to = 0;
		if (!to || to >= nh->cnt_stride)
			to = rule_verdict_cnt(&old[PG_RULE_OFF + i / 4].rule[i % 4], nh);
		row[to] += sum[PG_CNT_RULE0 + i];
	}
out:
	free(oids);
	free(nids);
	free(nkeys);
	if (have_old)
		pg_meta_free(&om);
	if (have_new)
		pg_meta_free(&nm);
	return err;
}
