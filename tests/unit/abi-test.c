// SPDX-License-Identifier: MIT
/*
 * Our copy of the ublk ABI must match the kernel's, bit for bit: compare
 * every size, offset and constant with <linux/ublk_cmd.h> (Linux >= 7.0
 * headers), and check the layout facts the code relies on in any case.
 */
#include <stdio.h>
#include <string.h>

#include "ublk_cmd.h"
#include "abi.h"

const struct abi_item abi_ours[] = { ABI_ITEMS(ABI_ITEM){ NULL, 0 } };

/* facts from the kernel's documentation, independent of any header */
_Static_assert(sizeof(struct ublksrv_ctrl_cmd) == 32, "ctrl cmd fits SQE128 cmd");
_Static_assert(sizeof(struct ublksrv_io_cmd) == 16, "io cmd fits a 64-byte SQE");
_Static_assert(sizeof(struct ublksrv_io_desc) == 24, "io desc");
_Static_assert(sizeof(struct ublksrv_ctrl_dev_info) == 64, "dev info");
_Static_assert(UBLK_U_IO_FETCH_REQ == 0xc0107520, "ioctl encoding of FETCH_REQ");

int main(void)
{
	int i, bad = 0;

	if (!abi_kernel_available) {
		printf("SKIP: no Linux >= 7.0 <linux/ublk_cmd.h> to compare with\n");
		return 77;
	}
	for (i = 0; abi_ours[i].name; i++) {
		if (strcmp(abi_ours[i].name, abi_kernel[i].name) ||
		    abi_ours[i].value != abi_kernel[i].value) {
			printf("FAIL %s: ours 0x%llx, kernel 0x%llx\n", abi_ours[i].name,
			       abi_ours[i].value, abi_kernel[i].value);
			bad++;
		}
	}
	printf("%d ABI items compared, %d mismatched\n", i, bad);
	return bad ? 1 : 0;
}
