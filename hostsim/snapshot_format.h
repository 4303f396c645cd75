/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_format.h - the section sizes and flag bits of the snapshot
 * format (documented in snapshot.h), shared by the writer (snapshot.c) and
 * the validating reader (snapshot_restore.c). Private to hostsim/.
 *
 * Invariants: each value here is the one snapshot.h documents; the writer
 * emits only these bits and the reader refuses any other, so changing one
 * is a format change (see "Versions" in snapshot.h).
 */
#ifndef RINGLOOP_SNAPSHOT_FORMAT_H
#define RINGLOOP_SNAPSHOT_FORMAT_H

#define TRNS_BYTES 24
#define DEVC_BYTES 32
#define QUEU_BYTES 40

#define DEVC_F_ACTIVATED 1u
#define DEVC_F_NEEDS_RESET 2u
#define QUEU_F_LIVE 1u
#define QUEU_F_EVENT_IDX 2u
#define QUEU_F_INDIRECT 4u
#define QUEU_F_BROKEN 8u
#define HDR_F_CONTENT 1u

#endif
