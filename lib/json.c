// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---- writer ---- */

void json_writer_init(struct json_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void json_writer_free(struct json_writer *w)
{
	free(w->buf);
	json_writer_init(w);
}

#define LEVEL(d) (1ULL << (d))

/* Records -EINVAL if bad; true if the writer is (now) in error. */
static bool failed(struct json_writer *w, bool bad)
{
	if (bad && !w->err)
		w->err = -EINVAL;
	return w->err;
}

/* Keeps buf NUL-terminated so finish() never has to grow it. */
static void put(struct json_writer *w, const char *s, size_t n)
{
	size_t cap = w->cap ? w->cap : 256;
	char *buf;

	if (w->err)
		return;
	if (n > SIZE_MAX / 2 - w->len)
		goto nomem;
	while (cap < w->len + n + 1)
		cap *= 2;
	if (cap != w->cap) {
		buf = realloc(w->buf, cap);
		if (!buf)
			goto nomem;
		w->buf = buf;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
	return;
nomem:
	w->err = -ENOMEM;
}

static void put_str(struct json_writer *w, const char *s)
{
	/* (byte, letter) pairs; a match at an odd offset is a plain letter */
	static const char esc[] = "\"\"\\\\\bb\ff\nn\rr\tt";
	const char *e;
	char u[16];

	put(w, "\"", 1);
	for (; *s; s++) {
		e = strchr(esc, *s);
		if (e && (e - esc) % 2 == 0)
			put(w, u, snprintf(u, sizeof(u), "\\%c", e[1]));
		else if ((unsigned char)*s < 0x20)
			put(w, u, snprintf(u, sizeof(u), "\\u%04x", *s));
		else
			put(w, s, 1);
	}
	put(w, "\"", 1);
}

/* Emits the separator and key, enforcing the key/no-key rules. */
static void begin_value(struct json_writer *w, const char *key)
{
	bool in_obj = w->depth && !(w->array & LEVEL(w->depth));

	/* One top-level value; keys exactly inside objects. */
	if (failed(w, (!w->depth && (w->comma & 1)) || in_obj != !!key))
		return;
	if (w->comma & LEVEL(w->depth))
		put(w, ",", 1);
	w->comma |= LEVEL(w->depth);
	if (key) {
		put_str(w, key);
		put(w, ":", 1);
	}
}

static void open_container(struct json_writer *w, const char *key, bool array)
{
	begin_value(w, key);
	if (failed(w, w->depth >= JSON_MAX_DEPTH))
		return;
	w->depth++;
	w->comma &= ~LEVEL(w->depth);
	w->array &= ~LEVEL(w->depth);
	w->array |= array ? LEVEL(w->depth) : 0;
	put(w, array ? "[" : "{", 1);
}

static void close_container(struct json_writer *w, bool array)
{
	if (failed(w, !w->depth || !(w->array & LEVEL(w->depth)) != !array))
		return;
	w->depth--;
	put(w, array ? "]" : "}", 1);
}

void json_obj_begin(struct json_writer *w, const char *key)
{
	open_container(w, key, false);
}

void json_obj_end(struct json_writer *w)
{
	close_container(w, false);
}

void json_arr_begin(struct json_writer *w, const char *key)
{
	open_container(w, key, true);
}

void json_arr_end(struct json_writer *w)
{
	close_container(w, true);
}

void json_str(struct json_writer *w, const char *key, const char *val)
{
	begin_value(w, key);
	if (val)
		put_str(w, val);
	else
		put(w, "null", 4);
}

void json_int(struct json_writer *w, const char *key, long long val)
{
	char tmp[32];

	begin_value(w, key);
	put(w, tmp, snprintf(tmp, sizeof(tmp), "%lld", val));
}

void json_uint(struct json_writer *w, const char *key, unsigned long long val)
{
	char tmp[32];

	begin_value(w, key);
	put(w, tmp, snprintf(tmp, sizeof(tmp), "%llu", val));
}

void json_bool(struct json_writer *w, const char *key, bool val)
{
	begin_value(w, key);
	put(w, val ? "true" : "false", val ? 4 : 5);
}

void json_raw(struct json_writer *w, const char *key, const char *raw)
{
	/* Never let a bad splice turn our output into invalid JSON. */
	if (failed(w, !raw || json_validate(raw)))
		return;
	begin_value(w, key);
	put(w, raw, strlen(raw));
}

const char *json_writer_finish(struct json_writer *w)
{
	return failed(w, w->depth || !(w->comma & 1)) ? NULL : w->buf;
}

/* ---- reader ---- */

/*
 * Every step looks at the current byte before advancing, and the NUL
 * terminator matches no token, so the scanner cannot run past the end.
 */
struct scan {
	const char *p;
	int depth;
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void skip_ws(struct scan *s)
{
	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
		s->p++;
}

static bool expect(struct scan *s, char c)
{
	skip_ws(s);
	if (*s->p != c)
		return false;
	s->p++;
	return true;
}

static int hex4(const unsigned char *p, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	/* |0x20 folds 'A'-'F' onto 'a'-'f' and nothing else onto them. */
	for (i = 0; i < 4; i++) {
		if (is_digit(p[i]))
			v = v << 4 | (p[i] - '0');
		else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')
			v = v << 4 | ((p[i] | 0x20) - 'a' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Keeps counting past the end so the caller learns the needed size. */
static void emit(char *out, size_t size, size_t *n, unsigned int c)
{
	if (*n + 1 < size)
		out[*n] = c;
	(*n)++;
}

static void emit_utf8(char *out, size_t size, size_t *n, unsigned int cp)
{
	static const unsigned char lead[] = { 0, 0xc0, 0xe0, 0xf0 };
	int extra = (cp >= 0x80) + (cp >= 0x800) + (cp >= 0x10000);

	emit(out, size, n, lead[extra] | cp >> (6 * extra));
	while (extra--)
		emit(out, size, n, 0x80 | (cp >> (6 * extra) & 0x3f));
}

/* Decodes \uXXXX at p (past the 'u'), joining surrogate pairs. */
static int parse_u(const unsigned char **pp, unsigned int *cp)
{
	const unsigned char *p = *pp;
	unsigned int lo;

	if (hex4(p, cp) || (*cp >= 0xdc00 && *cp <= 0xdfff))
		return -EINVAL;
	p += 4;
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		if (p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return -EINVAL;
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	*pp = p;
	return 0;
}

/*
 * Scans the string at s->p.  Writes as much as fits into out (always
 * NUL-terminated when size > 0) and the full decoded length into *len.
 */
static int parse_str(struct scan *s, char *out, size_t size, size_t *len)
{
	/* (escape letter, byte) pairs; only even offsets are letters */
	static const char esc[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	const unsigned char *p = (const unsigned char *)s->p + 1;
	const char *e;
	unsigned int c;
	size_t n = 0;

	while ((c = *p++) != '"') {
		if (c < 0x20)
			return -EINVAL;
		if (c != '\\') {
			emit(out, size, &n, c);
			continue;
		}
		c = *p++;
		if (c == 'u') {
			if (parse_u(&p, &c))
				return -EINVAL;
			emit_utf8(out, size, &n, c);
			continue;
		}
		e = c ? strchr(esc, c) : NULL;
		if (!e || (e - esc) % 2)
			return -EINVAL;
		emit(out, size, &n, (unsigned char)e[1]);
	}
	if (size)
		out[n < size ? n : size - 1] = '\0';
	if (len)
		*len = n;
	s->p = (const char *)p;
	return 0;
}

static const char *skip_digits(const char *p)
{
	while (is_digit(*p))
		p++;
	return p;
}

static int skip_num(struct scan *s)
{
	const char *p = s->p + (*s->p == '-');

	if (!is_digit(*p))
		return -EINVAL;
	/* No leading zeros: "01" stops after the 0 and fails later. */
	p = *p == '0' ? p + 1 : skip_digits(p);
	if (*p == '.') {
		if (!is_digit(*++p))
			return -EINVAL;
		p = skip_digits(p);
	}
	if (*p == 'e' || *p == 'E') {
		p += p[1] == '+' || p[1] == '-';
		if (!is_digit(*++p))
			return -EINVAL;
		p = skip_digits(p);
	}
	s->p = p;
	return 0;
}

static int skip_lit(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(s->p, lit, n))
		return -EINVAL;
	s->p += n;
	return 0;
}

#define KEY_MAX 256

static int skip_value(struct scan *s);

/*
 * Walks the object or array at s->p.  Stops with s->p at the value of
 * member key (objects, key != NULL) or element idx (arrays) and returns 0;
 * otherwise consumes the container and returns -ENOENT with *n = number of
 * members.  Recursion is bounded by JSON_MAX_DEPTH against hostile input.
 */
static int walk(struct scan *s, const char *key, size_t klen, unsigned long idx, unsigned long *n)
{
	char close = *s->p == '{' ? '}' : ']';
	char name[KEY_MAX];
	size_t len;

	*n = 0;
	if (++s->depth > JSON_MAX_DEPTH)
		return -EINVAL;
	s->p++;
	if (expect(s, close))
		goto out;
	do {
		skip_ws(s);
		if (close == '}' &&
		    (*s->p != '"' || parse_str(s, name, sizeof(name), &len) || !expect(s, ':')))
			return -EINVAL;
		skip_ws(s);
		/* len == klen < KEY_MAX implies name was not truncated */
		if (close == ']' ? *n == idx : key && len == klen && !memcmp(name, key, klen))
			return 0;
		if (skip_value(s))
			return -EINVAL;
		(*n)++;
	} while (expect(s, ','));
	if (!expect(s, close))
		return -EINVAL;
out:
	s->depth--;
	return -ENOENT;
}

static int skip_value(struct scan *s)
{
	unsigned long n;

	skip_ws(s);
	switch (*s->p) {
	case '{':
	case '[':
		return walk(s, NULL, 0, ULONG_MAX, &n) == -ENOENT ? 0 : -EINVAL;
	case '"':
		return parse_str(s, NULL, 0, NULL);
	case 't':
		return skip_lit(s, "true");
	case 'f':
		return skip_lit(s, "false");
	case 'n':
		return skip_lit(s, "null");
	default:
		return skip_num(s);
	}
}

int json_validate(const char *json)
{
	struct scan s = { .p = json };

	if (!json || skip_value(&s))
		return -EINVAL;
	skip_ws(&s);
	return *s.p ? -EINVAL : 0;
}

static int parse_index(const char **pathp, unsigned long *idx)
{
	char *end;

	/* strtoul() alone would accept spaces and signs. */
	if (!is_digit((*pathp)[1]))
		return -EINVAL;
	errno = 0;
	*idx = strtoul(*pathp + 1, &end, 10);
	if (errno || *end != ']')
		return -EINVAL;
	*pathp = end + 1;
	return 0;
}

/*
 * Validates the whole text first so a truncated file is rejected even if
 * the requested value precedes the damage.  Leaves s->p at the value.
 */
static int lookup(struct scan *s, const char *json, const char *path)
{
	unsigned long idx, n;
	bool first = true;
	size_t klen;
	int ret;

	if (!path || json_validate(json))
		return -EINVAL;
	s->p = json;
	s->depth = 0;
	skip_ws(s);
	for (; *path; first = false) {
		if (*path == '[') {
			if (parse_index(&path, &idx) || *s->p != '[')
				return -EINVAL;
			ret = walk(s, NULL, 0, idx, &n);
		} else {
			/* Only the first key may omit its leading dot. */
			if (!first && *path++ != '.')
				return -EINVAL;
			klen = strcspn(path, ".[");
			if (!klen || klen >= KEY_MAX || *s->p != '{')
				return -EINVAL;
			ret = walk(s, path, klen, 0, &n);
			path += klen;
		}
		if (ret)
			return ret;
	}
	return 0;
}

/* json_str() writes a NULL val as null, so typed getters see it as missing. */
static int lookup_typed(struct scan *s, const char *json, const char *path)
{
	int ret = lookup(s, json, path);

	return !ret && *s->p == 'n' ? -ENOENT : ret;
}

static int get_num(const char *json, const char *path, bool *neg, unsigned long long *mag)
{
	struct scan s;
	char *end;
	int ret;

	ret = lookup_typed(&s, json, path);
	if (ret)
		return ret;
	*neg = *s.p == '-';
	s.p += *neg;
	/* Validated grammar: strtoull() sees only digits, never a sign. */
	if (!is_digit(*s.p))
		return -EINVAL;
	errno = 0;
	*mag = strtoull(s.p, &end, 10);
	if (errno || *end == '.' || *end == 'e' || *end == 'E')
		return -EINVAL;
	return 0;
}

int json_get_int(const char *json, const char *path, long long *out)
{
	unsigned long long mag;
	bool neg;
	int ret;

	ret = get_num(json, path, &neg, &mag);
	if (ret)
		return ret;
	if (mag > (unsigned long long)LLONG_MAX + neg)
		return -EINVAL;
	/* Negate in unsigned space: -(long long)mag overflows for LLONG_MIN. */
	*out = neg ? (long long)(0 - mag) : (long long)mag;
	return 0;
}

int json_get_uint(const char *json, const char *path, unsigned long long *out)
{
	unsigned long long mag;
	bool neg;
	int ret;

	ret = get_num(json, path, &neg, &mag);
	if (ret)
		return ret;
	if (neg)
		return -EINVAL;
	*out = mag;
	return 0;
}

int json_get_bool(const char *json, const char *path, bool *out)
{
	struct scan s;
	int ret;

	ret = lookup_typed(&s, json, path);
	if (ret)
		return ret;
	if (*s.p != 't' && *s.p != 'f')
		return -EINVAL;
	*out = *s.p == 't';
	return 0;
}

int json_get_str(const char *json, const char *path, char *out, size_t size)
{
	struct scan s;
	size_t n;
	int ret;

	ret = lookup_typed(&s, json, path);
	if (ret)
		return ret;
	if (*s.p != '"' || parse_str(&s, out, size, &n))
		return -EINVAL;
	if (n >= size)
		return -ENAMETOOLONG;
	/* An embedded \u0000 would silently truncate a path or name. */
	return memchr(out, '\0', n) ? -EINVAL : 0;
}

int json_get_raw(const char *json, const char *path, const char **start, size_t *len)
{
	struct scan s;
	int ret;

	ret = lookup(&s, json, path);
	if (ret)
		return ret;
	*start = s.p;
	if (skip_value(&s))
		return -EINVAL;
	*len = s.p - *start;
	return 0;
}

int json_array_len(const char *json, const char *path)
{
	unsigned long n;
	struct scan s;
	int ret;

	ret = lookup_typed(&s, json, path);
	if (ret)
		return ret;
	if (*s.p != '[')
		return -EINVAL;
	if (walk(&s, NULL, 0, ULONG_MAX, &n) != -ENOENT)
		return -EINVAL;
	return n > INT_MAX ? -EOVERFLOW : (int)n;
}
