# SPDX-License-Identifier: Apache-2.0
# Issue 6, persistence: the snapshot codec (format, save, validating
# restore) and its CRC-32C (portable core: built into the image and into
# the hosted build). snapshot.c writes, snapshot_restore.c reads.
CORE_SRCS += hostsim/snapshot.c hostsim/snapshot_restore.c hostsim/snapshot_packed.c
