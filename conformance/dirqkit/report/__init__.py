"""Reports: what the runs mean to a user (results, verdicts, matrices and their renderers).

May import: crash, concurrency, trees, drivers, and the base modules (spec, resources).
Imported by: suite and cli.
"""
