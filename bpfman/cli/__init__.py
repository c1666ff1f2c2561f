"""The ``bpfman`` command line; its entry point is :func:`bpfman.cli.entry.main`.

The entry point lives in its own module: a function named ``main`` here would be
replaced by the ``bpfman.cli.main`` submodule as soon as that is imported.
"""
