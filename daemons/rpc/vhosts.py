"""Creates and deletes vhosts: through `rabbitmqctl` on the broker's host, or the management HTTP API."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request


class VhostError(RuntimeError):
    """The vhost could not be made or removed; the text says how it was tried and what failed."""


class RabbitmqctlAdmin:
    """Administers the broker on this host; needs root (or the rabbitmq user's Erlang cookie)."""

    def __init__(self, command: str = "rabbitmqctl") -> None:
        self.command = command

    def _run(self, *args: str) -> str:
        if shutil.which(self.command) is None:
            raise VhostError(
                f"{self.command} not found: run this on the broker's host, or set [amqp] management_url"
            )
        done = subprocess.run([self.command, "-q", *args], capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise VhostError(f"`{self.command} {' '.join(args)}` failed: {detail[-1] if detail else done.returncode}")
        return done.stdout

    def list_vhosts(self) -> list[str]:
        out = self._run("list_vhosts", "--no-table-headers")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def create(self, vhost: str, user: str) -> bool:
        """Create the vhost if missing and give `user` full rights in it; True if it was created."""
        created = vhost not in self.list_vhosts()
        if created:
            self._run("add_vhost", vhost)
        self._run("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        return created

    def delete(self, vhost: str) -> None:
        if vhost in self.list_vhosts():
            self._run("delete_vhost", vhost)


class ManagementAdmin:
    """Administers the broker through its management HTTP API (`[amqp] management_url`)."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.timeout = timeout
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"

    def _request(self, method: str, path: str, body: dict | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", self._auth)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise VhostError(f"{method} {self.url}{path}: HTTP {exc.code} {exc.reason}") from exc
        except OSError as exc:
            raise VhostError(f"{method} {self.url}{path}: {exc}") from exc
        return json.loads(payload) if payload else None

    @staticmethod
    def _quote(vhost: str) -> str:
        return urllib.parse.quote(vhost, safe="")

    def list_vhosts(self) -> list[str]:
        listed = self._request("GET", "/api/vhosts")
        return [item["name"] for item in listed] if isinstance(listed, list) else []

    def create(self, vhost: str, user: str) -> bool:
        created = vhost not in self.list_vhosts()
        if created:
            self._request("PUT", f"/api/vhosts/{self._quote(vhost)}", {})
        self._request(
            "PUT",
            f"/api/permissions/{self._quote(vhost)}/{urllib.parse.quote(user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )
        return created

    def delete(self, vhost: str) -> None:
        if vhost in self.list_vhosts():
            self._request("DELETE", f"/api/vhosts/{self._quote(vhost)}")


def admin_for(management_url: str | None, user: str, password: str) -> RabbitmqctlAdmin | ManagementAdmin:
    if management_url:
        return ManagementAdmin(management_url, user, password)
    return RabbitmqctlAdmin()
