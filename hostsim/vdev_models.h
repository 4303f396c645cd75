/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdev_models.h - the loopback device models (hostsim/dev_*.c): how to
 * create each one on a caller-provided struct vdev, and the device-side
 * calls each offers. Put a vmmio register file in front (vmmio_create) to
 * let a driver at it.
 *
 * Every create function: d is caller memory (not yet initialised), mem is
 * the guest memory the rings and buffers live in (mem->regions must stay
 * valid while the device lives); returns 0 or -EINVAL / -ENOMEM. Free with
 * vdev_destroy(d) (after vmmio_destroy()).
 *
 * Device-side calls other than queue processing (resize, console inject /
 * take, stats) must be serialised with the register file: with a vmmio in
 * front, call them inside vmmio_run_locked().
 */
#ifndef RINGLOOP_VDEV_MODELS_H
#define RINGLOOP_VDEV_MODELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev.h"

/* ---- blk (5.2): a RAM disk over caller memory ---- */
#define VDEV_BLK_QUEUE_MAX 256
#define VDEV_BLK_SEG_MAX (VDEV_MAX_IOV - 2) /* data segments: + header + status */
#define VDEV_BLK_SIZE_MAX (1u << 20)        /* bytes per segment */
#define VDEV_BLK_DEFAULT_SERIAL "ringloop-lblk0"
/* DISCARD / WRITE_ZEROES segments per request the model can take (the
 * most vdev_blk_set_limits accepts for max_*_seg). */
#define VDEV_BLK_DWZ_SEG_MAX 64

struct vdev_blk_stats {
    uint64_t reads, writes, flushes, get_ids;
    uint64_t read_bytes, write_bytes;
    uint64_t ioerr;  /* out of range, bad length, past a limit, RO write */
    uint64_t unsupp; /* unknown request type, type not negotiated, flags */
    uint64_t bad;    /* malformed chains (no status byte, short header) */
    uint64_t discards, write_zeroes;        /* requests that succeeded */
    uint64_t discard_sectors, zeroed_sectors; /* sectors they covered */
    uint64_t ro_refused;    /* writes refused on a read-only device (in ioerr) */
    uint64_t stable_writes; /* writes made stable before completion (writethrough) */
    /* Asynchronous backends (vdev_blk_backend.submit): */
    uint64_t async_peak;   /* most requests in flight on one queue at once */
    uint64_t out_of_order; /* completions pushed after a later-popped one of their queue */
    uint64_t flush_waits;  /* FLUSHes held until earlier writes completed */
};

/*
 * Limits offered in the config space (5.2.4) with VIRTIO_BLK_F_DISCARD,
 * _WRITE_ZEROES and _TOPOLOGY, and enforced on every request: a request
 * past max_*_seg segments or max_*_sectors sectors in all (the stricter
 * reading of 5.2.4, the one Linux follows), a segment not on a
 * discard_sector_alignment boundary (start, and length unless it ends at
 * capacity), past capacity, empty, or overlapping another segment of the
 * request is VIRTIO_BLK_S_IOERR with nothing changed.
 */
struct vdev_blk_limits {
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    bool write_zeroes_may_unmap;
    uint8_t physical_block_exp, alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
};

/* disk: bytes of storage (a multiple of 512, at least 512); serial: up to
 * 20 bytes for GET_ID (NULL: VDEV_BLK_DEFAULT_SERIAL). */
int vdev_blk_create(struct vdev *d, const struct vdq_mem *mem, void *disk, uint64_t bytes,
                    const char *serial);
/*
 * Storage other than a RAM disk (the hosted vhost-user-blk daemon: a file
 * with pread/pwrite/fsync). Each call moves one contiguous piece of a
 * request between the store at byte pos and buf (guest memory, already
 * bounds-checked); 0 or -errno, and any error fails the request with
 * VIRTIO_BLK_S_IOERR (counted in ioerr). flush makes every completed write
 * durable before the FLUSH request completes. The model has no bulk
 * content then (a snapshot carries no disk bytes).
 */
/*
 * An asynchronous request (dev_blk_async.c): op on len bytes at store
 * position pos, the data in niov segments of guest memory (already
 * bounds-checked; valid until completed; each pad is 0). The backend completes it with
 * vdev_blk_io_done(io, 0 or -errno), from its reap callback.
 */
enum { VDEV_BLK_IO_READ, VDEV_BLK_IO_WRITE, VDEV_BLK_IO_FLUSH };
struct vdev_blk_io {
    uint32_t op;
    uint32_t niov;
    uint64_t pos;
    uint32_t len;
    uint16_t qi; /* the queue it came from */
    uint16_t pad;
    const struct vdq_iov *iov;
    void *priv; /* the backend's, per request (e.g. a bounce buffer) */
};
void vdev_blk_io_done(struct vdev_blk_io *io, int err);

struct vdev_blk_backend {
    int (*read)(void *ctx, uint64_t pos, void *buf, uint32_t len);
    int (*write)(void *ctx, uint64_t pos, const void *buf, uint32_t len);
    int (*flush)(void *ctx);
    /* Optional (NULL: discard does nothing, which 5.2.6.2 allows; write
     * zeroes writes zeroes through write). discard may deallocate; after
     * write_zeroes the range reads back zeroes, and with unmap it may be
     * deallocated too. len is a multiple of 512. */
    int (*discard)(void *ctx, uint64_t pos, uint64_t len);
    int (*write_zeroes)(void *ctx, uint64_t pos, uint64_t len, bool unmap);
    void *ctx;
    /*
     * Optional asynchronous path (after ctx: callers' positional
     * initialisers stay valid) for IN, OUT and FLUSH (all three or none;
     * not used on a hostile device). Each is called with queue io->qi's
     * processing lock held, so one queue's calls never overlap, while
     * different queues' may: keep per-queue state. submit: take io
     * (0: it completes later; -errno: it fails now, IOERR); it may wait
     * until commit(qi), called at the end of each processing round (and
     * followed by a reap, for what completed during the commit). reap:
     * call vdev_blk_io_done() for queue qi's finished I/O; with wait, block
     * until at least one finishes (the model calls it only while some are
     * in flight). Requests complete in any order; a FLUSH is submitted only
     * once every write popped before it on its queue has completed
     * (5.2.6: it covers the writes completed before it).
     */
    int (*submit)(void *ctx, struct vdev_blk_io *io);
    void (*commit)(void *ctx, unsigned qi);
    void (*reap)(void *ctx, unsigned qi, bool wait);
};

/* As vdev_blk_create, over be (copied) instead of a RAM disk. */
int vdev_blk_create_backend(struct vdev *d, const struct vdq_mem *mem, uint64_t bytes,
                            const struct vdev_blk_backend *be, const char *serial);
/* Change the disk (e.g. grow into a larger buffer): capacity changes, the
 * config generation moves and a config interrupt goes out (5.2.6.2 / 4.2.2). */
int vdev_blk_resize(struct vdev *d, void *disk, uint64_t bytes);
/* The same for a disk behind a storage backend (the file grew): bytes is
 * the new size (a non-zero multiple of 512); -EINVAL for a RAM disk. */
int vdev_blk_resize_backend(struct vdev *d, uint64_t bytes);
/* Serve n request queues (1..VDEV_MAX_QUEUES; n > 1 offers
 * VIRTIO_BLK_F_MQ with config num_queues = n, 5.2.3 / 5.2.4). Before the
 * driver activates the device (e.g. right after create). */
int vdev_blk_set_num_queues(struct vdev *d, unsigned n);
void vdev_blk_get_stats(const struct vdev *d, struct vdev_blk_stats *st);
/* Before activation (dev_blk_ext.c). -EINVAL for a limit of 0 or segments
 * past VDEV_BLK_DWZ_SEG_MAX. */
int vdev_blk_set_limits(struct vdev *d, const struct vdev_blk_limits *l);
void vdev_blk_get_limits(const struct vdev *d, struct vdev_blk_limits *l);
/* Offer VIRTIO_BLK_F_RO: every write (OUT, DISCARD, WRITE_ZEROES) fails
 * with VIRTIO_BLK_S_IOERR and changes nothing (5.2.6.2). */
int vdev_blk_set_read_only(struct vdev *d, bool ro);
/* The cache mode after reset (writeback 1 by default; 0: writethrough,
 * every write stable before it completes). The driver may change it with
 * VIRTIO_BLK_F_CONFIG_WCE by writing the config field writeback. */
int vdev_blk_set_writeback(struct vdev *d, bool writeback);
/* The mode in effect now (5.2.6.2, from the acked features). */
bool vdev_blk_is_writeback(const struct vdev *d);

/* ---- rng (5.4): a seeded deterministic byte stream ---- */
#define VDEV_RNG_QUEUE_MAX 64

/*
 * The stream is splitmix64 (Steele, Lea, Flood 2014; the seeding generator
 * of xoshiro): state s = seed; each step
 *     s += 0x9e3779b97f4a7c15
 *     z  = s
 *     z  = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
 *     z  = (z ^ (z >> 27)) * 0x94d049bb133111eb
 *     z ^= z >> 31                       (all mod 2^64)
 * and emits z as 8 bytes, little-endian. The byte stream is continuous
 * across requests (bytes left over from a word go to the next request), so
 * the n-th byte the driver receives is byte n of the stream, whatever the
 * request sizes. In Python (what pytest uses; seed 0 starts af cd 1d 7b):
 *     def rng_stream(seed, n):
 *         M, s, out = (1 << 64) - 1, seed, b""
 *         while len(out) < n:
 *             s = (s + 0x9E3779B97F4A7C15) & M
 *             z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & M
 *             z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
 *             out += (z ^ (z >> 31)).to_bytes(8, "little")
 *         return out[:n]
 * The C reference in tests/host/test_devices.c (rng_ref) checks the same.
 */
struct vdev_rng_state {
    uint64_t s;    /* splitmix64 state */
    uint64_t word; /* last output word */
    uint32_t used; /* bytes of word already handed out (8 = none left) */
    uint32_t pad;
    uint64_t produced; /* bytes handed out so far */
};

int vdev_rng_create(struct vdev *d, const struct vdq_mem *mem, uint64_t seed);
void vdev_rng_get_state(const struct vdev *d, struct vdev_rng_state *st);
void vdev_rng_set_state(struct vdev *d, const struct vdev_rng_state *st);

/* ---- net (5.1): every TX frame comes back on RX ---- */
#define VDEV_NET_QUEUE_MAX 256
#define VDEV_NET_BACKLOG 64                 /* frames waiting for RX buffers */
#define VDEV_NET_MAX_FRAME 65536u           /* bytes after the virtio_net_hdr */
#define VDEV_NET_BACKLOG_BYTES (256u << 10) /* frame bytes waiting, at most */
#define VDEV_NET_DEFAULT_MAC                                                                       \
    {                                                                                              \
        0x52, 0x54, 0x00, 0x12, 0x34, 0x56                                                         \
    }

struct vdev_net_stats {
    uint64_t tx_frames, tx_bytes;
    uint64_t rx_frames, rx_bytes;
    uint64_t backlog_max;  /* most frames waiting for RX buffers at once */
    uint64_t dropped;      /* backlog full (frames or bytes), frame too big */
    uint64_t rx_too_small; /* RX buffer smaller than header + frame: frame dropped */
    uint64_t bad;          /* TX chain shorter than the header, RX chain not writable */
    uint64_t tx_oversize;    /* TX frame above mtu + 14 (MTU negotiated): dropped */
    uint64_t link_down_drops; /* TX frame while the link is down: dropped */
    uint64_t rx_merged;      /* MRG_RXBUF frames that took more than one chain */
    uint64_t rx_mrg_dropped; /* MRG_RXBUF frame dropped: bad chain mid-frame, ring too small */
    uint64_t link_changes;
    /* Control queue (5.1.6.5) and receive filter (5.1.6.5.1, 5.1.6.5.2). */
    uint64_t ctrl_ok;     /* commands answered VIRTIO_NET_OK */
    uint64_t ctrl_err;    /* answered VIRTIO_NET_ERR (short payload, unknown, not negotiated) */
    uint64_t ctrl_bad;    /* no device-writable ack byte: returned unanswered, len 0 */
    uint64_t rx_filtered; /* frames the rx mode / MAC table kept from the driver */
    /* Checksum offload (5.1.6.2, 5.1.6.4). */
    uint64_t tx_csum_bad;    /* NEEDS_CSUM with csum_start + csum_offset + 2 > len: dropped */
    uint64_t tx_csum_done;   /* partial checksums the device completed (no GUEST_CSUM) */
    uint64_t rx_csum_passed; /* NEEDS_CSUM passed to the driver (GUEST_CSUM) */
};

/* The receive filter (5.1.6.5.1 / 5.1.6.5.2). After a reset: promiscuous
 * (as QEMU's virtio-net starts, so a driver that never sends a command
 * gets every frame), the other modes off, both tables empty ("MUST have an
 * empty MAC filtering table on reset"), mac back to the create-time one.
 * More than VDEV_NET_MAC_TABLE entries in a table set its overflow flag:
 * every address of that kind passes (the spec's footnote allows switching
 * to allmulti / promiscuous when given too many). */
#define VDEV_NET_MAC_TABLE 64
struct vdev_net_rx_filter {
    uint8_t mode[6]; /* by VIRTIO_NET_CTRL_RX_*: 0 off, 1 on */
    uint8_t uni_overflow, multi_overflow;
    uint32_t n_uni, n_multi;
    uint8_t uni[VDEV_NET_MAC_TABLE][6];
    uint8_t multi[VDEV_NET_MAC_TABLE][6];
};

/* Offered mtu (VIRTIO_NET_F_MTU) of vdev_net_create: a loopback frame of
 * mtu + 14 is larger than one 2048-byte receive buffer. */
#define VDEV_NET_DEFAULT_MTU 3000

/* mac: 6 bytes, NULL for VDEV_NET_DEFAULT_MAC; VDEV_NET_DEFAULT_MTU. */
int vdev_net_create(struct vdev *d, const struct vdq_mem *mem, const uint8_t *mac);
/* mtu 0: VIRTIO_NET_F_MTU not offered; else 68..65535-14 (-EINVAL). */
int vdev_net_create_mtu(struct vdev *d, const struct vdq_mem *mem, const uint8_t *mac,
                        uint16_t mtu);
/* Link up/down (config status, VIRTIO_NET_F_STATUS) with the config
 * interrupt; TX frames are dropped while it is down. */
void vdev_net_set_link(struct vdev *d, bool up);
bool vdev_net_link_up(const struct vdev *d);
/* Misbehave once (driver tests): the next MRG_RXBUF frame's header claims
 * nb buffers whatever it took. */
void vdev_net_lie_num_buffers(struct vdev *d, uint16_t nb);
/* Misbehave once (driver tests): the next RX header says NEEDS_CSUM with
 * these offsets, whatever was negotiated or fits the frame. */
void vdev_net_lie_csum(struct vdev *d, uint16_t csum_start, uint16_t csum_offset);
void vdev_net_get_stats(const struct vdev *d, struct vdev_net_stats *st);
unsigned vdev_net_backlog_len(const struct vdev *d);
/* The filter in force and the current mac (config space). */
void vdev_net_get_rx_filter(const struct vdev *d, struct vdev_net_rx_filter *f);
void vdev_net_get_mac(const struct vdev *d, uint8_t mac[6]);
/* Would a frame to this destination reach the driver now? (tests) */
bool vdev_net_rx_accepts(const struct vdev *d, const uint8_t dst[6]);

/* ---- console (5.3): port 0, or MULTIPORT with up to 3 ports; echo by default ---- */
#define VDEV_CONSOLE_QUEUE_MAX 64
#define VDEV_CONSOLE_BUF 4096      /* bytes kept each way, per port */
#define VDEV_CONSOLE_MAX_PORTS 3   /* 2 + 2 + 2 * 2 queues = VDEV_MAX_QUEUES */

struct vdev_console_stats {
    uint64_t tx_bytes;   /* written by the driver */
    uint64_t rx_bytes;   /* delivered to the driver */
    uint64_t tx_dropped; /* taken-buffer full */
    uint64_t rx_dropped; /* to-driver buffer full */
    uint64_t bad;        /* chains refused, control messages refused included */
    uint64_t ctrl_bad;   /* control messages refused (short, bad port id, bad event/value) */
    uint64_t ctrl_sent;  /* control messages delivered to the driver */
    uint64_t ctrl_dropped;  /* control messages lost to a full control FIFO */
    uint64_t driver_failed; /* DEVICE_READY(0) / PORT_READY(0) from the driver */
};

/*
 * What the driver writes on a port's transmitq is kept (up to
 * VDEV_CONSOLE_BUF bytes, older bytes are kept, newer dropped) for
 * vdev_console_port_take(). With echo on (the default, for the shell's
 * `console write` then `console read`), the same bytes are also queued to
 * the driver on that port's receiveq.
 * vdev_console_create(): port 0 only, no MULTIPORT (5.3.2).
 * vdev_console_create_ports(): nports 1..VDEV_CONSOLE_MAX_PORTS; more than
 * one offers MULTIPORT (max_nr_ports = nports) and, once the driver sends
 * DEVICE_READY, announces every port (dev_console.c has the protocol).
 */
int vdev_console_create(struct vdev *d, const struct vdq_mem *mem, uint16_t cols, uint16_t rows);
int vdev_console_create_ports(struct vdev *d, const struct vdq_mem *mem, uint16_t cols,
                              uint16_t rows, uint32_t nports);
void vdev_console_set_echo(struct vdev *d, bool echo);
/* Queue bytes for the driver on port 0 / on a port (delivered at once if it
 * has receive buffers, else when it adds some); returns bytes accepted (0
 * for a port that does not exist). */
size_t vdev_console_inject(struct vdev *d, const void *buf, size_t len);
size_t vdev_console_port_inject(struct vdev *d, uint32_t port, const void *buf, size_t len);
/* Take up to len bytes the driver wrote on port 0 / on a port. */
size_t vdev_console_take(struct vdev *d, void *buf, size_t len);
size_t vdev_console_port_take(struct vdev *d, uint32_t port, void *buf, size_t len);
/* What the driver said about a port: PORT_READY(1) seen, guest end open.
 * -EINVAL for a port that does not exist. */
int vdev_console_port_state(const struct vdev *d, uint32_t port, bool *ready, bool *guest_open);
void vdev_console_get_stats(const struct vdev *d, struct vdev_console_stats *st);

/* ---- pmem (5.19, Firecracker semantics) ---- */
#define VDEV_PMEM_QUEUE_MAX 256

enum vdev_pmem_err {
    VDEV_PMEM_ERR_WRITABLE_HEAD,   /* first descriptor device-writable */
    VDEV_PMEM_ERR_SHORT_CHAIN,     /* a single descriptor */
    VDEV_PMEM_ERR_READONLY_STATUS, /* second descriptor device-readable */
    VDEV_PMEM_ERR_REQ_LEN,         /* request descriptor not 4 bytes */
    VDEV_PMEM_ERR_RESP_LEN,        /* response descriptor not 4 bytes */
    VDEV_PMEM_ERR_UNKNOWN_TYPE,    /* type other than FLUSH */
    VDEV_PMEM_ERR_FLUSH_FAILED,    /* the flush hook failed */
    VDEV_PMEM_ERR_COUNT
};

struct vdev_pmem_stats {
    uint64_t flushes; /* successful FLUSH requests */
    uint64_t errors;  /* sum of err[] */
    uint64_t err[VDEV_PMEM_ERR_COUNT];
};

/*
 * start/size: the region's guest-physical range (start and size multiples
 * of 2 MiB, size > 0, else -EINVAL). flush(ctx) makes the region durable
 * (in the image a barrier; hosted, msync of a file mapping); NULL means
 * nothing to do. It returns 0 or -errno.
 */
int vdev_pmem_create(struct vdev *d, const struct vdq_mem *mem, uint64_t start, uint64_t size,
                     int (*flush)(void *ctx), void *flush_ctx);
void vdev_pmem_get_stats(const struct vdev *d, struct vdev_pmem_stats *st);

#endif
