"""bundle.oci_config: Docker-compatible args, env, mounts, resources and security defaults."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.drivers.native.container import seccomp
from reconciler.drivers.native.container.bundle import oci_config
from reconciler.model.desired import Limits, Ulimit
from reconciler.model.errors import DriverError
from tests.unit.native.native_bundle_helpers import config_for, make_inputs, make_spec

# --- process.args: Docker's merge rules --------------------------------------------------

ARG_CASES = [
    # (image Entrypoint, image Cmd, spec entrypoint, spec command, expected)
    ("image cmd only", None, ["sh"], None, None, ["sh"]),
    ("image entrypoint + cmd", ["ep"], ["a"], None, None, ["ep", "a"]),
    ("spec command replaces image cmd", ["ep"], ["a"], None, ("b",), ["ep", "b"]),
    ("spec entrypoint drops image cmd", ["ep"], ["a"], ("x",), None, ["x"]),
    ("spec entrypoint + spec command", ["ep"], ["a"], ("x",), ("y",), ["x", "y"]),
    ("spec command without any entrypoint", None, None, None, ("run",), ["run"]),
    ("empty spec command keeps image entrypoint", ["ep"], ["a"], None, (), ["ep"]),
]


@pytest.mark.parametrize(
    "image_ep, image_cmd, spec_ep, spec_cmd, expected",
    [case[1:] for case in ARG_CASES],
    ids=[case[0] for case in ARG_CASES],
)
def test_process_args_follow_docker_merge_rules(
    image_ep: list[str] | None,
    image_cmd: list[str] | None,
    spec_ep: tuple[str, ...] | None,
    spec_cmd: tuple[str, ...] | None,
    expected: list[str],
) -> None:
    inputs = make_inputs(
        make_spec(entrypoint=spec_ep, command=spec_cmd),
        image_config={"Entrypoint": image_ep, "Cmd": image_cmd},
    )
    assert oci_config(inputs)["process"]["args"] == expected


def test_no_command_anywhere_is_an_error_naming_the_container() -> None:
    inputs = make_inputs(make_spec(), image_config={})
    with pytest.raises(DriverError, match="shop-web: no command"):
        oci_config(inputs)


# --- process: env, cwd, user, rlimits --------------------------------------------------


def test_env_spec_overrides_image_and_defaults_are_filled() -> None:
    inputs = make_inputs(
        make_spec(hostname="web", env=(("LANG", "en_US.UTF-8"), ("TZ", "UTC"))),
        image_config={"Cmd": ["sh"], "Env": ["LANG=C", "EMPTY="]},
    )
    env = oci_config(inputs)["process"]["env"]
    assert "LANG=en_US.UTF-8" in env and "LANG=C" not in env
    assert {"TZ=UTC", "EMPTY=", "HOSTNAME=web"} <= set(env)
    assert [e for e in env if e.startswith("PATH=")] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ]


def test_image_path_wins_over_the_default_path() -> None:
    env = oci_config(make_inputs())["process"]["env"]
    assert "PATH=/bin" in env


def test_cwd_prefers_spec_then_image_then_root() -> None:
    assert config_for(workdir="/srv")["process"]["cwd"] == "/srv"
    inputs = make_inputs(image_config={"Cmd": ["sh"], "WorkingDir": "/app"})
    assert oci_config(inputs)["process"]["cwd"] == "/app"
    assert config_for()["process"]["cwd"] == "/"


def test_user_ids_come_from_inputs() -> None:
    config = oci_config(make_inputs(uid=101, gid=102, additional_gids=(5, 7)))
    assert config["process"]["user"] == {"uid": 101, "gid": 102, "additionalGids": [5, 7]}
    assert config["process"]["terminal"] is False


def test_default_nofile_is_capped_by_the_host_hard_limit() -> None:
    rlimits = config_for()["process"]["rlimits"]
    assert rlimits == [{"type": "RLIMIT_NOFILE", "soft": 20000, "hard": 20000}]
    big_host = oci_config(make_inputs(host_nofile_hard=2**40))["process"]["rlimits"]
    assert big_host[0]["hard"] == 1048576


def test_spec_ulimits_map_to_rlimits() -> None:
    limits = Limits(ulimits=(Ulimit("nofile", 1024, 4096), Ulimit("nproc", 50, 100)))
    rlimits = config_for(limits=limits)["process"]["rlimits"]
    assert rlimits == [
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 50, "hard": 100},
    ]


@pytest.mark.parametrize(
    "ulimit, message",
    [
        (Ulimit("nofile", 1024, 40000), "exceeds the host's hard limit 20000"),
        (Ulimit("nofile", 10, 5), "soft 10 exceeds hard 5"),
        (Ulimit("files", 1, 1), "unknown ulimit 'files'"),
    ],
)
def test_bad_ulimits_are_refused_clearly(ulimit: Ulimit, message: str) -> None:
    with pytest.raises(DriverError, match=message):
        config_for(limits=Limits(ulimits=(ulimit,)))


def test_no_oom_score_adj_and_no_ownership_annotations() -> None:
    config = config_for(labels=(("team", "shop"),))
    assert "oomScoreAdj" not in config["process"]
    assert "annotations" not in config


# --- capabilities and security options -------------------------------------------------


def test_default_capabilities_in_every_set_but_inheritable() -> None:
    caps = config_for()["process"]["capabilities"]
    assert "CAP_NET_BIND_SERVICE" in caps["bounding"]
    assert "CAP_SYS_ADMIN" not in caps["bounding"]
    assert len(caps["bounding"]) == 14
    assert caps["bounding"] == caps["effective"] == caps["permitted"]
    assert caps["inheritable"] == [] and caps["ambient"] == []


def test_drop_all_add_one() -> None:
    caps = config_for(cap_drop=("ALL",), cap_add=("NET_BIND_SERVICE",))["process"]
    assert caps["capabilities"]["bounding"] == ["CAP_NET_BIND_SERVICE"]


def test_unknown_capability_names_the_container() -> None:
    with pytest.raises(DriverError, match="shop-web: unknown capability 'NET_FLY'"):
        config_for(cap_add=("NET_FLY",))


def test_no_new_privileges_by_default_and_opt_out() -> None:
    assert config_for()["process"]["noNewPrivileges"] is True
    for option in ("no-new-privileges=false", "no-new-privileges:false"):
        assert config_for(security_opt=(option,))["process"]["noNewPrivileges"] is False


def test_unsupported_security_opt_is_an_error() -> None:
    with pytest.raises(DriverError, match="unsupported security_opt 'apparmor=x'"):
        config_for(security_opt=("apparmor=x",))


def test_seccomp_profile_passed_in_is_used_and_none_means_unconfined() -> None:
    profile = seccomp.default_profile()
    confined = oci_config(make_inputs(seccomp=profile))
    assert confined["linux"]["seccomp"] == profile
    assert "seccomp" not in oci_config(make_inputs(seccomp=None))["linux"]


def test_masked_and_readonly_paths_like_docker() -> None:
    linux = config_for()["linux"]
    assert {"/proc/kcore", "/proc/keys", "/sys/firmware"} <= set(linux["maskedPaths"])
    assert {"/proc/sys", "/proc/sysrq-trigger"} <= set(linux["readonlyPaths"])


# --- root, hostname, namespaces -----------------------------------------------------------


def test_root_readonly_follows_spec() -> None:
    assert config_for()["root"] == {
        "path": "/var/lib/reconcile/containers/shop-web/rootfs",
        "readonly": False,
    }
    assert config_for(read_only=True)["root"]["readonly"] is True
    assert config_for(hostname="api")["hostname"] == "api"


def test_relative_rootfs_is_refused() -> None:
    with pytest.raises(DriverError, match="absolute"):
        oci_config(make_inputs(rootfs="rootfs"))


def _namespaces(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {ns["type"]: ns for ns in config["linux"]["namespaces"]}


def test_private_and_none_networks_get_a_new_netns() -> None:
    for network in ("private", "none"):
        namespaces = _namespaces(config_for(network=network))
        assert namespaces["network"] == {"type": "network"}
        assert set(namespaces) == {"pid", "ipc", "uts", "mount", "network"}


def test_host_network_shares_the_host_netns() -> None:
    namespaces = _namespaces(config_for(network="host"))
    assert "network" not in namespaces and "cgroup" not in namespaces


def test_prepared_netns_is_joined_by_path() -> None:
    config = oci_config(make_inputs(netns_path="/run/netns/shop-web"))
    assert _namespaces(config)["network"] == {"type": "network", "path": "/run/netns/shop-web"}
