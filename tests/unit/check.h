/* SPDX-License-Identifier: MIT */
/*
 * The unit tests' one assertion: report the failed condition and go on, so
 * that one run shows every failure; main() returns failures != 0.
 */
#ifndef UBLK_TEST_CHECK_H
#define UBLK_TEST_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                        \
		}                                                                          \
	} while (0)

#endif
