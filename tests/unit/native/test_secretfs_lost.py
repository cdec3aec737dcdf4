"""SecretFS.annotate: a container whose decrypted secrets are gone from the tmpfs (after a
reboot) is reported with the lost fields marked and a config hash that no spec has, so the
planner replaces it and says which fields; one whose secrets are there is left alone."""

from __future__ import annotations

from pathlib import Path

from reconciler.drivers.native.container.secretfs import LOST, SecretFS
from reconciler.model.observed import ObservedContainer

FIELDS = {"env_file": "sha256:env", "env": {"TZ": "UTC"},
          "secrets": {"/run/secrets/tls.key": {"content": "sha256:tls", "mode": 0o444}}}
SPEC = {"secret_env": [["DB_PASSWORD", ""]],
        "secret_files": [{"target": "/run/secrets/tls.key", "clear": ""}]}


def seen(name: str = "shop-db") -> ObservedContainer:
    return ObservedContainer(name=name, stack="shop", key="db", labels={}, config_hash="h1",
                             image_digest="sha256:i", state="exited", recorded_spec=FIELDS)


def test_gone_secrets_are_marked_lost(tmp_path: Path) -> None:
    fs = SecretFS("abcd1234", shm=tmp_path)
    [marked] = fs.annotate((seen(),), {"shop-db": SPEC})
    assert marked.config_hash.startswith("h1:lost:") and marked.config_hash != "h1"
    assert marked.recorded_spec is not None
    assert marked.recorded_spec["env_file"] == LOST
    assert marked.recorded_spec["secrets"]["/run/secrets/tls.key"] == {"content": LOST,
                                                                       "mode": 0o444}
    assert marked.recorded_spec["env"] == {"TZ": "UTC"}
    assert FIELDS["secrets"]["/run/secrets/tls.key"]["content"] == "sha256:tls"  # not mutated


def test_present_secrets_and_plain_containers_are_left_alone(tmp_path: Path) -> None:
    fs = SecretFS("abcd1234", shm=tmp_path)
    folder = fs.folder("shop-db")
    (folder / "secrets").mkdir(parents=True)
    (folder / "env.json").write_text("{}")
    (folder / "secrets" / "0").write_text("x")
    plain = seen("shop-web")
    assert fs.annotate((seen(), plain), {"shop-db": SPEC, "shop-web": {}}) == (seen(), plain)
    (folder / "secrets" / "0").unlink()  # only the file is gone: only it is marked
    [marked] = fs.annotate((seen(),), {"shop-db": SPEC})
    assert marked.recorded_spec is not None and marked.recorded_spec["env_file"] == "sha256:env"
    assert marked.config_hash == "h1:lost:secrets./run/secrets/tls.key"
