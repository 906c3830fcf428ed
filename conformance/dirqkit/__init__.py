"""dirqkit: the conformance kit for the directory queue format (see SPEC.md).

Rooms, from the top down; a room imports only rooms below it (tests/test_layout.py):

    cli           the ``dirqkit`` command, one module per subcommand
    fuzz          generated op sequences over several implementations, checked by a model, shrunk to cases
    suite         YAML cases -> pytest items -> engine steps -> actors (one driver per role)
    report        results of the runs -> verdicts, matrices, renderers
    crash         crash points and faults under strace, and what each state left
    concurrency   stress scenarios and the history checker
    trees         queue trees on disk: snapshots, kit actions, manifests, fixtures, fsck
    drivers       the protocol, the client, the registry and the drivers themselves

Base modules, importable from every room: ``spec`` (reading SPEC.md) and
``resources`` (where cases, schemas, expectations and fixtures live).
"""

__version__ = "0.1.0"
