"""Helpers shared by the tests (fixtures stay in ``tests/conftest.py``).

``common``: constants, ports, spec vectors · ``bodies``: protocol messages · ``seeding``:
accounts and contracts written as ``import`` writes them · ``waiting``: waits on conditions ·
``serve``: a real ``serve`` process · ``inprocess``: the same ASGI app in the test's process ·
``console``: driving the Textual console through Pilot · ``receivers``: alert receivers ·
``projects``: several projects, their keys and customers · ``reconciling``: records paid
through a listener, reports, a fake Data API · ``reconcile_projects``: the same with two
projects and the ``reconcile`` command · ``postgres``: a throwaway PostgreSQL server ·
``plans``: SQLite's query plans · ``edits``: an edit from another process · ``streams``:
payments streamed at a ``serve`` from threads.
"""
