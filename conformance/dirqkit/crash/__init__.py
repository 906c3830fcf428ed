"""Crash points and injected faults: strace stops or fails one syscall of an op, then the tree is inspected.

Holds syscall tracing (syscalls), the exploration of every crash or fault
state (explorer), the reading of what each state left (inspection) and the
syscall profiles of ops (profile).
May import: concurrency, trees, drivers, and the base modules.
Imported by: suite (and the layers above it).
"""
