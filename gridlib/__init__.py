"""What Grid's components, stack program, bootstrap and tools share: the strict config base model, Google
Cloud's limits and identifier types, and one-line config errors.

This package imports nothing else from the project (tests/test_structure.py guards it), so a component that
uses it can be lifted out of Grid together with it.
"""
