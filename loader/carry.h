/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * carry.h - counts carried from one policy image to the next, so that the
 * counters portgate exports only grow while its maps stay pinned.
 *
 * Each image has a counters map of its own (swap.c), zero when it is made:
 * one row per possible CPU, which the bind programs add to, then one more
 * row, the carry row, which only an applier writes (under the pin
 * directory's lock) and which readers sum with the others. It holds what
 * the images before counted:
 *  - each verdict's own count (binds no rule decided), whole;
 *  - a rule's count, on the first rule of the new image with the same id
 *    (prom.h: a hash of what the rule says, not of where it stands);
 *  - the count of a rule the new image no longer has, on its action's
 *    verdict (grant or deny-rule): its series ends, but
 *    portgate_binds_total keeps every bind it decided.
 */
#ifndef PORTGATE_CARRY_H
#define PORTGATE_CARRY_H

#include <stdint.h>

#include "pg_abi.h"

/*
 * The carry row of the image neu (nneu blocks; row has its cnt_stride
 * entries) from old (nold blocks), whose counters summed over all rows are
 * sum (its cnt_stride entries). 0 or -ENOMEM.
 */
int pg_carry_row(const union pg_block *old, uint32_t nold, const uint64_t *sum,
		 const union pg_block *neu, uint32_t nneu, uint64_t *row);

#endif
