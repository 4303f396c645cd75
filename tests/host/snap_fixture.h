/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snap_fixture.h - helpers shared by the snapshot tests, the snapshot-tool
 * helper binary, snapbench and the restore fuzzer: walk a snapshot's
 * sections and recompute their CRCs after a deliberate edit (so a test can
 * reach the checks behind the CRCs), and find a section by tag.
 * They trust nothing: every length is bounds-checked, and a malformed
 * buffer just stops the walk.
 */
#ifndef RINGLOOP_SNAP_FIXTURE_H
#define RINGLOOP_SNAP_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

/* Recompute every section CRC and the file CRC (as far as the sections can
 * be walked) and set the header's file_len to len when set_len. */
void sfx_fix_crcs(uint8_t *buf, size_t len, int set_len);
/* Payload of the nth section with this tag (NULL if none); *plen its length. */
uint8_t *sfx_find(uint8_t *buf, size_t len, const char *tag, unsigned nth, uint32_t *plen);
/* Remove the nth section with this tag in place; returns the new length
 * (CRCs and file_len fixed), or len if there is none. */
size_t sfx_remove(uint8_t *buf, size_t len, const char *tag, unsigned nth);

#endif
