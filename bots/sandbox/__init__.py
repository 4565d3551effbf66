"""In-process sandboxes of the platforms' APIs, for the simulator.

The simulator aims each real channel adapter at these small aiohttp applications instead of
api.telegram.org, chatapi.viber.com and graph.instagram.com. The adapter sends exactly what it
would send to the platform; the sandbox checks the credentials, records the message and answers
the way the platform does, so the simulator page can show the replies as that platform would.
"""

from bots.sandbox.apis import SANDBOX_PREFIX, SandboxCredentials, sandbox_app
from bots.sandbox.log import Delivery, SandboxLog

__all__ = ["SANDBOX_PREFIX", "Delivery", "SandboxCredentials", "SandboxLog", "sandbox_app"]
