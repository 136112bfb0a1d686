"""What sits behind ``import hashmatch as hm``: the pieces of the public facade that belong
to no single stage. :mod:`~hashmatch._api.callable_package` lets ``hm.encode``,
``hm.link`` and ``hm.evaluate`` be both the stage packages and the functions a notebook
calls; :mod:`~hashmatch._api.linking` is ``hm.link``. Nothing here is imported until a
facade name is used, so ``import hashmatch`` and the CLI stay light.
"""
