"""Benchmarks behind ``p2peval bench ...``: each measures one stage against its own ceiling."""
