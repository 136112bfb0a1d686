"""Version markers. Every persisted artefact records the marker that governs its layout."""

__version__ = "0.1.0"

#: Bumped whenever the bits an encoder produces for the same input, schema and secret change.
#: `link` refuses to compare files written by different encoder versions.
ENCODER_VERSION = 1

#: Version of the .hme container layout (see hashmatch.encfile).
FORMAT_VERSION = 1

#: Highest linkage-schema version this release understands.
SCHEMA_VERSION = 1
