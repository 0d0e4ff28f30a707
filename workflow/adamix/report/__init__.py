"""Aggregation: metrics, statistics, claims, tables, figures and the write-up (no torch)."""
