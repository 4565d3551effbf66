"""The gateway: everything between an HTTP request and an enqueued `InboundMessage`.

`ingress` (the webhook routes' shared dedup and publish into the durable inbox and queue),
`http` (JSON errors, health, readiness, metrics), `admin_api`, `web` (the web chat page) and
`simulator` (the sandbox console's routes). The channel-specific webhook parsing lives in
`bots.channels`. May import: bots.channels, bots.config, bots.keys, bots.messages,
bots.metrics, bots.sandbox, bots.identity (the admin API's merge undo), storage. Never the
worker or flows.
"""
