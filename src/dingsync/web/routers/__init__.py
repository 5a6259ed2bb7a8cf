"""The service's routers, one module per area (auth, jsapi, directory, admin, exports, and the
data areas as they land)."""
