"""The demo: a simulator that plays a county's traffic, and the feed that plays it into a hub."""
