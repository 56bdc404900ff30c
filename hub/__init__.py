"""svu-hub: an integration hub for samverkan vid utskrivning (Lag 2017:612).

Adapters turn source systems' bytes into canonical events on a log; stream processors
correlate each vårdtillfälle, compute its deadlines, route its meddelanden and keep the
follow-up statistics. See README.md for the two commands that run it.
"""

__version__ = "0.1.0"
