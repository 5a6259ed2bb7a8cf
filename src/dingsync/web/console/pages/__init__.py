"""One module per console page (``router`` in each, registered in
:data:`dingsync.web.console.PAGE_ROUTERS`)."""
