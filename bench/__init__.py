"""Benchmarks and the synthetic city generator (run by hand; not part of the test suite)."""
