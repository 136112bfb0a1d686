"""Where a party's records come from: CSV files (streamed, with a columnar fast path),
pandas DataFrames and iterables of dicts, all yielding chunks of cell text."""
