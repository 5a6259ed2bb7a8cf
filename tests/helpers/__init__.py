"""Helpers the tests share, imported as ``helpers.<module>`` (``tests/`` is on ``pythonpath``).

Test modules never import another test module: what two of them need lives here or in a
``conftest.py`` fixture.
"""
