"""Run one benchmark; its last line of output is a JSON object with its figures."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# name -> module under bench/ with a ``run(args: list[str]) -> dict`` and a docstring
BENCHMARKS = {
    "startup": "bench.startup",
    "demo_start": "bench.demo_start",
    "ami_throughput": "bench.ami_throughput",
    "ami_stall": "bench.ami_stall",
    "callerid_lookup": "bench.callerid_lookup",
    "screen_pop": "bench.screen_pop",
    "csv_import": "bench.csv_import",
    "contact_search": "bench.contact_search",
    "dialer_simulation": "bench.dialer_simulation",
    "originate_rate": "bench.originate_rate",
    "reports": "bench.reports",
    "wallboard_fanout": "bench.wallboard_fanout",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", nargs="?", help="benchmark to run")
    parser.add_argument("--list", action="store_true", help="list the benchmarks")
    args, rest = parser.parse_known_args(argv)
    if args.list or not args.name:
        for name, module in BENCHMARKS.items():
            doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()[0]
            print(f"{name}\t{doc}")
        return 0
    if args.name not in BENCHMARKS:
        print(f"unknown benchmark {args.name!r}; try --list", file=sys.stderr)
        return 2
    result = importlib.import_module(BENCHMARKS[args.name]).run(rest)
    print(json.dumps({"name": args.name, **result}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
