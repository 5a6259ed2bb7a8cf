"""The directory (通讯录) the sandbox serves: built in, not an area (``sandbox/areas.py``).

The company itself is ``dingsync.sandbox.company``; here are its precomputed lookups
(``index``) and the DingTalk handlers by concern: ``users``, ``departments``, ``search`` (v1.0
contact APIs), ``leavers`` (leave records, dimission), ``roles`` and the shared ``lookup``s, plus
the custom-role mutations (``role_mutations``). Contacts mutations that emit events live in the
``events`` area.
"""
