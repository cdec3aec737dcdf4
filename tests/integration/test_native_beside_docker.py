"""A native stack on a host where dockerd started with IPv4 forwarding off and so set the
iptables FORWARD policy to drop: the stack's accepts in Docker's DOCKER-USER chain let its
traffic through (a published port reached from another host, and with br_netfilter traffic
between two containers of the stack), their loss is drift, and they go with the stack."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.drivers.native.network import dockeruser
from reconciler.model.desired import PortMapping
from tests.docker_engine import docker_engine
from tests.integration import native_helpers, test_native_network
from tests.integration.native_helpers import NativeHarness, wait_for
from tests.netutil import free_port

pytestmark = pytest.mark.integration

busybox_image = native_helpers.busybox_image
native_state_dir = native_helpers.native_state_dir
native = native_helpers.native
net = test_native_network.net
remote_client = test_native_network.remote_client
BRIDGE_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


@pytest.fixture
def docker_dropping_forward() -> Iterator[None]:
    """A private dockerd started with forwarding off; the drop it set is checked, not
    assumed. br_netfilter's switch on where the module is loaded (undo() restores it)."""
    with docker_engine(forwarding_first=False):
        policy = subprocess.run(["iptables", "-w", "5", "-S", "FORWARD"], capture_output=True,
                                text=True, check=True).stdout  # fmt: skip
        assert "-P FORWARD DROP" in policy, policy
        if BRIDGE_NF.exists():
            BRIDGE_NF.write_text("1")
        yield


def _from_remote(path: Path, address: str, port: int) -> subprocess.CompletedProcess[str]:
    script = (f"import urllib.request;print(urllib.request.urlopen("
              f"'http://{address}:{port}/', timeout=5).read().decode())")  # fmt: skip
    return subprocess.run(["nsenter", f"--net={path}", "python3", "-c", script],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def _ours(bridge: str) -> list[list[str]]:
    chain = dockeruser.read()
    assert chain is not None, "dockerd's DOCKER-USER chain is gone"
    return [list(rule) for rule in chain.rules if dockeruser.comment(bridge) in rule]


def test_stack_traffic_passes_dockers_forward_drop(
    docker_dropping_forward: None, net: NativeHarness, remote_client: tuple[Path, str]
) -> None:
    path, host_address = remote_client
    port = free_port()
    web = net.run("web", ["sh", "-c", test_native_network.HTTPD], ports=(PortMapping(port, 80),))
    client = net.run("c", ["sleep", "600"], stop_signal="SIGKILL")
    bridge = net.driver.network.bridge(net.stack)
    assert len(_ours(bridge)) == 2  # one from the bridge, one to it, at the chain's top
    wait_for(lambda: _from_remote(path, host_address, port).returncode == 0, 15,
             "the published port answers a remote client")  # fmt: skip
    assert _from_remote(path, host_address, port).stdout.strip() == f"hello-{web.name}"
    fetched = test_native_network._exec(net, client.name, "wget", "-qO-", "http://web/")
    assert fetched.stdout.strip() == f"hello-{web.name}", (fetched.returncode, fetched.stderr)

    inbound = next(rule for rule in _ours(bridge) if "-o" in rule)
    subprocess.run(["iptables", "-w", "5", "-D", *inbound[1:]], check=True)
    drift = net.observed(web.name).drift
    assert any(dockeruser.CHAIN in item and f"-o {bridge}" in item for item in drift), drift
    net.driver.remove(web.name)  # what the planned replace does
    net.driver.create(web)
    net.driver.start(web.name)
    assert net.observed(web.name).drift == ()
    wait_for(lambda: _from_remote(path, host_address, port).returncode == 0, 15,
             "the replaced container answers the remote client again")  # fmt: skip

    for name in (web.name, client.name):
        net.driver.remove(name)
    assert _ours(bridge) == []  # removed with the stack's bridge; Docker's chain stays
