"""Side-by-side benchmark of `duetime dev` and Quirrel's open-source server (Redis-backed).

    .venv/bin/python -m bench.peer --workload all --messages 2000

One receiver process and one publishing client serve both peers; every (workload, peer) pair
gets a freshly started server so that no peer idles, drains leftovers or carries state into
another's measurement. See bench/peer/__main__.py for the options.
"""
