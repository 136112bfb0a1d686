"""Moving encodings between silos: sealed envelopes, key files and coordinator intake.

:mod:`~hashmatch.seal.envelope` encrypts a ``.hme`` for the coordinator and signs it;
:mod:`~hashmatch.seal.keyfiles` holds the asymmetric key files (unrelated to the linkage
secret); :mod:`~hashmatch.seal.intake` verifies and opens what the parties sent before the
coordinator links it.
"""
