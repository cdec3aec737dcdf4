"""What changes a container's config hash (and so replaces it) and what does not.

One test per field of hashing.EXCLUDED_FROM_HASH proves a change there keeps the hash; the
others prove that changes which need a new container do change it, including edits of
bind-mounted files, env files and build inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.model.actions import FieldChange
from reconciler.model.desired import ContainerSpec
from reconciler.model.hashing import (
    EXCLUDED_FROM_HASH,
    MASK,
    diff_fields,
    hashed_fields,
    mask_env,
    mask_secrets,
)
from reconciler.spec.stacks import load_stacks

BASE = {
    "image": "app:1",
    "command": "[sleep, '100']",
    "env": "{A: '1'}",
    "ports": "['8080:80']",
    "restart": "always",
}


def web(folder: Path, extra: dict[str, str] | None = None, name: str = "s.yaml") -> ContainerSpec:
    fields = {**BASE, **(extra or {})}
    body = "".join(f"    {k}: {v}\n" for k, v in fields.items() if v)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("version: 1\nname: s\ncontainers:\n  db: {image: 'db:1'}\n  web:\n" + body)
    stack = load_stacks([path]).stacks[0]
    return next(c for c in stack.containers if c.key == "web")


def _replica(tmp: Path) -> tuple[str, str]:
    two = load_stacks([_write(tmp, {"ports": "", "replicas": "2"})]).stacks[0].containers
    one = web(tmp, {"ports": ""})
    return one.config_hash, next(c for c in two if c.replica == 2).config_hash


def _write(folder: Path, extra: dict[str, str]) -> Path:
    web(folder, extra)
    return folder / "s.yaml"


def _source(tmp: Path) -> tuple[str, str]:
    return web(tmp / "a").config_hash, web(tmp / "b").config_hash


def _source_commit(tmp: Path) -> tuple[str, str]:
    """The same file at two git commits (provenance): the hash stays."""
    import subprocess

    def git(*argv: str) -> None:
        subprocess.run(["git", "-C", str(tmp), "-c", "user.name=t", "-c", "user.email=t@t",
                        *argv], check=True, capture_output=True)

    git("init", "-q")
    first = web(tmp)
    git("add", "-A")
    git("commit", "-qm", "one")
    second = web(tmp)
    git("commit", "-q", "--allow-empty", "-m", "two")
    third = web(tmp)
    assert "" == first.source_commit != second.source_commit != third.source_commit != ""
    return first.config_hash, third.config_hash


def _secret_env(tmp: Path) -> tuple[str, str]:
    """The same secret encrypted twice (two different ciphertexts): the hash stays, as
    it covers the clear text's hash, never the values (which are not hashed at all)."""
    import os

    import pyrage

    from reconciler.model.hashing import config_hash
    from reconciler.model.records import replace

    key = pyrage.x25519.Identity.generate()
    os.environ["RECONCILE_AGE_KEY"] = str(key)
    try:
        hashes = []
        for n in (1, 2):
            (tmp / str(n)).mkdir(parents=True)
            (tmp / str(n) / "db.env.age").write_bytes(
                pyrage.encrypt(b"DB_PASSWORD=hunter2\n", [key.to_public()]))
            spec = web(tmp / str(n), {"env_file": "./db.env.age"})
            assert spec.secret_env == (("DB_PASSWORD", "hunter2"),)
            hashes.append(spec.config_hash)
        assert config_hash(replace(spec, secret_env=(("DB_PASSWORD", "x"),))) == hashes[1]
    finally:
        del os.environ["RECONCILE_AGE_KEY"]
    return hashes[0], hashes[1]


def _change(extra: dict[str, str]) -> Callable[[Path], tuple[str, str]]:
    def run(tmp: Path) -> tuple[str, str]:
        return web(tmp).config_hash, web(tmp, extra).config_hash

    return run


EXCLUDED_CASES: dict[str, Callable[[Path], tuple[str, str]]] = {
    "replica": _replica,
    "depends_on": _change({"depends_on": "{db: completed}"}),
    "restart": _change({"restart": "{policy: on-failure, max_retries: 3}"}),
    "healthcheck": _change({"healthcheck": "{tcp: {port: 80}, interval: 1s}"}),
    "stop_signal": _change({"stop_signal": "SIGQUIT"}),
    "stop_grace_period": _change({"stop_grace_period": "1m"}),
    "source": _source,
    "source_commit": _source_commit,
    "secret_env": _secret_env,
    "update_order": lambda tmp: (web(tmp, {"ports": ""}).config_hash,
                                 web(tmp, {"ports": "", "update": "{order: start-first}"})
                                 .config_hash),
    "update_deadline": _change({"update": "{deadline: 30s}"}),
}


def test_every_excluded_field_has_a_case() -> None:
    assert set(EXCLUDED_CASES) == set(EXCLUDED_FROM_HASH)


@pytest.mark.parametrize("field", sorted(EXCLUDED_CASES))
def test_change_of_excluded_field_keeps_the_hash(field: str, tmp_path: Path) -> None:
    before, after = EXCLUDED_CASES[field](tmp_path)
    assert before == after


@pytest.mark.parametrize(
    "extra",
    [
        {"image": "app:2"},
        {"command": "[sleep, '200']"},
        {"env": "{A: '2'}"},
        {"ports": "['8081:80']"},
        {"limits": "{memory: 64Mi}"},
        {"user": "'1000'"},
        {"read_only": "true"},
        {"init": "true"},
        {"network": "host", "ports": "[]"},  # ports are refused with network: host
        {"labels": "{team: x}"},
    ],
    ids=lambda e: next(iter(e)),
)
def test_change_of_included_field_changes_the_hash(extra: dict[str, str], tmp_path: Path) -> None:
    assert web(tmp_path).config_hash != web(tmp_path, extra).config_hash


def test_init_false_keeps_the_hash_of_containers_made_before_init_existed(
        tmp_path: Path) -> None:
    """`init` is hashed only when true: an upgrade must not replace every container."""
    default, explicit = web(tmp_path / "a"), web(tmp_path / "b", {"init": "false"})
    assert "init" not in hashed_fields(default)
    assert default.config_hash == explicit.config_hash
    assert hashed_fields(web(tmp_path / "c", {"init": "true"}))["init"] is True


def test_a_toggled_init_is_explained_as_false_to_true_and_back(tmp_path: Path) -> None:
    recorded_before = hashed_fields(web(tmp_path / "a"))  # a record without the field
    with_init = hashed_fields(web(tmp_path / "b", {"init": "true"}))
    assert diff_fields(recorded_before, with_init) == (FieldChange("init", False, True),)
    assert diff_fields(with_init, recorded_before) == (FieldChange("init", True, False),)
    assert diff_fields(recorded_before, recorded_before) == ()


def test_editing_a_bind_mounted_file_changes_the_hash(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("port=80\n")
    mount = {"volumes": "['./app.conf:/etc/app.conf:ro']"}
    before = web(tmp_path, mount).config_hash
    conf.write_text("port=81\n")
    assert web(tmp_path, mount).config_hash != before


def test_editing_a_file_in_a_bind_mounted_folder_keeps_the_hash(tmp_path: Path) -> None:
    (tmp_path / "html").mkdir()
    page = tmp_path / "html" / "index.html"
    page.write_text("v1")
    mount = {"volumes": "['./html:/www']"}
    before = web(tmp_path, mount)
    page.write_text("v2")
    after = web(tmp_path, mount)
    assert before.mounts[0].content_hash == "" and after.config_hash == before.config_hash


def test_editing_an_env_file_changes_the_hash(tmp_path: Path) -> None:
    env = tmp_path / "web.env"
    env.write_text("MODE=a\n")
    before = web(tmp_path, {"env_file": "web.env"}).config_hash
    env.write_text("MODE=b\n")
    assert web(tmp_path, {"env_file": "web.env"}).config_hash != before


def test_editing_a_build_input_changes_image_identity_and_hash(tmp_path: Path) -> None:
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout" / "index.json").write_text("{}")
    (tmp_path / "src").mkdir()
    script = tmp_path / "src" / "run.sh"
    script.write_text("echo 1\n")

    def load() -> ContainerSpec:
        path = tmp_path / "b.yaml"
        path.write_text(
            "version: 1\nimages:\n  base: {oci: layout}\n"
            "  app: {build: {from: base, copy: [{src: src, dest: /src}]}}\n"
            "containers: {web: {image: app}}\n"
        )
        return load_stacks([path]).stacks[0].containers[0]

    before = load()
    script.chmod(0o755)
    after_mode = load()
    script.write_text("echo 2\n")
    after_content = load()
    identities = {before.image.identity, after_mode.image.identity, after_content.image.identity}
    assert len(identities) == 3
    assert len({before.config_hash, after_mode.config_hash, after_content.config_hash}) == 3


def test_base_image_identity_flows_into_the_build(tmp_path: Path) -> None:
    (tmp_path / "layout").mkdir()
    index = tmp_path / "layout" / "index.json"
    path = tmp_path / "b.yaml"
    path.write_text(
        "version: 1\nimages:\n  base: {oci: layout}\n  app: {build: {from: base}}\n"
        "containers: {web: {image: app}}\n"
    )
    index.write_text('{"v": 1}')
    before = load_stacks([path]).stacks[0].containers[0].image.identity
    index.write_text('{"v": 2}')
    assert load_stacks([path]).stacks[0].containers[0].image.identity != before


# -- masking: by name and by shape ---------------------------------------------------------


@pytest.mark.parametrize("name", [
    "MYSQL_PWD", "DB_PASSWORD", "REDIS_PASSWD", "APP_SECRET", "GITHUB_TOKEN", "API_KEY",
    "TLS_PRIVATE_KEY", "SSL_CERT", "AWS_CREDENTIALS", "BASIC_AUTH", "SENTRY_DSN",
    "PASSWORD_SALT", "SESSION_COOKIE", "JWT_SIGNING", "webhook_hmac", "mysql_root_password",
])
def test_secret_looking_names_are_masked(name: str) -> None:
    assert mask_env(name, "s3cr3t") == MASK


@pytest.mark.parametrize(("value", "shown"), [
    ("postgres://u:p@h/db", f"postgres://u:{MASK}@h/db"),
    ("amqp://guest:gu%40st@mq:5672/", f"amqp://guest:{MASK}@mq:5672/"),
    ("redis://:only-pass@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
    ("a=https://x:y@h1, b=ftp://q:r@h2", f"a=https://x:{MASK}@h1, b=ftp://q:{MASK}@h2"),
    ("https://h/path?user=a:b@c", "https://h/path?user=a:b@c"),  # not userinfo
    ("http://localhost:8080/", "http://localhost:8080/"),
    ("UTC", "UTC"),
])
def test_url_passwords_are_masked_and_the_rest_kept(value: str, shown: str) -> None:
    assert mask_env("DATABASE_URL", value) == shown


def test_diff_masks_by_name_and_by_shape() -> None:
    changes = diff_fields(
        {"env": {"MYSQL_PWD": "a", "DATABASE_URL": "postgres://u:old@h/db"}, "command": ["x"]},
        {"env": {"MYSQL_PWD": "b", "DATABASE_URL": "postgres://u:new@h/db"},
         "command": ["x", "--db=mysql://root:pw@db/x"]},
    )
    shown = {c.path: (c.old, c.new) for c in changes}
    assert shown["env.MYSQL_PWD"] == (MASK, MASK)
    assert shown["env.DATABASE_URL"] == (f"postgres://u:{MASK}@h/db",) * 2
    assert shown["command"][1] == ["x", f"--db=mysql://root:{MASK}@db/x"]


def test_mask_secrets_covers_env_maps_and_lists_anywhere() -> None:
    doc = {"recorded_spec": {"env": {"TZ": "UTC", "API_TOKEN": "t"}},
           "backend": {"Config": {"Env": ["A_SECRET=s", "URL=http://u:p@h", "PLAIN=1"]}},
           "spec": {"env": [["MYSQL_PWD", "p"], ["TZ", "UTC"]]}}
    masked = mask_secrets(doc)
    assert masked["recorded_spec"]["env"] == {"TZ": "UTC", "API_TOKEN": MASK}
    assert masked["backend"]["Config"]["Env"] == [f"A_SECRET={MASK}", f"URL=http://u:{MASK}@h",
                                                  "PLAIN=1"]
    assert masked["spec"]["env"] == [["MYSQL_PWD", MASK], ["TZ", "UTC"]]
    assert doc["recorded_spec"]["env"]["API_TOKEN"] == "t"  # a copy; the input is kept
