"""Helpers shared by the tests (fixtures stay in ``tests/conftest.py``).

``common``: constants, ports, spec vectors · ``bodies``: protocol messages · ``seeding``:
accounts and contracts written as ``import`` writes them · ``waiting``: waits on conditions ·
``serve``: a real ``serve`` process · ``inprocess``: the same ASGI app in the test's process ·
``console``: driving the Textual console through Pilot · ``receivers``: alert receivers.
"""
