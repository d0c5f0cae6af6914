"""Test support for MQTT: a real mosquitto on a free loopback port with its own config,
and a subscriber that keeps every message it sees."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/sbin/mosquitto") if Path(p).is_file()), None)
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (`apt-get install mosquitto`; .ci/run installs it)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto in the foreground, listening on 127.0.0.1 only, no persistence."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        """users: name -> password; with them, anonymous clients are refused."""
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        access = "allow_anonymous true\n"
        if users:
            passwords = folder / "mosquitto.passwd"
            passwords.write_text("")
            for name, password in users.items():
                subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b",
                                str(passwords), name, password],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            access = f"allow_anonymous false\npassword_file {passwords}\n"
        # started as root, mosquitto would become the user "mosquitto", who cannot read the test's folder
        me = pwd.getpwuid(os.geteuid()).pw_name
        self.config.write_text(f"listener {self.port} 127.0.0.1\nuser {me}\n{access}persistence false\n"
                               f"log_dest stderr\nlog_type all\n")
        self.log = folder / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Broker":
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=self.log.open("w"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto did not start: {self.log.read_text()}")
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not open its port in 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool


_SUBSCRIBERS = itertools.count()


class Subscriber:
    """Subscribes to `#` and keeps what arrives; wait_for() waits (bounded) for a message."""

    def __init__(self, port: int, topics: str = "#") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[Message] = []
        self._cond = threading.Condition()
        # each its own client id: a broker drops a client when another connects with the same id
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"test-subscriber-{port}-{next(_SUBSCRIBERS)}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topics, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self._cond:
            self.messages.append(Message(message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def on(self, topic: str) -> list[Message]:
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, predicate, timeout_s: float = 10.0, what: str = "a message") -> Message:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for m in self.messages:
                    if predicate(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    topics = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"no {what} within {timeout_s} s; topics seen: {topics}")
                self._cond.wait(left)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
