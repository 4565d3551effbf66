"""Who a message is from: resolving a channel identity to a customer, linking identities of
one person (deep links, verified phones), merging and un-merging customers, and the
customer-keyed session through a merge.

`resolver` (the worker's identity step, with its cache), `service` (IdentityService),
`links`, `merges`, `sessions` and `events` (link events from a channel). May import:
bots.config, bots.messages, bots.worker.turn, bots.flows (`events`: the linking flow's
texts), storage. Never the gateway.
"""
