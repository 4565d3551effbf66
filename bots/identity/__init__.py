"""Who a message is from: resolving a channel identity to a customer, linking identities of
one person (deep links, verified phones), merging and un-merging customers, and the
customer-keyed session through a merge.

`resolver` (the worker's identity step, with its cache), `service` (IdentityService),
`links`, `merges`, `sessions` and `events` (link events from a channel). May import:
bots.config, bots.messages, storage. Never the worker (the identity step takes a turn as its own
`resolver.TurnIdentity`), the flows (`events` is given the linking flow's answer as a
`LinkReply`) or the gateway.
"""
