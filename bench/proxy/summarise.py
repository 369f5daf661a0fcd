#!/usr/bin/env python3
"""Summarise bench/proxy.sh trials: medians per target, Doorman's ratios, a table and JSON.

Usage: summarise.py TRIALS_TSV OUT_JSON META_JSON

TRIALS_TSV has one line per trial (header line first):
  round target requests duration_us p50_us p90_us p99_us max_us errors proxy_ticks origin_ticks
proxy_ticks is "-" for the direct target. CPU ticks are converted with CLK_TCK from META_JSON.
Only the standard library is used.
"""
import json
import statistics
import sys

TARGETS = [
    "direct", "nginx", "haproxy", "doorman", "doorman-fw",
    "doorman-rl", "doorman-rl-redis", "doorman-key", "doorman-jwt",
]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main():
    tsv, out_json, meta_json = sys.argv[1:4]
    with open(meta_json) as f:
        meta = json.load(f)
    tick_us = 1e6 / meta["clk_tck"]

    trials = []
    with open(tsv) as f:
        header = f.readline().split()
        for line in f:
            row = dict(zip(header, line.split()))
            requests = int(row["requests"])
            seconds = int(row["duration_us"]) / 1e6
            t = {
                "round": int(row["round"]),
                "target": row["target"],
                "requests": requests,
                "seconds": seconds,
                "rps": requests / seconds if seconds else 0.0,
                "p50_us": int(row["p50_us"]),
                "p90_us": int(row["p90_us"]),
                "p99_us": int(row["p99_us"]),
                "max_us": int(row["max_us"]),
                "errors": int(row["errors"]),
                "proxy_cpu_us_per_req": None,
                "origin_cpu_us_per_req": None,
            }
            if row["proxy_ticks"] != "-" and requests:
                t["proxy_cpu_us_per_req"] = int(row["proxy_ticks"]) * tick_us / requests
            if requests:
                t["origin_cpu_us_per_req"] = int(row["origin_ticks"]) * tick_us / requests
            trials.append(t)

    # Each column's median is taken on its own: the median req/s and the median p99 may come
    # from different rounds. With noise hitting rounds unevenly, this is the robust choice.
    summary = {}
    for target in TARGETS:
        ts = [t for t in trials if t["target"] == target]
        if not ts:
            continue
        summary[target] = {
            "rounds": len(ts),
            "rps": median([t["rps"] for t in ts]),
            "rps_min": min(t["rps"] for t in ts),
            "rps_max": max(t["rps"] for t in ts),
            "p50_us": median([t["p50_us"] for t in ts]),
            "p99_us": median([t["p99_us"] for t in ts]),
            "proxy_cpu_us_per_req": median([t["proxy_cpu_us_per_req"] for t in ts]),
            "origin_cpu_us_per_req": median([t["origin_cpu_us_per_req"] for t in ts]),
            "errors": sum(t["errors"] for t in ts),
        }

    ratios = {}
    d = summary.get("doorman")
    for other in ("nginx", "haproxy"):
        o = summary.get(other)
        if not d or not o:
            continue

        def ratio(key):
            a, b = d[key], o[key]
            return a / b if a is not None and b else None

        ratios[f"doorman_vs_{other}"] = {
            "rps": ratio("rps"),
            "p99": ratio("p99_us"),
            "proxy_cpu_per_req": ratio("proxy_cpu_us_per_req"),
        }

    fw, d = summary.get("doorman-fw"), summary.get("doorman")
    if fw and d:
        ratios["doorman-fw_vs_doorman"] = {
            "rps": fw["rps"] / d["rps"] if d["rps"] else None,
            "p99": fw["p99_us"] / d["p99_us"] if d["p99_us"] else None,
            "proxy_cpu_per_req": fw["proxy_cpu_us_per_req"] / d["proxy_cpu_us_per_req"]
            if fw["proxy_cpu_us_per_req"] is not None and d["proxy_cpu_us_per_req"]
            else None,
        }

    result = {"meta": meta, "summary": summary, "ratios": ratios, "trials": trials}
    with open(out_json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    rounds = meta["rounds"]
    print()
    print(f"Median of {rounds} round(s), {meta['duration_secs']} s each, "
          f"wrk -t{meta['threads']} -c{meta['connections']} on CPU {meta['loadgen_cpu']}, "
          f"servers on CPU {meta['server_cpu']}")
    if "machine_busy_percent_before" in meta:
        print(f"Machine busy with other work: {meta['machine_busy_percent_before']}% before, "
              f"{meta['machine_busy_percent_after']}% after (of all CPUs; >10% means noisy)")
    print()
    cols = ("target", "req/s", "(min..max)", "p50 ms", "p99 ms",
            "proxy CPU µs/req", "origin CPU µs/req", "errors")
    print(f"{cols[0]:<9} {cols[1]:>9} {cols[2]:>17} {cols[3]:>7} {cols[4]:>7} "
          f"{cols[5]:>16} {cols[6]:>17} {cols[7]:>6}")
    for target, s in summary.items():
        span = f"{s['rps_min']:.0f}..{s['rps_max']:.0f}"
        print(f"{target:<9} {s['rps']:>9.0f} {span:>17} {s['p50_us'] / 1000:>7.3f} "
              f"{s['p99_us'] / 1000:>7.3f} {fmt(s['proxy_cpu_us_per_req'], '.2f'):>16} "
              f"{fmt(s['origin_cpu_us_per_req'], '.2f'):>17} {s['errors']:>6}")
    if ratios:
        print()
        print(f"{'doorman vs':<10} {'req/s':>7} {'p99':>7} {'CPU µs/req':>11}   "
              "(req/s: >1 is faster; p99 and CPU: <1 is better)")
        for name, r in ratios.items():
            other = name.removeprefix("doorman_vs_")
            print(f"{other:<10} {fmt(r['rps'], '.2f'):>7} {fmt(r['p99'], '.2f'):>7} "
                  f"{fmt(r['proxy_cpu_per_req'], '.2f'):>11}")
    if any(s["errors"] for s in summary.values()):
        print()
        print("WARNING: some trials had errors (non-2xx responses or socket errors); "
              "see the raw log.")
    print()
    print(f"JSON: {out_json}")


if __name__ == "__main__":
    main()
