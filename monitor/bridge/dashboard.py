"""The local web dashboard: a read-only HTTP server from the standard library.

http.server is enough for a page a few people at home look at: no framework to keep
up to date, nothing to build; bounded_server.py caps its connections and times them
out, host_names.py answers only to this dashboard's own names. GET is the only method;
every other one is answered 405 (there is nothing to change). It binds to the
loopback address unless the config opts in to the LAN. Each response carries a
Content-Security-Policy that allows only this page's own inline style and script
(by nonce) and requests back to this server.
"""

from __future__ import annotations

import http.server
import re
import secrets
import socket
import sys
import threading
from typing import Callable
from urllib.parse import urlsplit

from monitor.bridge import page
from monitor.bridge.bounded_server import BoundedHTTPServer, DropReport
from monitor.bridge.host_names import HostCheck, host_of
from monitor.bridge.live import LiveState
from monitor.bridge.session_log import TripRow, newest_trip_id, read_sessions, read_trips
from monitor.bridge.trip_files import TripFile, find_record, read_trip_folder
from monitor.bridge.trip_words import TripWords

# A plot of a trip record: (record) -> (content type, bytes), or None with the reason.
PlotMaker = Callable[[TripFile], "tuple[str, bytes] | str"]


class Dashboard:
    """What the pages are made from; the server and its handler only route to it."""

    def __init__(self, live: LiveState, *, device_id: str, session_db: str, trip_dir: str | Callable[[], str],
                 plot: PlotMaker | None = None, words: TripWords | None = None) -> None:
        self.live = live
        self.words = words or TripWords()
        self.device_id = device_id
        self.session_db = session_db
        self._trip_dir = trip_dir  # a folder, or what says the folder now (the daemon's, or a bench run's)
        self.plot = plot

    @property
    def trip_dir(self) -> str:
        return self._trip_dir() if callable(self._trip_dir) else self._trip_dir

    def _trips(self) -> list[TripRow]:
        try:
            return read_trips(self.session_db)
        except Exception:  # a log being created or moved away: show the page without it
            return []

    def home(self, nonce: str) -> str:
        trips = self._trips()
        folder = read_trip_folder(self.trip_dir)
        records = {t.id: r for t in trips if (r := find_record(folder, t.wall_time)) is not None}
        try:
            sessions = read_sessions(self.session_db)
        except Exception:
            sessions = []
        return page.render_home(self.live.view(), device_id=self.device_id, trips=trips, sessions=sessions,
                                folder=folder, records_for=records, nonce=nonce, has_plots=self.plot is not None,
                                words=self.words)

    def live_json(self) -> bytes:
        return page.dumps(page.live_json(self.live.view(), newest_trip_id(self.session_db)))

    def trip(self, trip_id: int, nonce: str) -> str | None:
        trip = next((t for t in self._trips() if t.id == trip_id), None)
        if trip is None:
            return None
        record = find_record(read_trip_folder(self.trip_dir), trip.wall_time)
        return self._trip_page(trip, record, nonce)

    def record(self, stamp: str, nonce: str) -> str | None:
        record = next((r for r in read_trip_folder(self.trip_dir).records if r.stamp == stamp), None)
        return None if record is None else self._trip_page(None, record, nonce)

    def _trip_page(self, trip: TripRow | None, record: TripFile | None, nonce: str) -> str:
        if record is None:
            note = "no trip record was found for this trip (it is written into record.trip_dir by the daemon)"
            url = None
        elif self.plot is None:
            note = ("plots need the `plot` extra (matplotlib) and treadguard's trip plots, which this "
                    "installation does not have")
            url = None
        elif record.data_path is None:
            note = "the record's sensor data is not readable by the bridge's user"
            url = None
        else:
            note, url = "", f"/plot/{record.stamp}.svg"
        return page.render_trip(trip, record, device_id=self.device_id, plot_url=url, plot_note=note, nonce=nonce,
                                words=self.words)

    def plot_of(self, stamp: str) -> tuple[str, bytes] | None:
        if self.plot is None:
            return None
        record = next((r for r in read_trip_folder(self.trip_dir).records if r.stamp == stamp), None)
        if record is None or record.data_path is None:
            return None
        made = self.plot(record)
        return None if isinstance(made, str) else made


TRIP = re.compile(r"^/trip/(\d{1,12})$")
RECORD = re.compile(r"^/record/(\d{8}-\d{6}-\d{3})$")
PLOT = re.compile(r"^/plot/(\d{8}-\d{6}-\d{3})\.svg$")


class Handler(http.server.BaseHTTPRequestHandler):
    dashboard: Dashboard  # set on the subclass made by DashboardServer
    hosts: HostCheck  # likewise
    server_version = "treadguard-bridge"
    sys_version = ""

    def parse_request(self) -> bool:
        is_whole = super().parse_request()
        self.server.head_read(self.request)  # the head is in: answering now, no longer a waiting connection
        return is_whole

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        nonce = secrets.token_urlsafe(12)
        try:
            if not self.hosts.allows(self.headers.get("Host")):
                return self._wrong_host()
            if path == "/":
                return self._send(200, "text/html; charset=utf-8", self.dashboard.home(nonce).encode(), nonce)
            if path == "/api/live":
                return self._send(200, "application/json", self.dashboard.live_json(), nonce)
            if (m := TRIP.match(path)) and (body := self.dashboard.trip(int(m.group(1)), nonce)) is not None:
                return self._send(200, "text/html; charset=utf-8", body.encode(), nonce)
            if (m := RECORD.match(path)) and (body := self.dashboard.record(m.group(1), nonce)) is not None:
                return self._send(200, "text/html; charset=utf-8", body.encode(), nonce)
            if (m := PLOT.match(path)) and (plot := self.dashboard.plot_of(m.group(1))) is not None:
                return self._send(200, plot[0], plot[1], nonce)
            self._send(404, "text/plain; charset=utf-8", b"not found\n", nonce)
        except BrokenPipeError:
            pass

    def _wrong_host(self) -> None:
        host = host_of(self.headers.get("Host")) or "(none)"
        body = (f"this dashboard does not answer to the name {host[:80]}: open it by this Pi's name or "
                f"address, or add the name to [bridge] dashboard_hosts\n").encode()
        self._send(421, "text/plain; charset=utf-8", body, "")

    def _not_allowed(self) -> None:
        self._send(405, "text/plain; charset=utf-8", b"read only: only GET is allowed\n", "", allow=True)

    # every method but GET, the common and the rare, is refused the same way
    def __getattr__(self, name: str):
        if name.startswith("do_"):
            return self._not_allowed
        raise AttributeError(name)

    def _send(self, code: int, content_type: str, body: bytes, nonce: str, *, allow: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy",
                         f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
                         f"connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
                         f"frame-ancestors 'none'")
        if allow or code == 405:
            self.send_header("Allow", "GET")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # a request log is not worth the journal's space
        pass

    def log_error(self, format: str, *args) -> None:
        if format.startswith("Request timed out"):
            self.server.report.note("connection(s) silent too long")


class DashboardServer:
    """The server on its own thread; `address` is where it really listens (port 0: a free one)."""

    def __init__(self, dashboard: Dashboard, bind: str, port: int, *, extra_hosts: tuple[str, ...] = (),
                 say: Callable[[str], None] | None = None, **limits) -> None:
        handler = type("DashboardHandler", (Handler,), {"dashboard": dashboard,
                                                        "hosts": HostCheck(bind, extra_hosts)})
        server_class = BoundedHTTPServer
        if ":" in bind:
            server_class = type("V6Server", (BoundedHTTPServer,), {"address_family": socket.AF_INET6})
        self.server = server_class((bind, port), handler, report=DropReport(say or _say), **limits)
        self.address = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="dashboard", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def start(self) -> "DashboardServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(2.0)


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")  # one write: lines of other threads never run into it
    sys.stderr.flush()
