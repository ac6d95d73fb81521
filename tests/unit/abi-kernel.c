// SPDX-License-Identifier: MIT
/* The kernel's view of the ABI, when its uapi header is installed. */
#include "abi.h"

#if __has_include(<linux/ublk_cmd.h>)
#include <errno.h>
#include <linux/ioctl.h>
#include <linux/ublk_cmd.h>
/* the newest of the fields we check: older headers cannot be compared */
#ifdef UBLK_F_IO_DESC_SIZE
const int abi_kernel_available = 1;
const struct abi_item abi_kernel[] = { ABI_ITEMS(ABI_ITEM){ NULL, 0 } };
#endif
#endif

#ifndef UBLK_F_IO_DESC_SIZE
const int abi_kernel_available;
const struct abi_item abi_kernel[] = { { NULL, 0 } };
#endif
