/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_random.h - the hostile-driver suite's seeded random mode (issue 12):
 * step after step, a well-formed request of the device's default queue
 * (hdt_dev_valid_req) is built and, on about half the steps, malformed by
 * one to three random edits of its own descriptors (flags WRITE/NEXT
 * toggled, lengths, addresses, next indices, the available head), then
 * judged like a catalogue case (hdt.c: canary oracle, probe, verdict).
 *
 * Reproducible: every choice of step i comes from a portable generator
 * (splitmix64) seeded with (seed, i) only, so one seed gives the same
 * sequence of chains - and, against the same device, the same verdicts.
 * The run stops after the first step that leaves the device not serving
 * (WEDGED, FAIL, or a reset that does not recover it); that step and the
 * seed re-run it.
 *
 * Safety (the image's own RAM is at stake): no INDIRECT flag is ever set
 * (a table of random bytes could name any guest memory writable), and a
 * device-writable descriptor is kept inside the arena's buffer area or far
 * outside RAM; everything it covers is declared writable to the oracle.
 */
#ifndef RINGLOOP_HDT_RANDOM_H
#define RINGLOOP_HDT_RANDOM_H

#include "hdt.h"

#define HDT_RANDOM_WHAT 96

struct hdt_random_step {
    unsigned step;
    bool malformed;
    char what[HDT_RANDOM_WHAT]; /* the edits, "valid" when none */
    struct hdt_result r;
};

/* Called after every step (may be NULL). */
typedef void (*hdt_random_cb)(void *arg, const struct hdt_random_step *s);

/*
 * Run up to count steps from seed against dev (any device type hdt_dev.c
 * knows). Returns the number of steps run (>= 0) or a negative errno;
 * *stopped: the step after which the device no longer served, or -1.
 * counts[v]: verdicts by enum hdt_verdict (may be NULL). The device is
 * left reset.
 */
int hdt_random_run(struct virtio_device *dev, uint64_t seed, unsigned count, hdt_random_cb cb,
                   void *arg, int *stopped, unsigned counts[HDT_NV]);

/* The generator (exposed for tests): splitmix64. */
uint64_t hdt_random_next(uint64_t *state);

#endif
