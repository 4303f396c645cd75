/* SPDX-License-Identifier: Apache-2.0 */
/* version.c - the version and git hash the banner prints (build/efi/gen/version.h). */
#include "kernel.h"
#include "version.h"

const char ringloop_version[] = RINGLOOP_VERSION;
const char ringloop_git_hash[] = RINGLOOP_GIT_HASH;
