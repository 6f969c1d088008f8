"""The network guard is on for every test: leaving the machine fails, loopback works."""

import socket
import subprocess
import sys

import pytest

from tests.netguard.guard import NetworkBlocked


def test_connection_to_a_public_address_is_blocked():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect(("93.184.216.34", 443))


def test_name_lookup_of_a_public_host_is_blocked():
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("api.stlouisfed.org", 443)


def test_private_ranges_are_blocked_too():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect(("10.0.0.1", 53))


def test_loopback_is_allowed():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass


def test_subprocesses_started_with_the_guard_are_blocked(tmp_path):
    from tests.support.server import guarded_env

    code = "import socket; socket.create_connection(('8.8.8.8', 53), timeout=1)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=guarded_env({}), capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert "network guard" in result.stderr


def test_subprocesses_started_with_the_guard_print_their_threads_on_sigusr1():
    """What Server.stacks() relies on: a hung server can be asked where each of its threads is."""
    from tests.support.server import guarded_env

    code = (
        "import os, signal, threading, time\n"
        "def parked():\n    time.sleep(5)\n"
        "threading.Thread(target=parked, name='parked', daemon=True).start()\n"
        "time.sleep(0.2)\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "time.sleep(0.2)\n"
        "print('still running')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=guarded_env({}), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "still running" in result.stdout, result.stderr
    assert "in parked" in result.stderr and "Current thread" in result.stderr, result.stderr
