"""The canonical model: identifiers, payloads, the CloudEvents envelope, topics and contracts.

Imports nothing from the rest of the hub but ``hub.errors``, and no infrastructure.
"""
