/* Shared helpers for the Check unit tests. */
#ifndef TDEI_TESTS_TESTUTIL_H
#define TDEI_TESTS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Checked fixture pair: setup records tdei_alloc_live(), teardown fails the
 * test if any block allocated through tdei_malloc is still live. Add with
 * tcase_add_checked_fixture(tc, testutil_leak_setup,
 * testutil_leak_teardown). */
void testutil_leak_setup(void);
void testutil_leak_teardown(void);

/* Path of @name under tests/vectors/ in the source tree (TDEI_SRCDIR), in a
 * static buffer valid until the next call. */
const char *testutil_vector_path(const char *name);

/* Create a fresh private temporary directory and return its path (static
 * buffer until the next call); removed by testutil_rmtree. */
const char *testutil_tmpdir(void);

/* Remove @path and everything under it. */
void testutil_rmtree(const char *path);

/* Decode @hex (asserting it is valid) into @out of @cap bytes; returns the
 * number of bytes. */
size_t testutil_unhex(uint8_t *out, size_t cap, const char *hex);

/* Run @suite (initialising crypto first) and return the process exit
 * status: 0 when every test passed. */
int testutil_run(Suite *suite);

#endif
