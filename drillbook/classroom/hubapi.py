"""A student driven as a program through JupyterHub's login form and REST API (stdlib only).

The way hubtraf simulates users: log in with the hub's login form (its xsrf cookie and field),
then, as the logged-in student, ask the REST API for a token, start the server and wait until
it is ready, and open a notebook session (a kernel) on the student's own server through the
proxy. Every call goes through the proxy's public address, as a browser's would.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class HubError(Exception):
    """The hub refused or failed a step; the message names the step and the answer."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class StudentClient:
    """One student's conversation with the hub at ``base_url`` (``http://127.0.0.1:8000``)."""

    base_url: str
    name: str
    timeout_s: float = 120.0
    token: str = ""

    def __post_init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    # --- the hub ----------------------------------------------------------------------------
    def log_in(self, password: str) -> None:
        """Log in with the login form, then get an API token as the logged-in student."""
        page = self._call("GET", "/hub/login", expect=(200,))
        match = re.search(r'name="_xsrf" value="([^"]+)"', page.decode())
        fields = {"username": self.name, "password": password}
        if match:
            fields["_xsrf"] = match.group(1)
        self._call("POST", "/hub/login", form=fields, expect=(302,), step="log in")
        xsrf = next((c.value for c in self.cookies if c.name == "_xsrf"), "")
        reply = self._call("POST", f"/hub/api/users/{self.name}/tokens",
                           body={"note": "drillbook classroom client", "expires_in": 7200},
                           headers={"X-XSRFToken": xsrf or ""}, expect=(200, 201),
                           step="request a token")
        self.token = str(json.loads(reply)["token"])

    def start_server(self) -> float:
        """Start the student's server and wait until it is ready; returns the seconds taken."""
        started = time.monotonic()
        self._call("POST", f"/hub/api/users/{self.name}/server", expect=(201, 202, 400),
                   step="start the server")
        while time.monotonic() - started < self.timeout_s:
            user = json.loads(self._call("GET", f"/hub/api/users/{self.name}",
                                         step="read the server state"))
            server = user.get("servers", {}).get("", {})
            if server.get("ready"):
                return time.monotonic() - started
            if not server.get("pending") and not server and time.monotonic() - started > 5:
                raise HubError(f"{self.name}: the server stopped while starting (it exited, or "
                               "the hub gave up after Spawner.start_timeout: the hub's log "
                               "says which)")
            time.sleep(0.5)
        raise HubError(f"{self.name}: the server was not ready after {self.timeout_s:.0f} s")

    def stop_server(self) -> None:
        """Stop the student's server and wait until it is gone."""
        self._call("DELETE", f"/hub/api/users/{self.name}/server", expect=(202, 204, 400),
                   step="stop the server")
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            user = json.loads(self._call("GET", f"/hub/api/users/{self.name}"))
            if not user.get("servers"):
                return
            time.sleep(0.3)

    # --- the student's own server -----------------------------------------------------------
    def open_notebook(self, path: str) -> str:
        """Start a kernel for notebook ``path`` (relative to the home), as JupyterLab does;
        returns the kernel id. The kernel's working folder is the notebook's."""
        reply = self._call("POST", f"/user/{self.name}/api/sessions",
                           body={"path": path, "name": path.rsplit("/", 1)[-1],
                                 "type": "notebook", "kernel": {"name": "python3"}},
                           expect=(200, 201), step=f"open {path}")
        return str(json.loads(reply)["kernel"]["id"])

    def list_contents(self, path: str) -> list[str]:
        """Names in a folder of the student's home (the contents API)."""
        reply = json.loads(self._call("GET", f"/user/{self.name}/api/contents/{path}",
                                      step=f"list {path}"))
        return sorted(str(item["name"]) for item in reply.get("content", []))

    def kernel_url(self, kernel_id: str) -> str:
        """The websocket address of a kernel's channels."""
        base = urllib.parse.urlsplit(self.base_url)
        scheme = "wss" if base.scheme == "https" else "ws"
        return f"{scheme}://{base.netloc}/user/{self.name}/api/kernels/{kernel_id}/channels"

    def status_of(self, path: str) -> int:
        """The HTTP status of a GET with this student's token (403 for another's server)."""
        try:
            self._call("GET", path, expect=(200,))
        except HubError as exc:
            return exc.status
        return 200

    def write_file(self, path: str, text: str) -> None:
        """Save a text file in the student's home (the contents API, as JupyterLab saves)."""
        self._call("PUT", f"/user/{self.name}/api/contents/{path}",
                   body={"type": "file", "format": "text", "content": text},
                   expect=(200, 201), step=f"save {path}")

    def request(self, method: str, path: str, body: object = None,
                expect: tuple[int, ...] = (200,)) -> bytes:
        """Any call with this student's token (``path`` from the hub's root); HubError with
        the status when the reply is not one of ``expect``."""
        return self._call(method, path, body=body, expect=expect)

    # --- plumbing ---------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, body: object = None,
              form: dict[str, str] | None = None, headers: dict[str, str] | None = None,
              expect: tuple[int, ...] = (200,), step: str = "") -> bytes:
        data, all_headers = None, dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
        if self.token:
            all_headers["Authorization"] = f"token {self.token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=all_headers)
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                status, payload = int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, bytes(exc.read())
        if status not in expect:
            raise HubError(f"{self.name}: {step or method + ' ' + path}: HTTP {status}: "
                           f"{payload[:300].decode(errors='replace')}", status)
        return payload
