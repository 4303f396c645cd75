/* SPDX-License-Identifier: Apache-2.0 */
/* snap_fixture.c - see snap_fixture.h. */
#include "snap_fixture.h"

#include <string.h>

#include "crc32c.h"
#include "snap_le.h"
#include "snapshot.h"

/* Calls fn(section start, payload length, arg) for each section that fits;
 * stops at the first that does not. Returns the offset where it stopped. */
static size_t sfx_walk(uint8_t *buf, size_t len,
                       int (*fn)(uint8_t *s, uint32_t plen, size_t off, void *arg), void *arg)
{
    size_t off = SNAP_HDR_BYTES, end;

    if (len < SNAP_HDR_BYTES + SNAP_TRAILER_BYTES)
        return len;
    end = len - SNAP_TRAILER_BYTES;
    while (off < end && end - off >= SNAP_SECT_OVERHEAD) {
        uint32_t plen = snap_get32(buf + off + 4);

        if (plen > end - off - SNAP_SECT_OVERHEAD)
            break;
        if (fn && fn(buf + off, plen, off, arg))
            break;
        off += SNAP_SECT_OVERHEAD + plen;
    }
    return off;
}

static int fix_one(uint8_t *s, uint32_t plen, size_t off, void *arg)
{
    (void)off;
    (void)arg;
    snap_put32(s + 8 + plen, crc32c(0, s, 8 + (size_t)plen));
    return 0;
}

void sfx_fix_crcs(uint8_t *buf, size_t len, int set_len)
{
    if (len < SNAP_HDR_BYTES + SNAP_TRAILER_BYTES)
        return;
    if (set_len)
        snap_put64(buf + 16, len);
    sfx_walk(buf, len, fix_one, NULL);
    snap_put32(buf + len - SNAP_TRAILER_BYTES, crc32c(0, buf, len - SNAP_TRAILER_BYTES));
}

struct find_arg {
    const char *tag;
    unsigned nth;
    uint8_t *found;
    uint32_t plen;
    size_t off;
};

static int find_one(uint8_t *s, uint32_t plen, size_t off, void *arg)
{
    struct find_arg *a = arg;

    if (memcmp(s, a->tag, 4) != 0)
        return 0;
    if (a->nth--)
        return 0;
    a->found = s;
    a->plen = plen;
    a->off = off;
    return 1;
}

uint8_t *sfx_find(uint8_t *buf, size_t len, const char *tag, unsigned nth, uint32_t *plen)
{
    struct find_arg a = {.tag = tag, .nth = nth};

    sfx_walk(buf, len, find_one, &a);
    if (!a.found)
        return NULL;
    if (plen)
        *plen = a.plen;
    return a.found + 8;
}

size_t sfx_remove(uint8_t *buf, size_t len, const char *tag, unsigned nth)
{
    struct find_arg a = {.tag = tag, .nth = nth};
    size_t n;

    sfx_walk(buf, len, find_one, &a);
    if (!a.found)
        return len;
    n = SNAP_SECT_OVERHEAD + a.plen;
    memmove(buf + a.off, buf + a.off + n, len - a.off - n);
    len -= n;
    sfx_fix_crcs(buf, len, 1);
    return len;
}
