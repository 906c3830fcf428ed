"""Drivers: the JSON-lines protocol, the kit's client for it, and the drivers themselves.

The kit side: protocol vocabulary (protocol), the client that spawns and talks
to a driver (client), the known drivers (registry) and driver-check (check).
The driver side: one server loop (server) with adapters for dirqref (ref),
python-dirq (python_dirq) and c-dirq (c_dirq); perl_dirq.pl for Perl,
java/DirqDriver.java for java-dirq (java_dirq compiles and starts it) and
example/ as a template. A driver program imports only protocol and server.
May import: dirqref and the base modules.
Imported by: every other room.
"""
