"""dirqkit: the conformance kit for the directory queue format (see SPEC.md)."""

__version__ = "0.1.0"
