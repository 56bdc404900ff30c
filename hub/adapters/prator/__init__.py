"""The Prator adapter: the hub's XML contract (``contracts/prator``) in and out."""
