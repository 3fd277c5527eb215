"""One module per source: each reads an API or file and upserts typed rows into the warehouse."""
