"""The worker: one turn of one message, from the queue to the replies sent.

`consumer` (the queue handler and the turn's steps, in order), `turn` (the turn's context and
the step chain), `outbox` (sending stored replies, with retries and a send lease) and
`handoff_outlet` (the handoff package's way into the outbox). May import: bots.channels,
bots.flows, bots.identity, bots.messages, bots.metrics, bots.gateway.ingress (the inbox key),
storage, nlu, handoff.
"""
