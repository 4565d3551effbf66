"""The worker: one turn of one message, from the queue to the replies sent.

`consumer` (the queue handler; where a message is acked), `steps` (the turn's steps, listed in
the order they run), `store` (transcript + outbox rows in one commit, and the repair of a
redelivered turn), `turn` (the turn's context and the `Step` type), `outbox` (sending stored
replies, with retries and a send lease) and `handoff_outlet` (the handoff package's way into
the outbox). May import: bots.channels, bots.flows, bots.identity, bots.messages,
bots.metrics, storage, nlu, handoff. Never the gateway (the inbox key is `bots.messages`).
"""
