"""What omnirelay keeps about a customer, handed over or erased on request (issue 16).

- `export`: one machine-readable JSON document of everything kept about a customer (and the
  profiles merged into them), served by the admin API, the CLI and a signed link in the chat.
- `erasure`: one resumable job that anonymises the customer in every store (SQL tables, Redis
  or the in-memory backends, the NLU review log), tells the help desk with a signed
  ``customer.erased`` webhook and leaves a receipt with counts per store.
- `service`: both behind one object the API, the chat flow and the CLI share.
- `retention`: the scheduled purge of data older than the business keeps it (helper S4's).
"""
