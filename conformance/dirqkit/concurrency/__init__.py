"""Concurrency: stress scenarios run inside drivers, and the checker that judges their histories.

Holds the Scene a scenario step gets from the suite (scene), extra driver
processes per role (workers), the stress scenario (stress), the history
checker (checker) and the CPUs a worker's processes run on (cores).
May import: trees, drivers, and the base modules.
Imported by: crash, report, suite, cli.
"""
