// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * test_abi.c - the packed words of bpf/pg_abi.h: each encoder against its
 * decoders at the edges of every field, so that a field that spills into
 * its neighbour shows (the live word's stride once took the bypass bit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pg_abi.h"

#define STRIDE_MAX ((1u << PG_LIVE_STRIDE_BITS) - 1)

static void test_hull(void **state)
{
	assert_int_equal(pg_hull_lo(pg_hull(1, 1023)), 1);
	assert_int_equal(pg_hull_hi(pg_hull(1, 1023)), 1023);
	assert_int_equal(pg_hull_lo(pg_hull(65535, 65535)), 65535);
	assert_int_equal(pg_hull_hi(pg_hull(0, 65535)), 65535);
	/* 0 means nothing protected: no port >= 1 is inside it */
	assert_int_equal(pg_hull_hi(0), 0);
	/* one 32-bit store: the layout userspace and BPF agree on */
	assert_int_equal(pg_hull(80, 443), 80u | 443u << 16);
}

static void check_live(__u64 gen, __u32 slot, __u32 stride, __u32 bypass)
{
	__u64 l = pg_live(gen, slot, stride, bypass);

	assert_int_equal(pg_live_gen(l), (__u32)gen);
	assert_int_equal(pg_live_slot(l), slot & 1);
	assert_int_equal(pg_live_stride(l), stride);
	assert_int_equal(pg_live_bypass(l), !!bypass);
}

static void test_live(void **state)
{
	check_live(1, 0, PG_CNT_RULE0, 0);
	check_live(0xffffffffu, 1, STRIDE_MAX, 1);
	check_live(0x1ffffffffULL, 1, 9, 4); /* gen keeps its low 32 bits */
	check_live(7, 3, 0, 0);		     /* slot keeps its low bit */
	/* the bypass bit must not reach the stride (counters past the end) */
	assert_int_equal(pg_live_stride(pg_live(5, 1, 1000, 1)), 1000);
	assert_int_equal(pg_live_bypass(pg_live(5, 1, STRIDE_MAX, 0)), 0);
}

static void test_audit(void **state)
{
	__u32 a = pg_audit(1024, 1, 0);

	assert_int_equal(pg_audit_lo(a), 1024);
	assert_int_equal(pg_audit_caps(a), 1);
	assert_int_equal(pg_audit_native(a), 0);
	/* the sysctl's whole range, and flags that do not reach the threshold */
	a = pg_audit(65535, 5, 7);
	assert_int_equal(pg_audit_lo(a), 65535);
	assert_int_equal(pg_audit_caps(a), 1);
	assert_int_equal(pg_audit_native(a), 1);
	assert_int_equal(pg_audit_lo(pg_audit(0, 1, 1)), 0);
	assert_int_equal(pg_audit_caps(pg_audit(65535, 0, 1)), 0);
	/* a pg_ctl of an older build has 0 there: threshold 0, nothing read */
	assert_int_equal(pg_audit_lo(0) | pg_audit_caps(0) | pg_audit_native(0), 0);
}

static void test_chain(void **state)
{
	__u64 ce = pg_chain_ent(PG_CHAIN_LONG, 0x100000002ULL);

	assert_int_equal(pg_chain_node(ce), PG_CHAIN_LONG);
	assert_int_equal(pg_chain_gen(ce), 2);
	assert_int_equal(pg_chain_node(pg_chain_ent(0, 0xffffffffu)), 0);
	assert_int_equal(pg_chain_gen(pg_chain_ent(0, 0xffffffffu)), 0xffffffffu);
}

static void test_dc(void **state)
{
	__u64 dc = pg_dc(0xffffffffu, 65535, PG_P_OTHER, PG_V_UNPROTECTED);

	assert_int_equal(pg_dc_verdict(dc), PG_V_UNPROTECTED);
	assert_true(pg_dc_key(dc) == pg_dc_key(pg_dc(0xffffffffu, 65535, PG_P_OTHER, 0)));
	/* every part of the key tells entries apart, the verdict does not */
	assert_true(pg_dc_key(dc) != pg_dc_key(pg_dc(0xfffffffeu, 65535, PG_P_OTHER, 0)));
	assert_true(pg_dc_key(dc) != pg_dc_key(pg_dc(0xffffffffu, 65534, PG_P_OTHER, 0)));
	assert_true(pg_dc_key(dc) != pg_dc_key(pg_dc(0xffffffffu, 65535, PG_P_UDP, 0)));
	assert_int_equal(pg_dc_verdict(pg_dc(3, 80, PG_P_TCP, PG_V_GRANT)), PG_V_GRANT);
	assert_true(pg_dc(1ULL << 32, 80, PG_P_TCP, 0) == pg_dc(0, 80, PG_P_TCP, 0));
}

static void test_dcr(void **state)
{
	__u32 last = PG_DCR_NONE - 1; /* the largest index that is not "no rule" */
	__u32 r = pg_dcr(0x12345, last);

	assert_int_equal(pg_dcr_rule(r), last);
	assert_true(pg_dcr_gen_is(r, 0x12345));
	assert_false(pg_dcr_gen_is(r, 0x12346));
	/* 14 bits of the generation: one 2^14 apart compare equal */
	assert_true(pg_dcr_gen_is(r, 0x12345 + (1u << 14)));
	assert_int_equal(pg_dcr_rule(pg_dcr(1, PG_DCR_NONE)), PG_DCR_NONE);
	assert_true(pg_dcr_gen_is(pg_dcr(0xffffffffu, 0), 0xffffffffu));
}

static void test_evm(void **state)
{
	__u32 m = pg_evm(0, PG_EVM_DENY) | pg_evm(3, PG_EVM_GRANT | PG_EVM_MKDIR);
	int s;

	assert_true(pg_evm_has(m, 0, PG_EVM_DENY));
	assert_false(pg_evm_has(m, 0, PG_EVM_GRANT));
	assert_true(pg_evm_has(m, 3, PG_EVM_MKDIR));
	for (s = 1; s < 3; s++)
		assert_false(pg_evm_has(m, s, PG_EVM_DENY | PG_EVM_GRANT | PG_EVM_MKDIR));
	assert_true(pg_evm_any(m, PG_EVM_GRANT));
	assert_false(pg_evm_any(pg_evm(2, PG_EVM_DENY), PG_EVM_MKDIR));
	/* clearing one subscriber leaves the others */
	m &= ~pg_evm(3, PG_EVM_ALL);
	assert_int_equal(m, pg_evm(0, PG_EVM_DENY));
	assert_int_equal(pg_evm(PG_EV_SLOTS - 1, PG_EVM_ALL), 0xff000000u);
}

static void test_tname(void **state)
{
	__u32 n = pg_tname(0xffffff, PG_NAME_MAX - 1);

	assert_int_equal(pg_tname_len(n), PG_NAME_MAX - 1);
	assert_int_equal(pg_tname_gran(n), 0xffffff);
	assert_int_equal(pg_tname_len(pg_tname(5, 1)), 1);
	assert_int_equal(pg_tname_gran(pg_tname(5, 1)), 5);
}

static void test_key(void **state)
{
	__u64 k = pg_key(0xffffffffu, PG_P_OTHER, 65535);

	assert_true(k == (0xffffffffULL << 32 | (__u64)PG_P_OTHER << 16 | 65535));
	/* four consecutive ports share a bucket step */
	assert_int_equal(pg_key_port_step(pg_key(9, PG_P_TCP, 80)),
			 pg_key_port_step(pg_key(9, PG_P_TCP, 83)));
	assert_int_equal(pg_key_port_step(pg_key(9, PG_P_TCP, 84)), 21);
	assert_int_equal(pg_key_port_step(k), 65535 >> 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hull),  cmocka_unit_test(test_live),
		cmocka_unit_test(test_audit), cmocka_unit_test(test_chain),
		cmocka_unit_test(test_dc),    cmocka_unit_test(test_dcr),
		cmocka_unit_test(test_evm),   cmocka_unit_test(test_tname),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
