"""Model-based differential testing through the drivers (``dirqkit fuzz``).

Holds the oracle (a model of the queue and the checks SPEC.md implies after
each step, each citing its requirement), the Hypothesis state machine whose
steps are driver ops of two to four actors and kit actions on the tree, their
counterparts for queue sets (setoracle, setmachine), race steps (races: an op held on entry to a syscall while
another actor or the kit plays, and what SPEC.md lets the op answer), the search session (budget, rounds, progress) and the writer that turns a shrunk
finding into a YAML case and checks it with ``dirqkit run``.
May import: suite, report, crash, concurrency, trees, drivers, and the base modules.
Imported by: cli.
"""
