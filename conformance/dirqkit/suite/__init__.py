"""The suite: YAML cases become pytest items, and each item runs through the engine.

Holds case loading (caseload), role expansion (roles), the pytest plugin
(plugin), driver connections per role (actors), the step engine (engine,
fixture_steps) and expected failures (expectations).
May import: report, crash, concurrency, trees, drivers, and the base modules.
Imported by: cli.
"""
