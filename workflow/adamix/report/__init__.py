"""Aggregation, torch-free: metrics (the per-epoch schema), stats, paper (its numbers),
tables, claims, figures, tuning, continuum (claim 1 along the readings), sequential and
decide (seeds until decided), scorecard (a user's rule against the reference), and the
write-up: writeup (the document from rule reproduction_doc's named inputs), sections and
beyond (each section's numbers and tables), render (number formats, Markdown tables, the
Jinja2 environment) and templates/ (the prose)."""
