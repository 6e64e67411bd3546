"""Checks that the benchmarks themselves still run."""
