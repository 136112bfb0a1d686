"""Where a party's records come from: CSV files (plain, gzip-compressed or standard input;
streamed, with a columnar fast path), Parquet files, pandas DataFrames and iterables of
dicts, all yielding chunks of cell text. :func:`hashmatch.encode.sources.rows.open_source`
picks the reader; :func:`~hashmatch.encode.sources.rows.read_head` reads a file's header
and first rows the same way."""
