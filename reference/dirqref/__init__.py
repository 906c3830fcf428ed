"""dirqref: the reference implementation of the directory queue format (SPEC.md)."""
