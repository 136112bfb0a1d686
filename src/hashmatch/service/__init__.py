"""A lookup service over an entity registry: one customer's encoded record in, their
persistent entity id out, in milliseconds (``hashmatch serve``, ``hashmatch lookup``).

Modules, one job each: :mod:`~hashmatch.service.payload` (the wire format and its
validation), :mod:`~hashmatch.service.tokens` (parties' API tokens, stored as hashes),
:mod:`~hashmatch.service.index` (the registry in memory: blocking keys, rows, entities),
:mod:`~hashmatch.service.app` (the HTTP routes, on FastAPI/uvicorn) and
:mod:`~hashmatch.service.client` (the party side, on httpx). Needs the ``serve`` extra:
``pip install "hashmatch[serve]"``.
"""
