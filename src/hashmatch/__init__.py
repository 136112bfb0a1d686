"""hashmatch: privacy-preserving identity matching.

Parties encode their own PII locally into keyed Bloom-filter and keyed-hash encodings
(``hashmatch encode``); a coordinator that never holds the secret links the encodings
(``hashmatch link``). This module is the stable public facade; submodules named with a
leading underscore are private.
"""

from hashmatch._version import ENCODER_VERSION, FORMAT_VERSION, __version__
from hashmatch.errors import HashmatchError

__all__ = ["ENCODER_VERSION", "FORMAT_VERSION", "HashmatchError", "__version__"]
