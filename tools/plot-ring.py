#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""plot-ring.py - draw the ringbench sweep (CSV from `ringbench --sweep --csv`)
as a PNG: ns/req and notifications/req (kicks + interrupts) against batch
size, one line per mode (notify/poll x EVENT_IDX on/off).

    /usr/bin/python3 tools/plot-ring.py build/bench/ring.csv build/bench/ring.png
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    series = defaultdict(list)
    ring = None
    with open(argv[1], newline="") as f:
        for row in csv.DictReader(f):
            ring = row["ring"]
            tuned = row.get("burst") == "1" or row.get("spin_ns", "0") != "0"
            label = "%s%s, event_idx %s%s" % (
                row["mode"], " (burst+spin)" if tuned else "",
                "on" if row["event_idx"] == "1" else "off",
                ", indirect" if row["indirect"] == "1" else "")
            series[label].append((
                int(row["batch"]), float(row["ns_per_req"]),
                float(row["kicks_per_req"]) + float(row["calls_per_req"]),
                float(row["line_transfers_per_req"])))
    if not series:
        print("plot-ring: no rows in %s" % argv[1], file=sys.stderr)
        return 1
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, pts in sorted(series.items()):
        pts.sort()
        xs = [p[0] for p in pts]
        ax1.plot(xs, [p[1] for p in pts], marker="o", label=label)
        ax2.plot(xs, [max(p[2], 1e-6) for p in pts], marker="o", label=label)
    ax1.set_title("split ring, ring %s: time per request" % ring)
    ax1.set_xlabel("batch (requests per kick / per interrupt)")
    ax1.set_ylabel("ns / request")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax2.set_title("notifications per request (kicks + interrupts)")
    ax2.set_xlabel("batch")
    ax2.set_ylabel("notifications / request")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(argv[2], dpi=100)
    print("plot-ring: wrote %s" % argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
