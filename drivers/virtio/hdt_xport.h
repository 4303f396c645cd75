/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_xport.h - what the transport-register case files (hdt_cases_xport.c:
 * MMIO and both transports, hdt_cases_pci.c: PCI only) share: the
 * transport check, the standard read, and the note/verdict helpers.
 */
#ifndef RINGLOOP_HDT_XPORT_H
#define RINGLOOP_HDT_XPORT_H

#include <errno.h>

#include "hdt_internal.h"

#define S_OK (1u << VIRTIO_BLK_S_OK)
#define S_ANY ((1u << VIRTIO_BLK_S_OK) | (1u << VIRTIO_BLK_S_IOERR) | (1u << VIRTIO_BLK_S_UNSUPP))
#define BLK VIRTIO_ID_BLOCK
#define MMIO VIRTIO_REGS_MMIO
#define COMMON VIRTIO_REGS_PCI_COMMON

static inline int need(struct hdt_ctx *c, enum hdt_xport x)
{
    if (hdt_xport(c) == x)
        return 0;
    hdt_note(c->note,
             x == HDT_X_MMIO ? "not a virtio-mmio transport" : "not a virtio-pci transport");
    return -ENOTSUP;
}

/* A read of sector 0 at descriptors 0..2, posted (the engine kicks). */
static inline void read0(struct hdt_ctx *c, uint8_t mask)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, VIRTQ_DESC_F_WRITE);
    c->status_mask = mask;
    hdt_post(c, 0);
}

static inline void note_val(struct hdt_ctx *c, const char *what, uint32_t v)
{
    hdt_note(c->note, what);
    hdt_note_u(c->note, v, true);
}

/* The step was taken (PASS) or visibly not (REJECT), said in the note. */
static inline void took(struct hdt_ctx *c, bool taken, const char *what)
{
    hdt_note(c->note, what);
    hdt_note(c->note, taken ? " taken" : " ignored");
    c->reject = !taken;
    c->need_consume = false;
}

#define C(id, fn, fl, clause, text)                                                                \
    {                                                                                              \
        id, text, clause, BLK, fl, fn                                                              \
    }
#define OWN HDT_OWN_SESSION

#endif
