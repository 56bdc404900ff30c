"""The LifeCare adapter: deliveries over HTTP/JSON (``render`` pure, ``transport`` the I/O)."""
