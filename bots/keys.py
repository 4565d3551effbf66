"""The aiohttp `web.AppKey`s under which `create_app` keeps each resource of a process.

One small module, so a route or a test reaches a resource without importing the app factory.
The one key elsewhere is `bots.gateway.ingress.INGRESS`: the gateway's routes import this module,
so a key here naming a class of the gateway would make the two import each other."""

from __future__ import annotations

from aiohttp import web

from bots.channels.base import Channel
from bots.config import Settings
from bots.flows.clock import Clock
from bots.metrics import Metrics
from bots.proactive.scenarios import Scenarios
from bots.proactive.scheduler import Scheduler
from bots.shutdown import Drain
from bots.worker.consumer import Worker
from bots.worker.outbox import Outbox
from nlu import NluModel
from storage.backends import Backends
from storage.db import Database

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
DATABASE = web.AppKey("database", Database)
BACKENDS = web.AppKey("backends", Backends)
NLU: web.AppKey[NluModel] = web.AppKey("nlu")
CHANNELS: web.AppKey[dict[str, Channel]] = web.AppKey("channels")
WORKER = web.AppKey("worker", Worker)
OUTBOX = web.AppKey("outbox", Outbox)
CLOCK = web.AppKey("clock", Clock)
DRAIN = web.AppKey("drain", Drain)
#: the proactive scenarios file, read and checked when the app is created (every role)
PROACTIVE = web.AppKey("proactive", Scenarios)
#: the proactive scheduler of a process with a worker (roles "all" and "worker")
SCHEDULER = web.AppKey("scheduler", Scheduler)
