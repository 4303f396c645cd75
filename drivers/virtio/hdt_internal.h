/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_internal.h - what the hostile-driver cases (hdt_cases.c) use of the
 * engine (hdt.c): the session, the DMA arena and its layout, and helpers
 * that write descriptors and available entries directly (the rings are
 * ours, not a struct virtqueue: a virtqueue refuses to build what these
 * cases need).
 *
 * Arena layout (HDT_ARENA bytes, canary everywhere the case did not write):
 *   [0, DESC)          canary before the rings
 *   DESC               descriptor table, HDT_QSIZE entries
 *   AVAIL              available ring
 *   USED               used ring (the only ring area the device may write)
 *   [BUF, PROBE)       case buffers and indirect tables (hdt_buf)
 *   [PROBE, ARENA)     the probe request's buffers (outside the oracle)
 */
#ifndef RINGLOOP_HDT_INTERNAL_H
#define RINGLOOP_HDT_INTERNAL_H

#include "hdt.h"
#include "virtio_ring.h"
#include "virtio_ring_packed.h"

#define HDT_QSIZE 16u
#define HDT_ARENA 0x10000u
#define HDT_DESC_OFF 0x1000u
#define HDT_AVAIL_OFF 0x1400u
#define HDT_USED_OFF 0x1800u
#define HDT_BUF_OFF 0x2000u
#define HDT_PROBE_OFF 0xe000u
#define HDT_MAX_WR 24
#define HDT_MAX_HEADS 24

/* hdt_open() modes. */
#define HDT_OPEN_INDIRECT 1u       /* negotiate INDIRECT_DESC; -ENOTSUP when not offered */
#define HDT_OPEN_NO_FEATURES_OK 2u /* skip FEATURES_OK (3.1.1 step 5) */
#define HDT_OPEN_NO_DRIVER_OK 4u   /* stop before DRIVER_OK (3.1.1 step 8) */
#define HDT_OPEN_NO_QUEUE 8u       /* arena ready, no queue set up, no DRIVER_OK */
#define HDT_OPEN_NO_ACK 16u        /* DRIVER without ACKNOWLEDGE (3.1.1 step 2) */

/* ---- packed ring (hdt_packed.c) ----
 * Same arena offsets: DESC holds the descriptor ring (16 * qsize bytes),
 * AVAIL the Driver Event Suppression structure (read-only for the device),
 * USED the Device Event Suppression structure (written by the device); the
 * rest of the ring space is canary. 2.8: the device may write only the
 * Device Event Suppression structure and the descriptors it marks used. */
#define HDT_OPEN_PACKED 32u /* negotiate VIRTIO_F_RING_PACKED; -ENOTSUP when not offered */
#define HDT_PK_MAX_LISTS 32

/* One list the driver made available: ring offset of its first descriptor,
 * descriptor count, buffer id; done once its used descriptor was read. */
struct hdt_plist {
    uint16_t id;
    uint16_t off;
    uint16_t ndesc;
    bool done;
    bool hostile; /* counted in nheads (not a warm-up or the probe) */
};

struct hdt_pstate {
    uint16_t next_avail; /* driver: ring offset of the next descriptor to fill */
    uint16_t next_used;  /* driver: ring offset polled for the next used one */
    bool avail_wrap;     /* Driver Ring Wrap Counter (2.8.1, starts at 1) */
    bool used_wrap;      /* the device's counter as the driver tracks it */
    bool addr_rewritten; /* a used descriptor's addr changed (2.8.4: unused) */
    bool no_write_flag;  /* served with len but no WRITE flag (2.8.3) */
    uint16_t nlists;
    bool late; /* a case's list came back only during the probe (slow device) */
    uint8_t pad;
    uint32_t used_mask; /* ring offsets marked used after the snapshot */
    struct hdt_plist lists[HDT_PK_MAX_LISTS];
};

/* One element of a list a case builds: flags carries WRITE / INDIRECT
 * (hdt_ppost adds NEXT and the AVAIL/USED bits unless told not to). */
struct hdt_pseg {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t id;
};

struct hdt_range {
    uint32_t off;
    uint32_t len;
};

struct hdt_ctx {
    struct virtio_device *dev;
    uint8_t *arena;  /* DMA, device-visible at dma */
    uint8_t *shadow; /* private: the arena as the device found it */
    uint64_t dma;
    uint64_t seed;
    uint64_t features;
    uint64_t capacity; /* blk: sectors */
    uint32_t qsize;
    uint32_t buf_next;               /* next free arena offset for hdt_buf */
    struct hdt_range wr[HDT_MAX_WR]; /* device-writable ranges, chain order */
    unsigned nwr;
    uint16_t heads[HDT_MAX_HEADS]; /* hostile heads posted */
    unsigned nheads;
    uint16_t avail_idx; /* the driver's next available index */
    uint16_t used_seen; /* the next used index to read */
    bool snapped;
    bool no_kick;        /* the case notified (or deliberately did not) itself */
    bool need_consume;   /* PASS only if the chain was served (REJECT otherwise) */
    bool lax_used;       /* the case made more than the queue size available */
    bool case_fail;      /* the case's own oracle failed (note says why) */
    int32_t status_off;  /* blk status byte of the hostile chain (-1: none) */
    uint8_t status_mask; /* acceptable status values (bit s); 0: any */
    uint8_t pad[1];
    char note[HDT_DETAIL_MAX]; /* the case's own remark (SKIP reason, ...) */
    /* Packed sessions (HDT_OPEN_PACKED, hdt_packed.c): the driver's side. */
    bool packed;
    uint8_t pad2[7];
    struct hdt_pstate pk;
    /* Per device type (hdt_dev.c, set by hdt_dev_prepare before the
     * session opens): the queue the case's rings are on, the probe, the
     * features the case needs, and an auxiliary queue (-1: none) on rings
     * inside the probe area (outside the oracle). */
    uint16_t qidx;
    int16_t aux_q;
    uint16_t aux_avail, aux_used, aux_qsize;
    uint64_t want_features;
    bool (*probe)(struct hdt_ctx *c);
    uint32_t wr_outside; /* writable bytes outside the arena a used len may count (random mode) */
    /* Transport/state cases and the interrupt oracle (hdt_oracle.c). */
    bool reject;     /* the device refused the hostile step: REJECT if it still serves */
    bool irq_lax;    /* the case makes interrupts unattributable: no interrupt oracle */
    uint8_t pad4[2];
    uint32_t opens;  /* hdt_open calls in this case */
    uint32_t gen0;   /* config_generation when the case began */
    uint32_t pad3;
    uint64_t irq_q0; /* queue 0 used-buffer interrupts when the case began */
    uint64_t irq_cfg;
};

/* Session: reset and initialise the device for a case (modes above),
 * extra: feature bits to accept on top (even unoffered ones). 0, -ENOTSUP,
 * -EPROTO (FEATURES_OK not kept), -ETIMEDOUT (reset), -ENODEV (no queue). */
int hdt_open(struct hdt_ctx *c, unsigned mode, uint64_t extra);
void hdt_driver_ok(struct hdt_ctx *c);
uint8_t hdt_status(struct hdt_ctx *c);

/* Arena helpers. */
uint8_t *hdt_buf(struct hdt_ctx *c, uint32_t len, bool writable, uint64_t *dma);
void hdt_mark_writable(struct hdt_ctx *c, const void *p, uint32_t len);
static inline struct virtq_desc *hdt_desc_table(struct hdt_ctx *c)
{
    return (struct virtq_desc *)(c->arena + HDT_DESC_OFF);
}
static inline struct virtq_avail *hdt_avail(struct hdt_ctx *c)
{
    return (struct virtq_avail *)(c->arena + HDT_AVAIL_OFF);
}
static inline struct virtq_used *hdt_used(struct hdt_ctx *c)
{
    return (struct virtq_used *)(c->arena + HDT_USED_OFF);
}
static inline uint64_t hdt_dma_of(struct hdt_ctx *c, const void *p)
{
    return c->dma + (uint64_t)((const uint8_t *)p - c->arena);
}
/* Write table[i] (the ring's table or an indirect one). */
void hdt_set_desc(struct virtq_desc *table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next);

/*
 * A blk request in descriptors head, head+1, head+2: header (readable,
 * type/sector), data of data_len bytes (writable unless data_flags says
 * otherwise; data_len 0: no data descriptor), status (writable). Registers
 * the writable ranges and the status byte. Returns the next free index.
 */
unsigned hdt_blk_req(struct hdt_ctx *c, unsigned head, uint32_t type, uint64_t sector,
                     uint32_t data_len, uint16_t data_flags);
/* The 16-byte request header, filled in, in a new readable buffer. */
uint8_t *hdt_blk_hdr(struct hdt_ctx *c, uint32_t type, uint64_t sector, uint32_t len);

/* Put head in the next available slot (snapshot the arena first, once) and
 * publish the index; the head counts as a hostile chain. */
void hdt_post(struct hdt_ctx *c, uint16_t head);
/* Publish an arbitrary available index (and mirror it in the snapshot). */
void hdt_publish_idx(struct hdt_ctx *c, uint16_t idx);
void hdt_snapshot(struct hdt_ctx *c);
/* The canary the arena holds at off before a case writes it. */
uint8_t hdt_canary_byte(uint32_t off);
void hdt_kick(struct hdt_ctx *c);
/* Append text / a number to a detail buffer (HDT_DETAIL_MAX). */
void hdt_note(char *buf, const char *s);
void hdt_note_u(char *buf, uint64_t v, bool hex);

/* Wait (bounded) until used idx reaches want; true when it did. */
bool hdt_wait_used(struct hdt_ctx *c, uint16_t want, uint64_t timeout_ns);

/* The catalogue is a list of tables, one per class file (hdt_catalogue.c
 * lists them); ids are unique across all of them. */
struct hdt_table {
    const struct hdt_case *v;
    unsigned n;
};
extern const struct hdt_table hdt_table_split; /* hdt_cases.c */
extern const struct hdt_table hdt_table_packed;    /* hdt_cases_packed.c */
extern const struct hdt_table hdt_table_packed_el; /* hdt_cases_packed_el.c */

/* ---- packed ring engine (hdt_packed.c) ---- */

/* hdt_ppost modes. */
#define HDT_PP_RAW_FLAGS 1u /* seg flags written verbatim (no NEXT/AVAIL/USED added) */
#define HDT_PP_SEG_IDS 2u   /* seg ids written verbatim (default: id in every one) */
#define HDT_PP_NOT_AVAIL 4u /* not made available: nothing recorded, next_avail stays */
#define HDT_PP_NO_LAST_FIRST 8u /* head flags stored first, not last (2.8.17) */

static inline struct pvirtq_desc *hdt_pring(struct hdt_ctx *c)
{
    return (struct pvirtq_desc *)(c->arena + HDT_DESC_OFF);
}
static inline struct pvirtq_event_suppress *hdt_pdriver_event(struct hdt_ctx *c)
{
    return (struct pvirtq_event_suppress *)(c->arena + HDT_AVAIL_OFF);
}
/* The AVAIL/USED bits that make a descriptor available in lap wrap. */
static inline uint16_t hdt_pavail_bits(bool wrap)
{
    return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}
/* After the session opened (hdt_open calls it): driver state, ring zeroed,
 * the gaps around the three parts canary. */
void hdt_packed_reset(struct hdt_ctx *c);
/* Write ring descriptor off (mirrored into the snapshot once taken). */
void hdt_pdesc(struct hdt_ctx *c, unsigned off, uint64_t addr, uint32_t len, uint16_t id,
               uint16_t flags);
/* Store one 16-bit field of the ring or the driver area (mirrored). */
void hdt_pstore16(struct hdt_ctx *c, uint16_t *p, uint16_t v);
/* Make n elements available as one list with buffer id at next_avail
 * (modes above; snapshot before the head's flags, which go last with a
 * release). Returns the ring offset of the first descriptor. */
unsigned hdt_ppost(struct hdt_ctx *c, const struct hdt_pseg *seg, unsigned n, uint16_t id,
                   unsigned mode);
/* A blk request as segments: header, data (data_len, data_flags; none
 * when 0), status. Registers writable ranges and the status byte. Returns
 * the count. */
unsigned hdt_pblk_req(struct hdt_ctx *c, struct hdt_pseg *seg, uint32_t type, uint64_t sector,
                      uint32_t data_len, uint16_t data_flags);
/* Warm-up before the case (no snapshot yet): well-formed reads of sector 0
 * in the probe area, each served before the next, until the driver's
 * next_avail is at ring offset off (any offset: lists of 2, 3 or 4
 * descriptors). false (and the case's note) when one was not served. */
bool hdt_padvance(struct hdt_ctx *c, unsigned off, unsigned laps);
/* The used descriptors the device has written ahead of next_used (not
 * consumed), stopping at an id we cannot account for (counted as one). */
unsigned hdt_packed_peek(struct hdt_ctx *c);
/* Dispatch points of hdt.c for packed sessions. */
bool hdt_packed_wait(struct hdt_ctx *c, uint16_t want, uint64_t timeout_ns);
bool hdt_packed_probe(struct hdt_ctx *c);
bool hdt_packed_collect(struct hdt_ctx *c, struct hdt_result *r, unsigned *consumed,
                        uint32_t *len0);
bool hdt_packed_writable(const struct hdt_ctx *c, uint32_t off);
const char *hdt_packed_region(uint32_t off);
extern const struct hdt_table hdt_table_dev;   /* hdt_cases_dev.c */
extern const struct hdt_table hdt_table_net;   /* hdt_cases_net.c */

/* Per device type (hdt_dev.c): pick the queue, aux queue, probe and
 * features for case k on c->dev; set up the aux queue's rings (called by
 * hdt_open after the case queue, before DRIVER_OK): 0 or -errno. */
void hdt_dev_prepare(struct hdt_ctx *c, const struct hdt_case *k);
int hdt_dev_setup_aux(struct hdt_ctx *c);
extern const struct hdt_table hdt_table_xport; /* hdt_cases_xport.c */
extern const struct hdt_table hdt_table_pci;   /* hdt_cases_pci.c */
extern const struct hdt_table hdt_table_state; /* hdt_cases_state.c */

/* ---- raw registers and the interrupt oracle (hdt_oracle.c) ---- */
enum hdt_xport { HDT_X_OTHER, HDT_X_MMIO, HDT_X_PCI };
enum hdt_xport hdt_xport(struct hdt_ctx *c);
/* One raw access (virtio.h reg_read/reg_write); on an error the case's
 * note says why (the case returns it: SKIP). */
int hdt_reg_rd(struct hdt_ctx *c, unsigned space, uint32_t off, unsigned size, uint32_t *v);
int hdt_reg_wr(struct hdt_ctx *c, unsigned space, uint32_t off, unsigned size, uint32_t v);
/* The selected queue's registers by meaning, on either transport (MMIO
 * 4.2.2, PCI 4.1.4.3); 64-bit addresses as two 32-bit halves. HQ_NUM
 * reads QueueNumMax on MMIO (QueueNum is write-only) and queue_size on PCI. */
enum hdt_qreg { HQ_SEL, HQ_NUM, HQ_READY, HQ_DESC, HQ_DRIVER, HQ_DEVICE };
int hdt_q_wr(struct hdt_ctx *c, enum hdt_qreg r, uint64_t v);
int hdt_q_rd(struct hdt_ctx *c, enum hdt_qreg r, uint32_t *v);
/* Interrupt oracle: counts at the start of a case, and the check before
 * the probe (false: FAIL, the detail says why). */
void hdt_irq_begin(struct hdt_ctx *c);
bool hdt_irq_check(struct hdt_ctx *c, struct hdt_result *r);
/* Used-buffer interrupts for queue 0 since hdt_irq_begin. */
uint64_t hdt_irq_q0(struct hdt_ctx *c);

#endif
