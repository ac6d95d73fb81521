// SPDX-License-Identifier: MIT
#include <string.h>

#include "targets.h"

const struct ublk_tgt_ops *const ublk_tgt_list[] = {
	&null_tgt_ops,
	&loop_tgt_ops,
	&qcow2_tgt_ops,
	NULL,
};

const struct ublk_tgt_ops *ublk_find_tgt(const char *name)
{
	int i;

	for (i = 0; name && ublk_tgt_list[i]; i++)
		if (!strcmp(ublk_tgt_list[i]->name, name))
			return ublk_tgt_list[i];
	return NULL;
}
