"""Registry core: addresses, profile records, keys, rotation, redirects, private chains.

Pure logic: no I/O, no clock, no randomness. Imports nothing else from the project.
"""
