"""The task inspector at ``/__mock/ui/``: a page a developer keeps open while a client runs.

It lives under the control plane's prefix, so the edge admits it as it admits
every ``/__mock/`` route (loopback only, or the admin token). ``api`` adds the
JSON it needs that no other route gave (every task, paged; the accounts; result
thumbnails); ``pages`` serves the HTML and the script, which call the existing
clock, fault, reset and timeline routes as they are.
"""

from __future__ import annotations

from starlette.routing import Route

from . import api, pages

routes: list[Route] = api.routes + pages.routes
