"""Queue trees on disk: reading, building, backdating and judging them, without any driver.

Holds tree snapshots (queuetree), kit actions and tree expectations of cases
(treeops), tree manifests (manifest), the real-producer fixtures (fixtures),
exact copies of a tree (treecopy) and fsck (fsck).
May import: drivers, dirqref, and the base modules.
Imported by: concurrency, crash, report, suite, cli.
"""
