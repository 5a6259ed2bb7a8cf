"""A third-party (ISV) suite in the sandbox: one suite, several generated companies that
authorise it, ``suite_ticket`` pushes and the ISV endpoints (events.md §4). See ``server.py``.
"""

from dingsync.sandbox.isv.config import IsvConfig
from dingsync.sandbox.isv.server import IsvSandboxServer
from dingsync.sandbox.isv.suite import IsvCorp, IsvSuite, sign_ticket

__all__ = ["IsvConfig", "IsvCorp", "IsvSandboxServer", "IsvSuite", "sign_ticket"]
