/* SPDX-License-Identifier: MIT */
/*
 * Minimal JSON writer and path-lookup reader for the state files under
 * /run/ublksrvd and for `ublk list --json`.
 *
 * The reader validates the whole text on every call, so a truncated or
 * corrupted file is rejected as a whole instead of yielding partial data.
 */
#ifndef UBLK_JSON_H
#define UBLK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maximum container nesting, for both writer and reader. */
#define JSON_MAX_DEPTH 32

struct json_writer {
	char *buf;
	size_t len, cap;
	int depth;
	int err; /* first error, negative errno, sticky */
	uint64_t comma; /* bit d: level d holds a value */
	uint64_t array; /* bit d: level d is an array */
};

void json_writer_init(struct json_writer *w);
void json_writer_free(struct json_writer *w);

/* key must be NULL at top level and inside arrays, non-NULL in objects. */
void json_obj_begin(struct json_writer *w, const char *key);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w, const char *key);
void json_arr_end(struct json_writer *w);
void json_str(struct json_writer *w, const char *key, const char *val);
void json_int(struct json_writer *w, const char *key, long long val);
void json_uint(struct json_writer *w, const char *key, unsigned long long val);
void json_bool(struct json_writer *w, const char *key, bool val);
void json_raw(struct json_writer *w, const char *key, const char *raw);

/*
 * Returns the NUL-terminated text (owned by @w, valid until
 * json_writer_free()) or NULL if any error occurred; w->err then holds it.
 */
const char *json_writer_finish(struct json_writer *w);

/*
 * Path: dot-separated keys with optional [index] suffixes, e.g.
 * "target.file", "queues[1].tid", "[0]"; "" is the root value.
 * Keys in paths are 1..255 bytes; duplicate keys: the first one wins.
 * Every call validates the whole text first (-EINVAL if malformed).  All
 * getters except json_get_raw() report a JSON null as missing (-ENOENT).
 */
int json_get_int(const char *json, const char *path, long long *out);
int json_get_uint(const char *json, const char *path, unsigned long long *out);
int json_get_bool(const char *json, const char *path, bool *out);
int json_get_str(const char *json, const char *path, char *out, size_t size);
int json_get_raw(const char *json, const char *path, const char **start, size_t *len);
int json_array_len(const char *json, const char *path);
int json_validate(const char *json);

#endif
