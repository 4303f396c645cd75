#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""plot-ring.py - draw the ringbench sweep (CSV from `ringbench --sweep --csv`)
as a PNG: ns/req (top) and notifications/req (kicks + interrupts, bottom)
against batch size, one line per mode (notify/poll x EVENT_IDX on/off), the
split ring (virtio 1.2 2.7) on the left and the packed ring (2.8) on the
right, on shared axes so the two layouts compare at a glance.

    /usr/bin/python3 tools/plot-ring.py build/bench/ring.csv build/bench/ring.png
"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LAYOUTS = ("split", "packed")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    series = {lay: defaultdict(list) for lay in LAYOUTS}
    ring = None
    with open(argv[1], newline="") as f:
        for row in csv.DictReader(f):
            ring = row["ring"]
            layout = row.get("layout", "split")  # older CSVs: split only
            tuned = row.get("burst") == "1" or row.get("spin_ns", "0") != "0"
            label = "%s%s, event_idx %s%s" % (
                row["mode"], " (burst+spin)" if tuned else "",
                "on" if row["event_idx"] == "1" else "off",
                ", indirect" if row["indirect"] == "1" else "")
            series.setdefault(layout, defaultdict(list))[label].append((
                int(row["batch"]), float(row["ns_per_req"]),
                float(row["kicks_per_req"]) + float(row["calls_per_req"])))
    if not any(series.values()):
        print("plot-ring: no rows in %s" % argv[1], file=sys.stderr)
        return 1
    fig, axes = plt.subplots(2, 2, figsize=(13, 8), sharex=True, sharey="row")
    for col, layout in enumerate(LAYOUTS):
        ax1, ax2 = axes[0][col], axes[1][col]
        for label, pts in sorted(series[layout].items()):
            pts.sort()
            xs = [p[0] for p in pts]
            ax1.plot(xs, [p[1] for p in pts], marker="o", label=label)
            ax2.plot(xs, [max(p[2], 1e-6) for p in pts], marker="o", label=label)
        ax1.set_title("%s ring, ring %s: time per request" % (layout, ring))
        ax1.set_ylabel("ns / request")
        ax2.set_title("%s ring: notifications per request (kicks + interrupts)" % layout)
        ax2.set_xlabel("batch (requests per kick / per interrupt)")
        ax2.set_ylabel("notifications / request")
        for ax in (ax1, ax2):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            if series[layout]:
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "no %s rows" % layout, ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(argv[2], dpi=100)
    print("plot-ring: wrote %s" % argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
