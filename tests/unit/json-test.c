// SPDX-License-Identifier: MIT
/* Unit test for lib/json.c: writer/reader round trips and hostile input. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "check.h"

/* Exact-size heap copy so the sanitizer catches any read past the NUL. */
static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p) {
		perror("malloc");
		exit(2);
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Runs every getter over text; only the absence of crashes matters. */
static void poke(const char *text)
{
	unsigned long long u;
	const char *start;
	char buf[64];
	long long i;
	size_t len;
	bool b;

	json_validate(text);
	json_get_int(text, "a", &i);
	json_get_uint(text, "a.b[1]", &u);
	json_get_bool(text, "[0]", &b);
	json_get_str(text, "s", buf, sizeof(buf));
	json_get_raw(text, "", &start, &len);
	json_array_len(text, "");
}

static void test_roundtrip(void)
{
	struct json_writer w;
	unsigned long long u;
	const char *t;
	char buf[64];
	long long i;
	bool b;

	json_writer_init(&w);
	json_obj_begin(&w, NULL);
	json_int(&w, "dev_id", 3);
	json_int(&w, "neg", -42);
	json_int(&w, "min", LLONG_MIN);
	json_int(&w, "max", LLONG_MAX);
	json_uint(&w, "umax", ULLONG_MAX);
	json_bool(&w, "t", true);
	json_bool(&w, "f", false);
	json_str(&w, "name", "ublkb0");
	json_str(&w, "nil", NULL);
	json_obj_begin(&w, "target");
	json_str(&w, "file", "/var/img");
	json_obj_begin(&w, "inner");
	json_uint(&w, "x", 7);
	json_obj_end(&w);
	json_obj_end(&w);
	json_arr_begin(&w, "queues");
	json_obj_begin(&w, NULL);
	json_int(&w, "tid", 100);
	json_obj_end(&w);
	json_obj_begin(&w, NULL);
	json_int(&w, "tid", 101);
	json_obj_end(&w);
	json_arr_end(&w);
	json_arr_begin(&w, "m");
	json_arr_begin(&w, NULL);
	json_arr_end(&w);
	json_arr_begin(&w, NULL);
	json_int(&w, NULL, 1);
	json_int(&w, NULL, 2);
	json_int(&w, NULL, 3);
	json_arr_end(&w);
	json_arr_end(&w);
	json_obj_begin(&w, "empty");
	json_obj_end(&w);
	json_obj_end(&w);
	t = json_writer_finish(&w);
	CHECK(t != NULL);
	if (!t) {
		json_writer_free(&w);
		return;
	}
	CHECK(!strcmp(t, "{\"dev_id\":3,\"neg\":-42,"
			 "\"min\":-9223372036854775808,"
			 "\"max\":9223372036854775807,"
			 "\"umax\":18446744073709551615,"
			 "\"t\":true,\"f\":false,\"name\":\"ublkb0\",\"nil\":null,"
			 "\"target\":{\"file\":\"/var/img\",\"inner\":{\"x\":7}},"
			 "\"queues\":[{\"tid\":100},{\"tid\":101}],"
			 "\"m\":[[],[1,2,3]],\"empty\":{}}"));
	CHECK(json_validate(t) == 0);

	CHECK(json_get_int(t, "dev_id", &i) == 0 && i == 3);
	CHECK(json_get_int(t, "neg", &i) == 0 && i == -42);
	CHECK(json_get_int(t, "min", &i) == 0 && i == LLONG_MIN);
	CHECK(json_get_int(t, "max", &i) == 0 && i == LLONG_MAX);
	CHECK(json_get_uint(t, "umax", &u) == 0 && u == ULLONG_MAX);
	CHECK(json_get_uint(t, "dev_id", &u) == 0 && u == 3);
	CHECK(json_get_bool(t, "t", &b) == 0 && b);
	CHECK(json_get_bool(t, "f", &b) == 0 && !b);
	CHECK(json_get_str(t, "name", buf, sizeof(buf)) == 0 && !strcmp(buf, "ublkb0"));
	CHECK(json_get_str(t, "target.file", buf, sizeof(buf)) == 0 && !strcmp(buf, "/var/img"));
	CHECK(json_get_uint(t, "target.inner.x", &u) == 0 && u == 7);
	CHECK(json_get_int(t, "queues[0].tid", &i) == 0 && i == 100);
	CHECK(json_get_int(t, "queues[1].tid", &i) == 0 && i == 101);
	CHECK(json_get_int(t, "m[1][2]", &i) == 0 && i == 3);
	CHECK(json_array_len(t, "queues") == 2);
	CHECK(json_array_len(t, "m") == 2);
	CHECK(json_array_len(t, "m[0]") == 0);
	CHECK(json_array_len(t, "m[1]") == 3);

	/* null reads as missing for typed getters, but raw still sees it */
	CHECK(json_get_str(t, "nil", buf, sizeof(buf)) == -ENOENT);
	CHECK(json_get_int(t, "nil", &i) == -ENOENT);

	/* missing */
	CHECK(json_get_int(t, "nope", &i) == -ENOENT);
	CHECK(json_get_int(t, "target.nope", &i) == -ENOENT);
	CHECK(json_get_int(t, "queues[2].tid", &i) == -ENOENT);
	CHECK(json_get_int(t, "queues[0].nope", &i) == -ENOENT);
	CHECK(json_get_int(t, "m[0][0]", &i) == -ENOENT);
	CHECK(json_get_int(t, "empty.x", &i) == -ENOENT);
	CHECK(json_array_len(t, "nope") == -ENOENT);
	CHECK(json_get_int(t, "dev", &i) == -ENOENT); /* prefix of key */
	CHECK(json_get_int(t, "dev_id_x", &i) == -ENOENT);

	/* wrong types */
	CHECK(json_get_int(t, "name", &i) == -EINVAL);
	CHECK(json_get_int(t, "t", &i) == -EINVAL);
	CHECK(json_get_int(t, "target", &i) == -EINVAL);
	CHECK(json_get_str(t, "dev_id", buf, sizeof(buf)) == -EINVAL);
	CHECK(json_get_bool(t, "dev_id", &b) == -EINVAL);
	CHECK(json_get_bool(t, "name", &b) == -EINVAL);
	CHECK(json_get_uint(t, "neg", &u) == -EINVAL);
	CHECK(json_array_len(t, "target") == -EINVAL);
	CHECK(json_array_len(t, "dev_id") == -EINVAL);
	CHECK(json_get_int(t, "queues.tid", &i) == -EINVAL);
	CHECK(json_get_int(t, "target[0]", &i) == -EINVAL);
	CHECK(json_get_int(t, "dev_id.x", &i) == -EINVAL);

	/* bad paths */
	CHECK(json_get_int(t, NULL, &i) == -EINVAL);
	CHECK(json_get_int(t, ".dev_id", &i) == -EINVAL);
	CHECK(json_get_int(t, "target..file", &i) == -EINVAL);
	CHECK(json_get_int(t, "target.", &i) == -EINVAL);
	CHECK(json_get_int(t, "queues[", &i) == -EINVAL);
	CHECK(json_get_int(t, "queues[x]", &i) == -EINVAL);
	CHECK(json_get_int(t, "queues[-1]", &i) == -EINVAL);
	CHECK(json_get_int(t, "queues[ 1]", &i) == -EINVAL);
	CHECK(json_get_int(t, "queues[1", &i) == -EINVAL);
	CHECK(json_get_int(t, "queues[1]tid", &i) == -EINVAL);
	CHECK(json_get_int(t, "queues[99999999999999999999999]", &i) == -EINVAL);
	CHECK(json_array_len(t, "") == -EINVAL); /* root is an object */

	json_writer_free(&w);
}

static void test_top_level_array(void)
{
	struct json_writer w;
	const char *t;
	long long i;
	char buf[8];

	json_writer_init(&w);
	json_arr_begin(&w, NULL);
	json_str(&w, NULL, "a");
	json_obj_begin(&w, NULL);
	json_int(&w, "k", -1);
	json_obj_end(&w);
	json_arr_end(&w);
	t = json_writer_finish(&w);
	CHECK(t && !strcmp(t, "[\"a\",{\"k\":-1}]"));
	if (t) {
		CHECK(json_array_len(t, "") == 2);
		CHECK(json_get_str(t, "[0]", buf, sizeof(buf)) == 0 && !strcmp(buf, "a"));
		CHECK(json_get_int(t, "[1].k", &i) == 0 && i == -1);
		CHECK(json_get_int(t, "[2]", &i) == -ENOENT);
		CHECK(json_get_int(t, "k", &i) == -EINVAL);
	}
	json_writer_free(&w);

	/* scalars at top level, whitespace around the value */
	CHECK(json_get_int(" \t\r\n 17 \n", "", &i) == 0 && i == 17);
	CHECK(json_get_int(" { \"a\" : [ 1 , 2 ] } ", "a[1]", &i) == 0 && i == 2);
}

static void test_escaping(void)
{
	static const char nasty[] = "q\"b\\s/n\nt\tr\rb\bf\f\x01\x1f\x7f"
				    " caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80";
	struct json_writer w;
	char buf[128];
	const char *t;

	json_writer_init(&w);
	json_obj_begin(&w, NULL);
	json_str(&w, nasty, nasty); /* keys are escaped too */
	json_str(&w, "k", nasty);
	json_obj_end(&w);
	t = json_writer_finish(&w);
	CHECK(t != NULL);
	if (!t) {
		json_writer_free(&w);
		return;
	}
	CHECK(json_validate(t) == 0);
	CHECK(strstr(t, "\\u0001\\u001f") != NULL);
	CHECK(strstr(t, "q\\\"b\\\\s/n\\nt\\tr\\rb\\bf\\f") != NULL);
	CHECK(strstr(t, "caf\xc3\xa9") != NULL); /* UTF-8 passed through */
	CHECK(json_get_str(t, "k", buf, sizeof(buf)) == 0 && !strcmp(buf, nasty));
	/* exact fit and one short */
	CHECK(json_get_str(t, "k", buf, sizeof(nasty)) == 0 && !strcmp(buf, nasty));
	CHECK(json_get_str(t, "k", buf, sizeof(nasty) - 1) == -ENAMETOOLONG);
	CHECK(json_get_str(t, "k", buf, 0) == -ENAMETOOLONG);
	json_writer_free(&w);

	/* reader-side escapes the writer never produces */
	CHECK(json_get_str("\"\\/\\u0041\\u00e9\\u65E5\"", "", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "/A\xc3\xa9\xe6\x97\xa5"));
	CHECK(json_get_str("\"\\ud83d\\ude00\"", "", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "\xf0\x9f\x98\x80"));
	CHECK(json_get_str("\"\\ud83d\"", "", buf, sizeof(buf)) == -EINVAL);
	CHECK(json_get_str("\"\\ude00\"", "", buf, sizeof(buf)) == -EINVAL);
	CHECK(json_get_str("\"\\ud83d\\u0041\"", "", buf, sizeof(buf)) == -EINVAL);
	CHECK(json_get_str("\"a\\u0000b\"", "", buf, sizeof(buf)) == -EINVAL);
	CHECK(json_get_str("\"abc\"", "", buf, 3) == -ENAMETOOLONG);
	CHECK(!strcmp(buf, "ab")); /* truncated but terminated */
	CHECK(json_get_str("\"abc\"", "", buf, 4) == 0 && !strcmp(buf, "abc"));
	/* keys with escapes match their decoded form */
	CHECK(json_get_str("{\"a\\u0062\":\"x\"}", "ab", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "x"));
	/* duplicate keys: first one wins */
	CHECK(json_get_str("{\"a\":\"1\",\"a\":\"2\"}", "a", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, "1"));
}

static void test_numbers(void)
{
	unsigned long long u;
	char big[1100];
	long long i;

	CHECK(json_get_int("9223372036854775807", "", &i) == 0 && i == LLONG_MAX);
	CHECK(json_get_int("9223372036854775808", "", &i) == -EINVAL);
	CHECK(json_get_uint("9223372036854775808", "", &u) == 0 && u == 9223372036854775808ULL);
	CHECK(json_get_int("-9223372036854775808", "", &i) == 0 && i == LLONG_MIN);
	CHECK(json_get_int("-9223372036854775809", "", &i) == -EINVAL);
	CHECK(json_get_uint("18446744073709551615", "", &u) == 0 && u == ULLONG_MAX);
	CHECK(json_get_uint("18446744073709551616", "", &u) == -EINVAL);
	CHECK(json_get_int("-18446744073709551616", "", &i) == -EINVAL);
	CHECK(json_get_int("0", "", &i) == 0 && i == 0);
	CHECK(json_get_int("-0", "", &i) == 0 && i == 0);
	CHECK(json_get_uint("-1", "", &u) == -EINVAL);
	CHECK(json_get_int("1.5", "", &i) == -EINVAL);
	CHECK(json_get_int("1.0", "", &i) == -EINVAL);
	CHECK(json_get_int("1e3", "", &i) == -EINVAL);
	CHECK(json_get_uint("1E+3", "", &u) == -EINVAL);
	CHECK(json_get_int("[1e-3]", "[0]", &i) == -EINVAL);
	CHECK(json_validate("-0.5e+10") == 0);
	CHECK(json_validate("[0,-1,2.25,3E7,4e-2]") == 0);

	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK(json_validate(big) == 0);
	CHECK(json_get_int(big, "", &i) == -EINVAL);
	CHECK(json_get_uint(big, "", &u) == -EINVAL);
}

static void test_raw(void)
{
	static const char doc[] = "{\"a\":1, \"target\" : {\"file\":\"x\\\"}y\",\"n\":[1,{}]} ,"
				  "\"z\":true}";
	struct json_writer w;
	const char *start, *t;
	char buf[16], *sub;
	long long i;
	size_t len;

	CHECK(json_get_raw(doc, "target", &start, &len) == 0);
	sub = dup_n(start, len);
	CHECK(!strcmp(sub, "{\"file\":\"x\\\"}y\",\"n\":[1,{}]}"));
	CHECK(json_validate(sub) == 0);

	json_writer_init(&w);
	json_obj_begin(&w, NULL);
	json_raw(&w, "copy", sub);
	json_int(&w, "after", 5);
	json_obj_end(&w);
	t = json_writer_finish(&w);
	CHECK(t != NULL);
	if (t) {
		CHECK(json_get_str(t, "copy.file", buf, sizeof(buf)) == 0 && !strcmp(buf, "x\"}y"));
		CHECK(json_array_len(t, "copy.n") == 2);
		CHECK(json_get_int(t, "after", &i) == 0 && i == 5);
	}
	json_writer_free(&w);
	free(sub);

	CHECK(json_get_raw(doc, "z", &start, &len) == 0 && len == 4 && !strncmp(start, "true", 4));
	CHECK(json_get_raw(doc, "target.n[1]", &start, &len) == 0 && len == 2 &&
	      !strncmp(start, "{}", 2));
	CHECK(json_get_raw(doc, "nope", &start, &len) == -ENOENT);
	CHECK(json_get_raw("null", "", &start, &len) == 0 && len == 4);

	/* json_raw refuses to splice invalid text */
	json_writer_init(&w);
	json_arr_begin(&w, NULL);
	json_raw(&w, NULL, "{\"a\":");
	json_arr_end(&w);
	CHECK(json_writer_finish(&w) == NULL && w.err == -EINVAL);
	json_writer_free(&w);
}

static void test_writer_misuse(void)
{
	struct json_writer w;
	int d;

	json_writer_init(&w);
	CHECK(json_writer_finish(&w) == NULL); /* empty */
	json_writer_free(&w);

	json_writer_init(&w);
	json_int(&w, "k", 1); /* key at top */
	CHECK(json_writer_finish(&w) == NULL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_obj_begin(&w, NULL);
	json_int(&w, NULL, 1); /* no key in obj */
	json_obj_end(&w);
	CHECK(json_writer_finish(&w) == NULL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_arr_begin(&w, NULL);
	json_int(&w, "k", 1); /* key in array */
	json_arr_end(&w);
	CHECK(json_writer_finish(&w) == NULL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_obj_begin(&w, NULL); /* unbalanced */
	CHECK(json_writer_finish(&w) == NULL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_arr_begin(&w, NULL);
	json_obj_end(&w); /* wrong closer */
	json_arr_end(&w);
	CHECK(json_writer_finish(&w) == NULL && w.err == -EINVAL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_arr_end(&w); /* close at top */
	CHECK(json_writer_finish(&w) == NULL);
	json_writer_free(&w);

	json_writer_init(&w);
	json_int(&w, NULL, 1);
	json_int(&w, NULL, 2); /* two values */
	CHECK(json_writer_finish(&w) == NULL);
	json_writer_free(&w);

	/* exactly JSON_MAX_DEPTH levels work, one more fails */
	json_writer_init(&w);
	for (d = 0; d < JSON_MAX_DEPTH; d++)
		json_arr_begin(&w, NULL);
	for (d = 0; d < JSON_MAX_DEPTH; d++)
		json_arr_end(&w);
	CHECK(json_writer_finish(&w) != NULL);
	if (w.buf)
		CHECK(json_validate(w.buf) == 0);
	json_writer_free(&w);

	json_writer_init(&w);
	for (d = 0; d <= JSON_MAX_DEPTH; d++)
		json_obj_begin(&w, d ? "k" : NULL);
	for (d = 0; d <= JSON_MAX_DEPTH; d++)
		json_obj_end(&w);
	CHECK(json_writer_finish(&w) == NULL && w.err == -EINVAL);
	json_writer_free(&w);
}

static void test_large(void)
{
	struct json_writer w;
	const char *t;
	long long i;
	int n;

	json_writer_init(&w);
	json_arr_begin(&w, NULL);
	for (n = 0; n < 100000; n++)
		json_int(&w, NULL, n);
	json_arr_end(&w);
	t = json_writer_finish(&w);
	CHECK(t != NULL);
	if (t) {
		CHECK(json_array_len(t, "") == 100000);
		CHECK(json_get_int(t, "[99999]", &i) == 0 && i == 99999);
	}
	json_writer_free(&w);
}

/* Alternating {"a":[{"a":[... nested depth levels deep, then closed. */
static char *build_mixed(char *p, size_t depth)
{
	size_t i;

	for (i = 0; i < depth; i++)
		p += sprintf(p, i % 2 ? "[" : "{\"a\":");
	p += sprintf(p, "0");
	while (i--)
		*p++ = i % 2 ? ']' : '}';
	*p = '\0';
	return p;
}

static void test_nesting(void)
{
	char deep[2 * 100000 + 1], *p;
	size_t n;

	/* JSON_MAX_DEPTH levels are fine, one more is not */
	for (n = JSON_MAX_DEPTH; n <= JSON_MAX_DEPTH + 1; n++) {
		memset(deep, '[', n);
		memset(deep + n, ']', n);
		deep[2 * n] = '\0';
		p = dup_n(deep, 2 * n);
		CHECK((json_validate(p) == 0) == (n == JSON_MAX_DEPTH));
		free(p);
	}
	/* mixed objects and arrays count alike */
	for (n = JSON_MAX_DEPTH; n <= JSON_MAX_DEPTH + 1; n++) {
		p = build_mixed(deep, n);
		CHECK((json_validate(deep) == 0) == (n == JSON_MAX_DEPTH));
		CHECK(p[-1] == '}' || p[-1] == ']');
	}

	/* far past the limit, unterminated: must not recurse deeply */
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	CHECK(json_validate(deep) == -EINVAL);
	memset(deep, '{', sizeof(deep) - 1);
	CHECK(json_validate(deep) == -EINVAL);
	poke(deep);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"",
		" ",
		"{",
		"}",
		"[",
		"]",
		"[1,]",
		"[,1]",
		"{\"a\":}",
		"{\"a\" 1}",
		"{\"a\":1,}",
		"{,}",
		"{1:2}",
		"{a:1}",
		"[1 2]",
		"[1]]",
		"1 2",
		"01",
		"-01",
		"1.",
		".5",
		"-",
		"+1",
		"1e",
		"1e+",
		"0x10",
		"tru",
		"truex",
		"nul",
		"nulll",
		"True",
		"NaN",
		"Infinity",
		"\"abc",
		"\"\\x\"",
		"\"\\u12g4\"",
		"\"\\u12\"",
		"\"a\nb\"",
		"\"a\tb\"",
		"\"\\",
		"\"\\u",
		"\xff",
		"{\"a\":1}x",
		"[\"a\":1]",
		"{\"a\",1}",
		"\"\\ud800\"",
		"\"\\udc00\\ud800\"",
		"{\"a\":1}{",
		"[1,2",
		"'a'",
		"/* c */ 1",
	};
	unsigned long long u;
	const char *start;
	char buf[16], *p;
	size_t i, len;
	long long v;
	bool b;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = dup_n(bad[i], strlen(bad[i]));
		if (json_validate(p) != -EINVAL)
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
		CHECK(json_validate(p) == -EINVAL);
		CHECK(json_get_int(p, "", &v) == -EINVAL);
		CHECK(json_get_uint(p, "a", &u) == -EINVAL);
		CHECK(json_get_bool(p, "[0]", &b) == -EINVAL);
		CHECK(json_get_str(p, "a", buf, sizeof(buf)) == -EINVAL);
		CHECK(json_get_raw(p, "", &start, &len) == -EINVAL);
		CHECK(json_array_len(p, "") == -EINVAL);
		free(p);
	}
	CHECK(json_validate(NULL) == -EINVAL);
	CHECK(json_get_int(NULL, "a", &v) == -EINVAL);
}

/* Every proper prefix of a valid document must be rejected, not crash. */
static void test_truncation(void)
{
	static const char doc[] = " {\"dev_id\":12,\"state\":\"LIVE\",\"f\":-1.5e-3,\"ok\":true,"
				  "\"n\":null,\"s\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\","
				  "\"q\":[{\"tid\":1},{\"tid\":2}],\"e\":[],\"o\":{}} ";
	size_t n, len = strlen(doc);
	long long v;
	char *p;

	CHECK(json_validate(doc) == 0);
	CHECK(json_get_int(doc, "q[1].tid", &v) == 0 && v == 2);
	for (n = 0; n < len; n++) {
		p = dup_n(doc, n);
		/* trailing whitespace only is still the complete document */
		if (n < len - 1) {
			CHECK(json_validate(p) == -EINVAL);
			CHECK(json_get_int(p, "dev_id", &v) == -EINVAL);
		}
		poke(p);
		free(p);
	}
}

/* Cheap deterministic fuzz: mutations and random token soup. */
static void test_fuzz(void)
{
	static const char doc[] = "{\"a\":[1,-2.5e3,\"x\\u0041\\n\",true,false,null,{\"b\":{}}],"
				  "\"s\":\"str\"}";
	static const char alpha[] = "{}[]\":,\\u0123456789-+.eEtrufalsn \x01";
	unsigned int seed = 12345;
	char buf[sizeof(doc)], soup[64], *p;
	size_t i, j, n;

	for (i = 0; i < 200000; i++) {
		seed = seed * 1103515245 + 12345;
		memcpy(buf, doc, sizeof(doc));
		for (j = 0; j < 1 + (seed >> 28); j++) {
			seed = seed * 1103515245 + 12345;
			buf[(seed >> 8) % (sizeof(doc) - 1)] =
				alpha[(seed >> 20) % (sizeof(alpha) - 1)];
		}
		p = dup_n(buf, strlen(buf));
		poke(p);
		free(p);
	}
	for (i = 0; i < 100000; i++) {
		seed = seed * 1103515245 + 12345;
		n = (seed >> 16) % sizeof(soup);
		for (j = 0; j < n; j++) {
			seed = seed * 1103515245 + 12345;
			soup[j] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		p = dup_n(soup, n);
		poke(p);
		free(p);
	}
}

int main(void)
{
	test_roundtrip();
	test_top_level_array();
	test_escaping();
	test_numbers();
	test_raw();
	test_writer_misuse();
	test_large();
	test_nesting();
	test_malformed();
	test_truncation();
	test_fuzz();
	if (failures) {
		fprintf(stderr, "json-test: %d check(s) failed\n", failures);
		return 1;
	}
	printf("json-test: all checks passed\n");
	return 0;
}
