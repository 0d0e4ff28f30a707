"""The study's plan: config, settings, cells and paths (no torch)."""
