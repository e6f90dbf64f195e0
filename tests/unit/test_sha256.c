// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/* test_sha256.c - pg_sha256_* against the FIPS 180-2 / NIST example vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

static void hex(const uint8_t d[32], char out[65])
{
	int i;

	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check(const void *data, size_t len, size_t chunk, const char *want)
{
	struct pg_sha256 c;
	uint8_t d[32];
	char got[65];
	size_t off;

	pg_sha256_init(&c);
	for (off = 0; off < len; off += chunk)
		pg_sha256_update(&c, (const char *)data + off,
				 len - off < chunk ? len - off : chunk);
	pg_sha256_final(&c, d);
	hex(d, got);
	assert_string_equal(got, want);
}

static void test_empty(void **state)
{
	check("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_abc(void **state)
{
	check("abc", 3, 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void test_448_bits(void **state)
{
	assert_int_equal(strlen(msg448) * 8, 448);
	check(msg448, strlen(msg448), strlen(msg448),
	      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* The same message fed in every chunk size: the buffering must not matter. */
static void test_448_bits_chunked(void **state)
{
	size_t chunk;

	for (chunk = 1; chunk <= 65; chunk++)
		check(msg448, strlen(msg448), chunk,
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_896_bits(void **state)
{
	static const char m[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
				"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

	check(m, strlen(m), 7, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
	static char a[1000];

	memset(a, 'a', sizeof(a));
	{
		struct pg_sha256 c;
		uint8_t d[32];
		char got[65];
		int i;

		pg_sha256_init(&c);
		for (i = 0; i < 1000; i++)
			pg_sha256_update(&c, a, sizeof(a));
		pg_sha256_final(&c, d);
		hex(d, got);
		assert_string_equal(
		    got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	}
}

/* 55, 56 and 64 bytes: the padding boundaries. */
static void test_padding_boundaries(void **state)
{
	static char a[64];

	memset(a, 'a', sizeof(a));
	check(a, 55, 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	check(a, 56, 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	check(a, 64, 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_abc),
		cmocka_unit_test(test_448_bits),
		cmocka_unit_test(test_448_bits_chunked),
		cmocka_unit_test(test_896_bits),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_padding_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
