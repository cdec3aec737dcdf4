"""Native networking on the real kernel: names, published TCP/UDP ports (via 127.0.0.1 and
from a separate namespace acting as a remote client), addresses kept across replacement,
drift of each object kind, and a teardown that leaves links, nft and leases as they were.
Traffic goes only to loopback and the project's own bridges and namespaces."""

from __future__ import annotations

import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from reconciler.drivers.native.network import links, netns, nft
from reconciler.model import records
from reconciler.model.desired import Desired, DesiredStack, Mount, PortMapping
from reconciler.model.errors import DriverError
from reconciler.planner.plan import plan
from tests.integration import native_helpers
from tests.integration.native_helpers import NativeHarness, wait_for
from tests.netutil import free_port as _free_port

pytestmark = pytest.mark.integration

busybox_image = native_helpers.busybox_image
native_state_dir = native_helpers.native_state_dir
native = native_helpers.native

HTTPD = (
    "mkdir -p /tmp/w && echo hello-$HOSTNAME > /tmp/w/index.html && exec httpd -f -p 80 -h /tmp/w"
)
# A UDP echo server from the host's python, read-only bind mounts of /usr (merged-usr host).
UDP_ECHO = (
    "import socket\n"
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 53))\n"
    "while True:\n    d, a = s.recvfrom(512); s.sendto(b'pong:' + d, a)\n"
)
HOST_USR = (Mount("bind", "/usr", "/usr", True), Mount("bind", "/lib64", "/usr/lib64", True),
            Mount("bind", "/lib", "/usr/lib", True))  # fmt: skip


def _host_snapshot() -> tuple[set[str], str]:
    return set(links.links()), subprocess.run(
        ["nft", "list", "ruleset"], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def net(native: NativeHarness) -> Iterator[NativeHarness]:
    """`native`, plus a check that links and the nft ruleset end as they began
    (other helpers' objects may come and go meanwhile: only ours are compared)."""
    before_links, _ = _host_snapshot()
    yield native
    for name in sorted(native.names):
        native.driver.remove(name)
    after_links, ruleset = _host_snapshot()
    manager = native.driver.network
    ours = {manager.bridge(native.stack), *(manager.veth(n) for n in native.names)}
    assert not (after_links - before_links) & ours
    assert manager.net_id(native.stack) not in ruleset
    assert not manager.leases.path(native.stack).exists()
    assert not any(manager.netns_path(n).exists() for n in native.names)


def _http(host: str, port: int) -> str:
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=5) as r:
        return str(r.read().decode().strip())


def _udp(host: str, port: int, payload: bytes = b"ping") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        for _ in range(10):  # the server may still be starting
            s.sendto(payload, (host, port))
            try:
                return s.recvfrom(512)[0]
            except TimeoutError:
                continue
    raise AssertionError(f"no UDP answer from {host}:{port}")


def _exec(native: NativeHarness, name: str, *argv: str) -> subprocess.CompletedProcess[str]:
    runc = native.driver.runc
    return subprocess.run([runc.binary, "--root", str(runc.root), "exec", name, *argv],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def test_names_addresses_and_published_tcp_udp(net: NativeHarness) -> None:
    tcp, udp = _free_port(), _free_port()
    web = net.run("web", ["sh", "-c", HTTPD], ports=(PortMapping(tcp, 80),),
                  mac_address="02:42:ac:11:00:42", hostname="www")  # fmt: skip
    echo = net.run("echo", ["/usr/bin/python3", "-c", UDP_ECHO],
                   ports=(PortMapping(udp, 53, "udp", "127.0.0.1"),), mounts=HOST_USR)  # fmt: skip
    wait_for(lambda: _try(_http, "127.0.0.1", tcp), 10, "web answers on 127.0.0.1")
    assert _http("127.0.0.1", tcp) == "hello-www"
    assert _udp("127.0.0.1", udp) == b"pong:ping"
    # by container name, by key (stack-local) and by hostname
    for host in (web.name, "web", "www"):
        out = _exec(net, echo.name, "wget", "-qO-", f"http://{host}/")
        assert out.stdout.strip() == "hello-www", (host, out.stderr)
    seen = net.driver.observe(frozenset({net.stack})).by_name()
    assert seen[web.name].addresses and seen[web.name].drift == ()
    details = net.driver.network.details(web.name)
    eth0 = next(link for link in details["links"] if link["ifname"] == "eth0")
    assert eth0["mac"] == "02:42:ac:11:00:42"
    assert f"{seen[web.name].addresses[0]}/24" in eth0["addresses"]


def _try(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args) or True
    except OSError:
        return False


@pytest.fixture
def remote_client(net: NativeHarness) -> Iterator[tuple[Path, str]]:
    """A namespace of our own acting as a remote client: a veth pair, 10.251.x.1/30 on the
    host end, .2 inside; yields (netns path, the host's address as the client sees it)."""
    path = net.driver.layout.root / "client-netns"
    host_if = "rcc" + net.stack[1:9]
    netns.create(path)
    try:
        with IPRoute() as ipr, IPRoute(netns=str(path), flags=0) as ns, open(path) as fd:
            peer = {"ifname": "c0", "net_ns_fd": fd.fileno()}
            ipr.link("add", ifname=host_if, kind="veth", peer=peer)
            idx = ipr.link_lookup(ifname=host_if)[0]
            ipr.addr("add", index=idx, address="10.251.77.1", prefixlen=30)
            ipr.link("set", index=idx, state="up")
            c0 = ns.link_lookup(ifname="c0")[0]
            ns.addr("add", index=c0, address="10.251.77.2", prefixlen=30)
            ns.link("set", index=c0, state="up")
            ns.route("add", dst="0.0.0.0/0", gateway="10.251.77.1")
        yield path, "10.251.77.1"
    finally:
        links.delete_link(host_if)
        netns.remove(path)


def test_published_port_from_a_remote_client(net: NativeHarness, remote_client: Any) -> None:
    path, host_address = remote_client
    port = _free_port()
    net.run("web", ["sh", "-c", HTTPD], ports=(PortMapping(port, 80),))
    wait_for(lambda: _try(_http, "127.0.0.1", port), 10, "web answers")
    script = (f"import urllib.request;print(urllib.request.urlopen("
              f"'http://{host_address}:{port}/', timeout=5).read().decode())")  # fmt: skip
    out = subprocess.run(["nsenter", f"--net={path}", "python3", "-c", script],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert out.stdout.strip() == f"hello-{net.stack}-web", out.stderr


def test_replace_keeps_the_address_and_hosts_follow(net: NativeHarness) -> None:
    a = net.run("a", ["sleep", "600"], stop_signal="SIGKILL")
    b = net.run("b", ["sleep", "600"], stop_signal="SIGKILL")
    before = net.driver.observe().by_name()[a.name].addresses
    mac = _eth0(net, a.name)["mac"]
    hosts_b = net.driver.layout.container(b.name).etc / "hosts"
    inode = hosts_b.stat().st_ino
    net.driver.remove(a.name)
    assert a.name not in hosts_b.read_text()
    net.driver.create(a)
    net.driver.start(a.name)
    assert net.driver.observe().by_name()[a.name].addresses == before
    assert f"{before[0]}\t{a.name} a" in hosts_b.read_text()
    assert _eth0(net, a.name)["mac"] == mac == links.mac_for(before[0])  # neighbours stay right
    assert hosts_b.stat().st_ino == inode  # rewritten in place: the bind mount sees it


def _eth0(net: NativeHarness, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        link for link in net.driver.network.details(name)["links"] if link["ifname"] == "eth0")
    return found


def _drift_of(net: NativeHarness, name: str) -> tuple[str, ...]:
    return tuple(net.driver.observe(frozenset({net.stack})).by_name()[name].drift)


def _repair(net: NativeHarness, spec: Any) -> None:
    desired = Desired((DesiredStack(net.stack, "", (), (), (spec,)),))
    observed = net.driver.observe(frozenset({net.stack}))
    observed = records.replace(observed, images={spec.image.identity: observed.images.get(
        spec.image.identity, "")})  # fmt: skip
    actions = plan(desired, observed).actions
    assert [a.kind for a in actions] == ["replace"] and actions[0].reason.startswith("drift:")
    net.driver.remove(spec.name)
    net.driver.create(spec)
    net.driver.start(spec.name)
    assert _drift_of(net, spec.name) == ()


def test_drift_of_each_kind_is_seen_and_repaired(net: NativeHarness) -> None:
    port = _free_port()
    spec = net.run("d", ["sleep", "600"], stop_signal="SIGKILL", ports=(PortMapping(port, 80),))
    manager = net.driver.network
    network = manager.leases.load(net.stack)
    assert network is not None and _drift_of(net, spec.name) == ()
    chains = manager.chains(network)

    links.delete_link(manager.veth(spec.name))
    assert any("veth" in d and "missing" in d for d in _drift_of(net, spec.name))
    _repair(net, spec)

    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname=network.bridge)[0], state="down")
    assert f"bridge {network.bridge} down" in _drift_of(net, spec.name)
    _repair(net, spec)

    facts = nft.read_table()
    rule = next(
        r for r in facts.rules if r.comment.startswith(spec.name) and r.chain.endswith("pre")
    )
    nft.run([nft.delete_rule_cmd(rule.chain, rule.handle)], "test")
    assert any("nft rule" in d for d in _drift_of(net, spec.name))
    _repair(net, spec)

    nft.run(nft.delete_chain_cmds(chains.chain("post")), "test")
    assert f"nft chain {chains.chain('post')} missing" in _drift_of(net, spec.name)
    _repair(net, spec)


def test_port_held_by_another_process_is_refused_before_anything(net: NativeHarness) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        spec = net.spec("busy", ["sleep", "600"], ports=(PortMapping(port, 80),))
        with pytest.raises(DriverError, match=rf"host port {port}/tcp is already in use by pid"):
            net.driver.create(spec)
    assert not net.driver.layout.container(spec.name).root.exists()
    assert net.driver.network.leases.load(net.stack) is None


def test_port_published_by_another_container_is_refused(net: NativeHarness) -> None:
    port = _free_port()
    first = net.run("p1", ["sleep", "600"], stop_signal="SIGKILL", ports=(PortMapping(port, 80),))
    second = net.spec("p2", ["sleep", "600"], ports=(PortMapping(port, 81),))
    with pytest.raises(DriverError, match=f"already published by container {first.name}"):
        net.driver.create(second)


def test_debris_of_a_killed_setup_is_finished_not_duplicated(net: NativeHarness) -> None:
    spec = net.spec(
        "k", ["sleep", "600"], stop_signal="SIGKILL", ports=(PortMapping(_free_port(), 80),)
    )
    # What a kill -9 in the middle of setup leaves: lease, bridge, rules, netns, a veth
    # whose inside end was never configured.
    net.driver.layout.make_dirs()
    net.driver.layout.container(spec.name).root.mkdir()
    manager = net.driver.network
    manager.setup(spec)
    links.delete_link(manager.veth(spec.name))
    manager.setup(spec)  # a second, interrupted-looking run
    net.driver.create(spec)  # create cleans the dir without a record and starts over
    net.driver.start(spec.name)
    facts = nft.read_table()
    comments = [r.comment for r in facts.rules if r.comment.startswith(spec.name)]
    assert len(comments) == 2  # one DNAT in pre, one in out: nothing duplicated
    stack_rules = [r for r in facts.rules if r.chain.startswith(f"{net.stack}-")
                   and r.comment.startswith("stack:")]  # fmt: skip
    assert len(stack_rules) == 4
    assert _drift_of(net, spec.name) == ()
