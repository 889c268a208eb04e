"""The command line, on top of every layer: each command's parsing and printing.

``main`` is the entry (``kassa24-console``, ``python -m kassa24_console``); each command's own
options and output live in a module of their own here, imported only when the command is
named, so that one command does not pay for importing the others. Below this package nothing
parses arguments or prints (a test in ``tests/test_boundaries.py`` walks the modules).
"""
