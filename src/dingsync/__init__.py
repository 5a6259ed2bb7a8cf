"""dingsync — your DingTalk (钉钉) organisation in your own database and your own apps."""

__version__ = "0.1.0"
