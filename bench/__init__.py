"""Benchmarks for maskface."""
