"""The privacy feature inside `create_app`: one `PrivacyService` per process (``app[PRIVACY]``),
the admin routes on gateway roles, and on worker roles the resumption of erasure jobs a stopped
process left unfinished (and a drain of running ones at shutdown)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bots.config import Settings
from bots.flows.privacy import PrivacyFlow
from bots.gateway.privacy_api import privacy_routes
from bots.keys import BACKENDS, CLOCK, DATABASE
from bots.privacy.service import PrivacyService

__all__ = ["PRIVACY", "privacy_flow", "setup_privacy"]

PRIVACY = web.AppKey("privacy", PrivacyService)


def setup_privacy(app: web.Application, settings: Settings, role: str) -> PrivacyService:
    """Call after the database and backends contexts are registered."""
    service = PrivacyService(settings, lambda: (app[DATABASE], app[BACKENDS]), app[CLOCK])
    app[PRIVACY] = service
    if role in ("all", "gateway"):
        resources = lambda: (app[DATABASE], app[BACKENDS])  # noqa: E731
        app.add_routes(privacy_routes(settings, resources, lambda: service))
    app.cleanup_ctx.append(_jobs(service, resume=role in ("all", "worker")))
    return service


def privacy_flow(app: web.Application) -> PrivacyFlow:
    """The chat's privacy flow on this app's service (for the dialogue's extra flows)."""
    return PrivacyFlow(app[PRIVACY])


def _jobs(
    service: PrivacyService, *, resume: bool
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        if resume:
            await service.resume_unfinished()
        yield
        await service.close()

    return context
