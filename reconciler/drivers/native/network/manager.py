"""The native driver's networking, behind three calls: `setup(spec)` before runc create,
`teardown(name)` on remove, `observe(...)` for drift. docs/network.md has the design.

Per stack: a bridge `rcb-<id>` with the gateway (.1) of the stack's /24, four nft chains
(nft.py) and a lease file (ipam.py). Per container: a named network namespace file
`<state>/netns/<name>` that runc joins, a veth pair (`rc<10 hex>` on the host, `eth0`
inside), its DNAT rules. Every step is idempotent and found again by name, so a run killed
half-way is finished (never duplicated) by the next one. All changes happen under one
host-wide lock: stacks of several state dirs share the nft table and the host's routes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from reconciler.drivers.native.container.state import ContainerPaths
from reconciler.drivers.native.network import dockeruser, hostsfile, ipam, links, netns, nft, ports
from reconciler.drivers.native.network.drift import ContainerNet, find_drift
from reconciler.model.desired import ContainerSpec
from reconciler.model.errors import DriverError, ReconcileError
from reconciler.model.records import record, replace

HOST_LOCK = Path("/run/reconcile/network.lock")


@record(frozen=True)
class Attachment:
    """What the bundle and /etc files need of a container's network."""

    netns_path: str
    address: str
    hosts: str  # the whole /etc/hosts text


class NetworkManager:
    def __init__(self, state_dir: Path, containers_dir: Path) -> None:
        self.state_dir = Path(state_dir).absolute()
        self.containers_dir = containers_dir
        self.leases = ipam.LeaseFiles(self.state_dir / "network")
        self.netns_dir = self.state_dir / "netns"

    # -- names: deterministic, so a retry finds the debris of a killed run --

    def _hash(self, value: str) -> str:
        return hashlib.sha256(f"{self.state_dir}\0{value}".encode()).hexdigest()

    def net_id(self, stack: str) -> str:
        return self._hash(f"stack:{stack}")[:8]

    def bridge(self, stack: str) -> str:
        return f"rcb-{self.net_id(stack)}"

    def veth(self, name: str) -> str:
        return "rc" + self._hash(f"container:{name}")[:10]

    def netns_path(self, name: str) -> Path:
        return self.netns_dir / name

    def chains(self, network: ipam.StackNetwork) -> nft.StackChains:
        return nft.StackChains(
            network.stack, self.net_id(network.stack), network.subnet, network.bridge
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        HOST_LOCK.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        with open(HOST_LOCK, "a") as handle:  # a new open file per call: threads exclude too
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- checks made before anything is created --

    def check_ports(self, spec: ContainerSpec, others: Mapping[str, list[str]]) -> None:
        """Refuse a host port held by another process or another container of ours.
        `others`: container name -> its published ports (hashing's `8080:80/tcp` form)."""
        for port in spec.ports:
            key = f"{port.host_port}/{port.protocol}"
            for other, published in sorted(others.items()):
                if other != spec.name and any(_port_key(p) == key for p in published):
                    raise DriverError(
                        spec.name, f"host port {key} is already published by container {other}"
                    )
            if ports.port_in_use(port):
                raise DriverError(
                    spec.name,
                    f"host port {key} is already in use by {ports.holder(port)} on this host",
                )

    # -- setup / teardown --

    def setup(self, spec: ContainerSpec) -> Attachment:
        try:
            with self._locked():
                return self._setup(spec)
        except ReconcileError:
            raise
        except (OSError, ValueError) as e:
            raise DriverError(spec.name, f"network setup failed: {e}") from e

    def _setup(self, spec: ContainerSpec) -> Attachment:
        network = self._stack_network(spec)
        network, address = ipam.allocate(network, spec.name, self._exists)
        names = [spec.name, spec.key, *([spec.hostname] if spec.hostname else [])]
        network = replace(network, names={**network.names, spec.name: list(dict.fromkeys(names))})
        self.leases.save(network)  # before the links: a retry reuses the same address
        if links.enable_ip_forward():
            self._note_host_change("net.ipv4.ip_forward set to 1")
        net = network.net
        links.ensure_bridge(network.bridge, network.gateway, net.prefixlen)
        self._ensure_rules(network, spec, address)
        dockeruser.ensure(network.bridge)
        path = self.netns_path(spec.name)
        netns.create(path)
        mac = spec.mac_address or links.mac_for(address)
        attach = links.Attach(self.veth(spec.name), network.bridge, path, address,
                              net.prefixlen, network.gateway, mac)  # fmt: skip
        links.attach_container(attach)
        members = self._members(network)
        hosts = hostsfile.render(network, spec.name, spec.hostname or spec.name, members)
        self._refresh_hosts(network, members, skip=spec.name)
        return Attachment(str(path), address, hosts)

    def _stack_network(self, spec: ContainerSpec) -> ipam.StackNetwork:
        """The stack's network record, made on first use; a named subnet is honoured."""
        network = self.leases.load(spec.stack)
        wanted = spec.subnet
        if network is not None and (not wanted or wanted == network.subnet):
            return network
        if network is not None:
            holders = [n for n in network.leases if n != spec.name and self._exists(n)]
            if holders:
                raise DriverError(spec.name, f"stack {spec.stack} runs on {network.subnet}, "
                                  f"not {wanted}: `reconcile down {spec.stack}` first")  # fmt: skip
        bridge = self.bridge(spec.stack)
        host = links.host_networks(exclude_links=frozenset({bridge}))
        taken = [n.net for n in self.leases.all() if n.stack != spec.stack]
        if wanted:
            subnet = ipaddress.IPv4Network(wanted)
            ipam.check_requested(spec.stack, subnet, host, taken)
        else:
            subnet = ipam.choose_subnet(f"{self.state_dir}\0{spec.stack}", host, taken)
        return ipam.StackNetwork(spec.stack, str(subnet), bridge)

    def _ensure_rules(self, network: ipam.StackNetwork, spec: ContainerSpec, address: str) -> None:
        """The stack's chains and rules (those missing), and the container's DNAT rules
        (old ones deleted, new ones added): one nft transaction, so never half applied."""
        chains = self.chains(network)
        facts = nft.read_table()
        cmds: list[nft.Cmd] = [nft.table_cmd(), *nft.chain_cmds(chains)]
        for rule in nft.stack_rules(chains):
            body = rule["rule"]
            if body["comment"] not in facts.comments(body["chain"]):
                cmds.append({"add": rule})
        cmds += [nft.delete_rule_cmd(r.chain, r.handle) for r in self._rules_of(spec.name, facts)]
        cmds += [{"add": r} for r in nft.port_rules(chains, spec.name, address, spec.ports)]
        nft.run(cmds, spec.name)

    @staticmethod
    def _rules_of(name: str, facts: nft.TableFacts) -> list[nft.RuleFact]:
        return [r for r in facts.rules if r.comment.startswith(f"{name} ")]

    def teardown(self, name: str) -> None:
        """Everything of `name`; the stack's bridge, chains and leases with its last member."""
        known = self.netns_path(name).exists() or any(name in n.leases for n in self.leases.all())
        if not known:  # host/none network, or never got as far as a lease
            return
        try:
            with self._locked():
                self._teardown(name)
        except OSError as e:
            raise DriverError(name, f"network teardown failed: {e}") from e

    def _teardown(self, name: str) -> None:
        facts = nft.read_table()
        nft.run([nft.delete_rule_cmd(r.chain, r.handle) for r in self._rules_of(name, facts)],
                name)  # fmt: skip
        links.delete_link(self.veth(name))
        netns.remove(self.netns_path(name))
        for network in self.leases.all():
            if name not in network.leases:
                continue
            members = [m for m in self._members(network) if m != name]
            if members:
                self._refresh_hosts(network, members)
            else:
                self._remove_stack_network(network)
        for network in self.leases.all():  # debris of a teardown cut short (kill -9) elsewhere
            if not any(ContainerPaths(self.containers_dir / n).record.exists()
                       for n in network.leases):
                self._remove_stack_network(network)

    def _remove_stack_network(self, network: ipam.StackNetwork) -> None:
        chains = self.chains(network)
        facts = nft.read_table()
        cmds = [c for chain in chains.chains if chain in facts.chains
                for c in nft.delete_chain_cmds(chain)]  # fmt: skip
        if facts.exists and facts.chains <= set(chains.chains):
            cmds = [nft.delete_table_cmd()]  # our chains were the last: the table goes too
        nft.run(cmds, network.stack)
        dockeruser.remove(network.bridge)
        links.delete_link(network.bridge)
        self.leases.delete(network.stack)

    # -- members and their /etc/hosts --

    def _exists(self, name: str) -> bool:
        """A member that stays: its folder is there and no removal has begun. Removals run
        in parallel; two last members leaving at once must not each keep the network for
        the other."""
        paths = ContainerPaths(self.containers_dir / name)
        return paths.record.exists() and not paths.removing.exists()

    def _members(self, network: ipam.StackNetwork) -> list[str]:
        return sorted(n for n in network.leases if self._exists(n))

    def _refresh_hosts(
        self, network: ipam.StackNetwork, members: list[str], skip: str = ""
    ) -> None:
        for member in members:
            if member == skip:
                continue
            names = network.names.get(member, [member])
            hostname = names[2] if len(names) > 2 else member
            text = hostsfile.render(network, member, hostname, members)
            hostsfile.rewrite_in_place(self.containers_dir / member / "etc" / "hosts", text)

    def _note_host_change(self, what: str) -> None:
        path = self.leases.root / "host-changes.txt"
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(what + "\n")

    # -- observe --

    def address(self, stack: str, name: str) -> str | None:
        network = self.leases.load(stack)
        return network.leases.get(name) if network else None

    def observe(self, containers: list[ContainerNet]) -> dict[str, tuple[str, ...]]:
        """name -> drift: the objects of its network that are missing or down."""
        if not containers:
            return {}
        networks = {n.stack: n for n in self.leases.all()}
        return find_drift(self, containers, networks, links.links(), nft.read_table(),
                          dockeruser.read())

    def links_intact(self, name: str, stack: str) -> bool:
        """What a restart keeps of a stopped container's network, checked from sysfs (no
        process, no pyroute2): its lease, its netns and its veth up on the stack's bridge,
        up. The nft rules are observe's drift (a live container with drift is replaced)."""
        network = self.leases.load(stack)
        if network is None or name not in network.leases:
            return False
        if not netns.is_netns(self.netns_path(name)):
            return False
        bridge, veth = links.link(network.bridge), links.link(self.veth(name))
        return (bridge is not None and bridge.up and veth is not None and veth.up
                and veth.master == bridge.index)

    def details(self, name: str) -> dict[str, Any]:
        """For `inspect`: the namespace's links and addresses, read from the kernel."""
        path = self.netns_path(name)
        if not netns.is_netns(path):
            return {"netns": None, "links": []}
        return {"netns": str(path), "host_veth": self.veth(name),
                "links": links.netns_details(path)}  # fmt: skip


def _port_key(published: str) -> str:
    """`127.0.0.1:8080:80/tcp` -> `8080/tcp`."""
    ports_part, _, proto = published.partition("/")
    return f"{ports_part.split(':')[-2]}/{proto}"
