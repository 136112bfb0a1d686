# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # hashmatch from a notebook
#
# Two departments of one company hold customer files with different columns, formats and
# typing errors. Each encodes its own file with the shared schema and secret; the encodings
# (no PII) are linked into entities; the table that comes back tells each row its entity.
#
# Everything below needs only `import hashmatch as hm` (and pandas for the tables). Open
# this file in Jupyter with jupytext, or run it as a script: `python examples/notebook.py`.

# %%
import tempfile
from pathlib import Path

import pandas as pd

import hashmatch as hm

work = Path(tempfile.mkdtemp(prefix="hashmatch-notebook-"))

# %% [markdown]
# ## Some data
#
# `hm.synthesize` writes synthetic parties with a ground truth: a CRM and a call centre,
# each with its own columns, a shared `schema.toml`, and `truth.csv`. Read the files with
# `dtype=str`, so that ids, phone numbers and postcodes keep their exact text.

# %%
data = hm.synthesize(work / "data", entities=400, seed=7, parties=["crm", "callcentre"])
df_crm = pd.read_csv(data.parties["crm"].csv, dtype=str)
df_calls = pd.read_csv(data.parties["callcentre"].csv, dtype=str)
df_calls.head(3)

# %% [markdown]
# ## Schema and secret
#
# The schema (fields, normalisers, encodings) and the 256-bit linkage secret are shared by
# all parties. In a real deployment the secret comes from `hashmatch keygen` and is loaded
# with `hm.LinkageSecret.load("linkage.secret")`; here we draw one.

# %%
schema = hm.load_schema(data.schema)  # a .toml/.json path, or the document as a dict
secret = hm.LinkageSecret.generate()
[field.name for field in schema.fields]

# %% [markdown]
# ## Encode each party
#
# A *mapping* says which of the party's columns feed which schema field. It can be a dict,
# a `.toml` file or a `hm.PartyMapping`. The call centre keeps the whole name in one column,
# surname first.

# %%
df_calls.loc[2, "caller_ref"] = None  # a row nobody could rejoin: it will be rejected
crm_mapping = {
    "record_id": "customer_id",
    "phone_region": "US",
    "date_formats": ["%Y-%m-%d"],
    "fields": {
        "date_of_birth": {"column": "dob"},
        "address": {"column": "street"},
        "postcode": {"column": "zip_code"},
    },
}
crm = hm.encode(df_crm, schema=schema, secret=secret, party="crm", mapping=crm_mapping)
calls = hm.encode(
    df_calls,
    schema=schema,
    secret=secret,
    party="callcentre",
    mapping=data.parties["callcentre"].mapping,  # the same thing, from a file
)
crm

# %% [markdown]
# A batch shows how many rows were encoded and rejected (a required field missing, or no
# record id, like row 3 of the call centre's), and, in Jupyter, per field how many rows
# hold a valid value. Rejected rows are listed by row number, column and reason, never
# with their values, and they stay in the tables below with the status `rejected`:

# %%
calls, calls.rejects

# %% [markdown]
# ## Link
#
# `hm.link` takes batches or `.hme` files. With `dedup=True` it also finds repeats within a
# party. The threshold is chosen from the score distribution unless you pass one.

# %%
res = hm.link([crm, calls], dedup=True)
print(res.threshold.explanation)
res

# %% [markdown]
# `res.to_pandas()` has one row per input row: the party, its row number in the input, its
# record id, its row token, its entity id and a status (`matched`, `unmatched`, or
# `rejected` with the reason). Join it back to your own DataFrame on the row number (row k
# is `df.iloc[k - 1]`) or the record id.

# %%
table = res.to_pandas()
table.status.value_counts()

# %%
crm_entities = table[table.party == "crm"].set_index("record_id").entity_id
df_crm.assign(entity_id=df_crm.customer_id.map(crm_entities)).head(3)

# %% [markdown]
# ## How good is it?
#
# Against the ground truth (`party, record_id, entity_id`): pairwise and B-cubed
# precision, recall and F1. The rejected row cannot be scored: it is counted instead.

# %%
truth = pd.read_csv(data.truth, dtype=str)
scores = hm.evaluate(table, truth)
scores

# %% [markdown]
# ## The same with files, as in a deployment
#
# Each party writes its `.hme` file (and keeps its lookup file, the only link from row
# tokens back to its record ids). The coordinator links the files without the secret and
# writes the results folder; its tables know rows by row token only.

# %%
crm.write(work / "crm.hme", lookup=work / "crm.lookup")
calls.write(work / "callcentre.hme", lookup=work / "callcentre.lookup")
at_coordinator = hm.link([work / "crm.hme", work / "callcentre.hme"], dedup=True)
files = at_coordinator.write(work / "results")
sorted(path.name for path in files.entities.parent.iterdir())
