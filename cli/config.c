// SPDX-License-Identifier: MIT
/*
 * Device configuration files (/etc/ublk/NAME.ini): one device in section
 * [device], translated into the equivalent `ublk add` options so that the
 * command line, the config file and `ublk recover` share one parser.
 *
 * iniparser reads the values (quotes, inline comments) but reports neither
 * unknown keys nor line numbers, so the file is also scanned line by line
 * here: every error names the file, the line, the section and the key.
 * ublk runs as root and the file may come from anywhere: every value is
 * checked before it becomes an option.
 */
#include <ctype.h>
#include <errno.h>
#include <iniparser.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"
#include "targets.h"

#define CONFIG_SECTION "device"
#define CONFIG_MAX_LINE 4096

enum key_type {
	KEY_TARGET,
	KEY_UINT,
	KEY_SIZE,
	KEY_BOOL,
	KEY_WORD,
};

struct config_key {
	const char *name;
	enum key_type type;
	const char *opt; /* the `ublk add` long option */
	unsigned long long min, max; /* KEY_UINT, KEY_SIZE */
	const char *const *words; /* KEY_WORD: allowed values, NULL-ended */
	/* KEY_WORD: the option for each word (NULL: none); default opt=WORD */
	const char *const *word_opts;
};

static const char *const data_modes[] = { "copy", "user_copy", "zero_copy", NULL };
static const char *const data_mode_opts[] = { NULL, "--user_copy", "--zero_copy" };
static const char *const recovery_words[] = { "off", "requeue", "reissue", "fail-io", NULL };
static const char *const bpf_words[] = { "off", "on", "auto", "iouring", "seed", NULL };

static const struct config_key config_keys[] = {
	{ .name = "target", .type = KEY_TARGET, .opt = "--type" },
	{ .name = "id", .type = KEY_UINT, .opt = "--number", .max = (1 << 20) - 1 },
	{ .name = "queues", .type = KEY_UINT, .opt = "--queues", .min = 1, .max = UBLK_MAX_QUEUES },
	{ .name = "depth",
	  .type = KEY_UINT,
	  .opt = "--depth",
	  .min = 1,
	  .max = UBLK_MAX_QUEUE_DEPTH },
	{ .name = "max_io_size",
	  .type = KEY_SIZE,
	  .opt = "--max_io_size",
	  .min = 4096,
	  .max = 32U << 20 },
	{ .name = "data_mode", .type = KEY_WORD, .words = data_modes, .word_opts = data_mode_opts },
	{ .name = "recovery", .type = KEY_WORD, .opt = "--recovery", .words = recovery_words },
	{ .name = "bpf", .type = KEY_WORD, .opt = "--bpf", .words = bpf_words },
	{ .name = "unprivileged", .type = KEY_BOOL, .opt = "--unprivileged" },
};

#define NR_KEYS (int)(sizeof(config_keys) / sizeof(config_keys[0]))
#define MAX_TGT_KEYS 64

/*
 * What the line scan learnt: where each key is, where [device] starts.
 * Keys 0..NR_KEYS-1 are config_keys[], the others the targets' options
 * (ublk_tgt_ops.opts), each name once: tkeys[k - NR_KEYS].
 */
struct config_scan {
	const char *path;
	int section_line;
	int key_line[NR_KEYS + MAX_TGT_KEYS];
	const struct ublk_tgt_opt *tkeys[MAX_TGT_KEYS];
	int nr_tkeys;
	const struct ublk_tgt_ops *tgt; /* once target= is converted */
	char *err;
	size_t err_len;
};

static const char *key_name(const struct config_scan *cs, int k)
{
	return k < NR_KEYS ? config_keys[k].name : cs->tkeys[k - NR_KEYS]->name;
}

static void collect_tgt_keys(struct config_scan *cs)
{
	const struct ublk_tgt_opt *o;
	int i, k;

	for (i = 0; ublk_tgt_list[i]; i++) {
		for (o = ublk_tgt_list[i]->opts; o && o->name; o++) {
			for (k = 0; k < cs->nr_tkeys; k++)
				if (!strcmp(cs->tkeys[k]->name, o->name))
					break;
			if (k == cs->nr_tkeys && k < MAX_TGT_KEYS)
				cs->tkeys[cs->nr_tkeys++] = o;
		}
	}
}

static int scan_err(struct config_scan *cs, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int scan_err(struct config_scan *cs, int line, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	n = line ? snprintf(cs->err, cs->err_len, "%s:%d: ", cs->path, line) :
		   snprintf(cs->err, cs->err_len, "%s: ", cs->path);
	if (n >= cs->err_len)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(cs->err + n, cs->err_len - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int find_key(const struct config_scan *cs, const char *name)
{
	int i;

	for (i = 0; i < NR_KEYS + cs->nr_tkeys; i++)
		if (!strcasecmp(key_name(cs, i), name))
			return i;
	return -1;
}

static int scan_section(struct config_scan *cs, char *s, int line)
{
	char *end = strchr(s, ']');

	if (!end || trim(end + 1)[0])
		return scan_err(cs, line, "malformed section header '%s'", s);
	*end = '\0';
	s = trim(s + 1);
	if (strcasecmp(s, CONFIG_SECTION))
		return scan_err(cs, line, "unknown section [%s] (the only section is [%s])", s,
				CONFIG_SECTION);
	if (cs->section_line)
		return scan_err(cs, line, "section [%s] given twice (first on line %d)",
				CONFIG_SECTION, cs->section_line);
	cs->section_line = line;
	return 0;
}

static void list_keys(const struct config_scan *cs, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < NR_KEYS + cs->nr_tkeys && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? ", " : "", key_name(cs, i));
}

static int scan_key(struct config_scan *cs, char *s, int line)
{
	char *eq = strchr(s, '='), known[256];
	int k;

	if (!eq)
		return scan_err(cs, line, "expected 'key = value' or '[section]', got '%s'", s);
	*eq = '\0';
	s = trim(s);
	if (!*s)
		return scan_err(cs, line, "a value without a key");
	if (!cs->section_line)
		return scan_err(cs, line, "key '%s' outside a section (put it under [%s])", s,
				CONFIG_SECTION);
	k = find_key(cs, s);
	if (k < 0) {
		list_keys(cs, known, sizeof(known));
		return scan_err(cs, line, "[%s] %s: unknown key (known keys: %s)", CONFIG_SECTION,
				s, known);
	}
	if (cs->key_line[k])
		return scan_err(cs, line, "[%s] %s: given twice (first on line %d)", CONFIG_SECTION,
				key_name(cs, k), cs->key_line[k]);
	cs->key_line[k] = line;
	return 0;
}

static int scan_line(struct config_scan *cs, char *buf, int line)
{
	char *s = trim(buf);

	if (!*s || *s == ';' || *s == '#')
		return 0;
	if (s[strlen(s) - 1] == '\\')
		return scan_err(cs, line, "continued lines (ending in '\\') are not supported");
	if (*s == '[')
		return scan_section(cs, s, line);
	return scan_key(cs, s, line);
}

static int scan_file(struct config_scan *cs)
{
	size_t cap = 0;
	char *buf = NULL;
	int line = 0, ret = 0;
	ssize_t n;
	FILE *f;

	f = fopen(cs->path, "re");
	if (!f)
		return scan_err(cs, 0, "cannot open: %s", strerror(errno));
	while (!ret && (n = getline(&buf, &cap, f)) >= 0) {
		line++;
		if (n > CONFIG_MAX_LINE)
			ret = scan_err(cs, line, "line longer than %d bytes", CONFIG_MAX_LINE);
		else if (memchr(buf, '\0', n))
			ret = scan_err(cs, line, "NUL byte in the line");
		else {
			buf[strcspn(buf, "\r\n")] = '\0';
			ret = scan_line(cs, buf, line);
		}
	}
	if (!ret && ferror(f))
		ret = scan_err(cs, 0, "read error");
	free(buf);
	fclose(f);
	if (!ret && !cs->section_line)
		ret = scan_err(cs, 0, "no [%s] section", CONFIG_SECTION);
	return ret;
}

/* ---- values --------------------------------------------------------- */

static int key_err(struct config_scan *cs, int k, const char *val, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int key_err(struct config_scan *cs, int k, const char *val, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return scan_err(cs, cs->key_line[k], "[%s] %s = '%s': %s", CONFIG_SECTION, key_name(cs, k),
			val, why);
}

static int parse_bool_word(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int conv_target(struct config_scan *cs, int k, const char *val, struct strvec *args)
{
	char known[128];
	size_t n = 0;
	int i;

	cs->tgt = ublk_find_tgt(val);
	if (!cs->tgt) {
		known[0] = '\0';
		for (i = 0; ublk_tgt_list[i] && n < sizeof(known); i++)
			n += snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "",
				      ublk_tgt_list[i]->name);
		return key_err(cs, k, val, "unknown target (known: %s)", known);
	}
	return strvec_pushf(args, "%s=%s", config_keys[k].opt, val);
}

static int check_path(struct config_scan *cs, int k, const char *val)
{
	struct stat st;

	/* a service has no meaningful working directory */
	if (val[0] != '/')
		return key_err(cs, k, val, "must be an absolute path");
	if (stat(val, &st) < 0)
		return key_err(cs, k, val, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return key_err(cs, k, val, "not a regular file or block device");
	return 0;
}

static int conv_number(struct config_scan *cs, int k, const char *val, struct strvec *args)
{
	const struct config_key *key = &config_keys[k];
	unsigned long long v;
	int ret;

	if (key->type == KEY_SIZE)
		ret = ublk_parse_size(val, &v);
	else
		ret = ublk_parse_uint(val, ~0ULL, &v);
	if (ret)
		return key_err(cs, k, val, "not a %s",
			       key->type == KEY_SIZE ? "size (bytes, K/M/G/T suffix)" : "number");
	if (v < key->min || v > key->max)
		return key_err(cs, k, val, "must be %llu to %llu", key->min, key->max);
	if (key->type == KEY_SIZE && v % key->min)
		return key_err(cs, k, val, "must be a multiple of %llu", key->min);
	return strvec_pushf(args, "%s=%llu", key->opt, v);
}

static int conv_bool(struct config_scan *cs, int k, const char *val, struct strvec *args)
{
	bool b;

	if (parse_bool_word(val, &b))
		return key_err(cs, k, val, "not a boolean (yes/no, true/false, on/off, 1/0)");
	return b ? strvec_push(args, config_keys[k].opt) : 0;
}

static int conv_word(struct config_scan *cs, int k, const char *val, struct strvec *args)
{
	const struct config_key *key = &config_keys[k];
	char allowed[128];
	size_t n = 0;
	int i;

	for (i = 0; key->words[i]; i++) {
		if (strcmp(val, key->words[i]))
			continue;
		if (key->word_opts)
			return key->word_opts[i] ? strvec_push(args, key->word_opts[i]) : 0;
		return strvec_pushf(args, "%s=%s", key->opt, val);
	}
	allowed[0] = '\0';
	for (i = 0; key->words[i] && n < sizeof(allowed); i++)
		n += snprintf(allowed + n, sizeof(allowed) - n, "%s%s", i ? ", " : "",
			      key->words[i]);
	return key_err(cs, k, val, "must be one of %s", allowed);
}

static int conv_key(struct config_scan *cs, int k, const char *val, struct strvec *args)
{
	switch (config_keys[k].type) {
	case KEY_TARGET:
		return conv_target(cs, k, val, args);
	case KEY_UINT:
	case KEY_SIZE:
		return conv_number(cs, k, val, args);
	case KEY_BOOL:
		return conv_bool(cs, k, val, args);
	case KEY_WORD:
		return conv_word(cs, k, val, args);
	}
	return -EINVAL;
}

static const struct ublk_tgt_opt *tgt_opt(const struct ublk_tgt_ops *tgt, const char *name)
{
	const struct ublk_tgt_opt *o;

	for (o = tgt->opts; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

static void tgt_users(const char *name, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; ublk_tgt_list[i] && n < len; i++)
		if (tgt_opt(ublk_tgt_list[i], name))
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
				      ublk_tgt_list[i]->name);
}

/* Keys of other targets are refused; required keys of this one must be there. */
static int check_target_keys(struct config_scan *cs)
{
	const struct ublk_tgt_opt *o;
	char users[128];
	int k;

	for (k = NR_KEYS; k < NR_KEYS + cs->nr_tkeys; k++) {
		if (!cs->key_line[k] || tgt_opt(cs->tgt, key_name(cs, k)))
			continue;
		tgt_users(key_name(cs, k), users, sizeof(users));
		return scan_err(cs, cs->key_line[k],
				"[%s] %s: not used by the %s target (only by %s)", CONFIG_SECTION,
				key_name(cs, k), cs->tgt->name, users);
	}
	for (o = cs->tgt->opts; o && o->name; o++)
		if ((o->flags & UBLK_TGT_OPT_REQUIRED) && !cs->key_line[find_key(cs, o->name)])
			return scan_err(
				cs, cs->section_line,
				"[%s]: missing required key '%s' (required by the %s target)",
				CONFIG_SECTION, o->name, cs->tgt->name);
	return 0;
}

/* A target's key: checked by the target's own parser, passed on as its option. */
static int conv_tgt_key(struct config_scan *cs, int k, const char *val, struct strvec *args)
{
	const struct ublk_tgt_opt *o = tgt_opt(cs->tgt, key_name(cs, k));
	char why[256] = "";
	void *scratch;
	bool b;
	int ret;

	if (!o->has_arg) {
		if (parse_bool_word(val, &b))
			return key_err(cs, k, val,
				       "not a boolean (yes/no, true/false, on/off, 1/0)");
		return b ? strvec_pushf(args, "--%s", o->name) : 0;
	}
	if (o->flags & UBLK_TGT_OPT_PATH) {
		ret = check_path(cs, k, val);
		if (ret)
			return ret;
	}
	scratch = calloc(1, cs->tgt->opts_size ?: 1);
	if (!scratch)
		return -ENOMEM;
	ret = o->parse(scratch, val, why, sizeof(why));
	free(scratch);
	if (ret)
		return key_err(cs, k, val, "%s", why[0] ? why : strerror(-ret));
	return strvec_pushf(args, "--%s=%s", o->name, val);
}

/* iniparser prints syntax errors on stderr; our own scan reports them. */
static int ini_quiet(const char *fmt, ...)
{
	(void)fmt;
	return 0;
}

static const char *key_value(struct config_scan *cs, dictionary *d, int k)
{
	char entry[128];
	const char *val;

	snprintf(entry, sizeof(entry), "%s:%s", CONFIG_SECTION, key_name(cs, k));
	val = iniparser_getstring(d, entry, NULL);
	if (!val || !*val) {
		scan_err(cs, cs->key_line[k], "[%s] %s: empty value", CONFIG_SECTION,
			 key_name(cs, k));
		return NULL;
	}
	return val;
}

/* The target's keys right after target=, as `ublk add -t TYPE` would have them. */
static int convert_tgt_keys(struct config_scan *cs, dictionary *d, struct config *cfg)
{
	const char *val;
	int k, ret = check_target_keys(cs);

	for (k = NR_KEYS; !ret && k < NR_KEYS + cs->nr_tkeys; k++) {
		if (!cs->key_line[k])
			continue;
		val = key_value(cs, d, k);
		ret = val ? conv_tgt_key(cs, k, val, &cfg->args) : -EINVAL;
	}
	return ret;
}

static int convert(struct config_scan *cs, dictionary *d, struct config *cfg)
{
	const char *val;
	int k, ret;

	for (k = 0; k < NR_KEYS; k++) {
		if (!cs->key_line[k])
			continue;
		val = key_value(cs, d, k);
		if (!val)
			return -EINVAL;
		ret = conv_key(cs, k, val, &cfg->args);
		if (ret)
			return ret;
		if (!strcmp(config_keys[k].name, "id")) {
			unsigned long long id = 0;

			ublk_parse_uint(val, (1 << 20) - 1, &id); /* checked by conv_key */
			cfg->dev_id = id;
		}
		if (config_keys[k].type == KEY_TARGET)
			ret = convert_tgt_keys(cs, d, cfg);
		if (ret)
			return ret;
	}
	return 0;
}

int config_load(const char *path, struct config *cfg, char *err, size_t err_len)
{
	struct config_scan cs = { .path = path, .err = err, .err_len = err_len };
	dictionary *d;
	int ret;

	strvec_init(&cfg->args);
	cfg->dev_id = -1;
	collect_tgt_keys(&cs);
	ret = scan_file(&cs);
	if (ret)
		return ret;
	if (!cs.key_line[find_key(&cs, "target")])
		return scan_err(&cs, cs.section_line, "[%s]: missing required key 'target'",
				CONFIG_SECTION);

	iniparser_set_error_callback(ini_quiet);
	d = iniparser_load(path);
	if (!d)
		return scan_err(&cs, 0, "iniparser cannot parse the file");
	ret = convert(&cs, d, cfg);
	iniparser_freedict(d);
	if (ret)
		config_free(cfg);
	return ret;
}

void config_free(struct config *cfg)
{
	strvec_free(&cfg->args);
}
