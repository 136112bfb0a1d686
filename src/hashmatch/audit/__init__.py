"""Looking at an encoding file before it leaves the silo or is linked.

:mod:`~hashmatch.audit.inspection` reports aggregate statistics of a ``.hme`` (field
completeness, segment fill, duplicate CLKs); :mod:`~hashmatch.audit.privacy` measures the
structural risks an attacker holding the file could exploit and gives a verdict.
"""
