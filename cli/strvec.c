// SPDX-License-Identifier: MIT
/* Growable NULL-terminated string vectors: argument lists built at run time. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void strvec_init(struct strvec *sv)
{
	memset(sv, 0, sizeof(*sv));
}

void strvec_free(struct strvec *sv)
{
	int i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	strvec_init(sv);
}

/* Takes ownership of @s (freed on failure too). */
static int strvec_push_owned(struct strvec *sv, char *s)
{
	char **v;

	if (!s)
		return -ENOMEM;
	if (sv->n + 2 > sv->cap) {
		int cap = sv->cap ? 2 * sv->cap : 16;

		v = realloc(sv->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			return -ENOMEM;
		}
		sv->v = v;
		sv->cap = cap;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

int strvec_push(struct strvec *sv, const char *s)
{
	return strvec_push_owned(sv, strdup(s));
}

int strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return -ENOMEM;
	return strvec_push_owned(sv, s);
}
