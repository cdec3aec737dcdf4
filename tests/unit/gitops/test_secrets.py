"""age-encrypted env files: decrypted in memory at load, the clear values kept apart
(`secret_env`) so they are never recorded, printed or hashed; a wrong key or a corrupted
file is a located error naming the file (exit 3) and nothing reaches the driver."""

from __future__ import annotations

import json
from pathlib import Path

import pyrage
import pytest

from reconciler.cli.main import main
from reconciler.model.hashing import hashed_fields
from reconciler.spec.stacks import load_stacks
from tests.fakes import InMemoryDriver

SECRET = "correct-horse-battery-staple"
STACK = """\
version: 1
name: shop
containers:
  db:
    image: "registry.local:5000/acme/db:1"
    env: {TZ: UTC}
    env_file: ./db.env.age
"""


class Recording(InMemoryDriver):
    """Keeps the specs it was asked to create, to see that the secret reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.specs: dict[str, object] = {}

    def create(self, spec):  # type: ignore[no-untyped-def]
        self.specs[spec.name] = spec
        super().create(spec)


@pytest.fixture()
def key(monkeypatch: pytest.MonkeyPatch) -> pyrage.x25519.Identity:
    identity = pyrage.x25519.Identity.generate()
    monkeypatch.setenv("RECONCILE_AGE_KEY", str(identity))
    monkeypatch.delenv("RECONCILE_AGE_KEY_FILE", raising=False)
    return identity


def _encrypt(path: Path, text: str, identity: pyrage.x25519.Identity) -> None:
    path.write_bytes(pyrage.encrypt(text.encode(), [identity.to_public()]))


@pytest.fixture()
def stack(tmp_path: Path, key: pyrage.x25519.Identity) -> Path:
    _encrypt(tmp_path / "db.env.age", f"DB_PASSWORD={SECRET}\nDB_USER=app\n", key)
    path = tmp_path / "shop.yaml"
    path.write_text(STACK)
    return path


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, driver: InMemoryDriver,
         *argv: str) -> tuple[int, str, str]:
    code = main(["--state-dir", str(tmp_path / "state"), *argv], driver=driver)
    out, err = capsys.readouterr()
    return code, out, err


def test_values_are_kept_apart_and_not_hashed(stack: Path) -> None:
    spec = load_stacks([stack]).stacks[0].containers[0]
    assert spec.secret_env == (("DB_PASSWORD", SECRET), ("DB_USER", "app"))
    assert spec.env == (("TZ", "UTC"),)
    assert SECRET not in json.dumps(hashed_fields(spec)) and SECRET not in repr(spec)


def test_the_long_form_and_an_env_override(tmp_path: Path, key: pyrage.x25519.Identity) -> None:
    _encrypt(tmp_path / "db.env", f"DB_PASSWORD={SECRET}\nTZ=CET\n", key)
    path = tmp_path / "shop.yaml"
    path.write_text(STACK.replace("./db.env.age", "{path: ./db.env, encrypted: age}"))
    spec = load_stacks([path]).stacks[0].containers[0]
    assert spec.secret_env == (("DB_PASSWORD", SECRET),)
    assert spec.env == (("TZ", "UTC"),)  # `env` wins over the file, and stays in the clear


def test_the_clear_values_never_reach_any_output(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    driver = Recording()
    outputs = []
    for argv in (["validate", "-o", "json", str(stack)], ["plan", str(stack)],
                 ["plan", "-o", "json", str(stack)], ["plan", "-o", "markdown", str(stack)],
                 ["plan", str(stack), "--out", str(tmp_path / "plan.json")],
                 ["apply", str(stack)], ["ps", "-o", "json"], ["inspect", "shop/db"],
                 ["inspect", "--show-secrets", "shop/db"]):
        code, out, err = _run(capsys, tmp_path, driver, *argv)
        assert code == 0, (argv, err)
        outputs += [out, err]
    assert driver.specs["shop-db"].secret_env[0] == ("DB_PASSWORD", SECRET)  # type: ignore[attr-defined]
    # the secret changes: the container is replaced, and the plan shows a hash, not a value
    _encrypt(tmp_path / "db.env.age", "DB_PASSWORD=another-one\nDB_USER=app\n",
             pyrage.x25519.Identity.from_str(str_key()))
    code, out, err = _run(capsys, tmp_path, driver, "plan", "-o", "json", str(stack))
    changes = json.loads(out)["actions"][0]["changes"]
    assert [c["path"] for c in changes] == ["env_file"]
    outputs += [out, err, (tmp_path / "plan.json").read_text()]
    for path in (tmp_path / "state").rglob("*"):
        if path.is_file():
            outputs.append(path.read_text(errors="replace"))
    assert not [o for o in outputs if SECRET in o or "another-one" in o]


def str_key() -> str:
    import os

    return os.environ["RECONCILE_AGE_KEY"]


@pytest.mark.parametrize(("content", "message"), [
    ("wrong key", "cannot be decrypted with the given age key (wrong key?)"),
    ("corrupted", "is not a valid age file (corrupted or truncated?)"),
])
def test_a_bad_file_is_a_located_error_and_nothing_changes(
        stack: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        content: str, message: str) -> None:
    target = tmp_path / "db.env.age"
    if content == "wrong key":
        _encrypt(target, f"DB_PASSWORD={SECRET}\n", pyrage.x25519.Identity.generate())
    else:
        target.write_bytes(target.read_bytes()[:60])
    for command in ("validate", "plan", "apply"):
        driver = InMemoryDriver()
        code, out, err = _run(capsys, tmp_path, driver, command, str(stack))
        assert (code, driver.calls) == (3, [])
        assert f"{stack}:7:15: env_file `./db.env.age` (age-encrypted) {message}" in err
        assert SECRET not in out + err


def test_no_key_says_how_to_give_one(stack: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    key_text = str_key()
    monkeypatch.delenv("RECONCILE_AGE_KEY")
    code, _, err = _run(capsys, tmp_path, InMemoryDriver(), "validate", str(stack))
    assert code == 3 and "no age key: set RECONCILE_AGE_KEY or give --age-key-file FILE" in err
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# created: today\n{key_text}\n")
    code, _, err = _run(capsys, tmp_path, InMemoryDriver(), "--age-key-file", str(key_file),
                        "validate", str(stack))
    assert code == 0, err


# -- secrets: files ----------------------------------------------------------------------

FILES_STACK = """\
version: 1
name: shop
containers:
  web:
    image: "registry.local:5000/acme/web:1"
    secrets:
      - ./tls.key.age
      - {source: ./api.token, target: /etc/app/token, mode: 0o400, encrypted: age}
"""


def test_secret_files_are_normalized_with_hashes_not_content(
        tmp_path: Path, key: pyrage.x25519.Identity) -> None:
    _encrypt(tmp_path / "tls.key.age", f"-----BEGIN KEY-----\n{SECRET}\n", key)
    _encrypt(tmp_path / "api.token", SECRET, key)
    path = tmp_path / "shop.yaml"
    path.write_text(FILES_STACK)
    spec = load_stacks([path]).stacks[0].containers[0]
    assert [(s.target, s.mode) for s in spec.secret_files] == [
        ("/etc/app/token", 0o400), ("/run/secrets/tls.key", 0o444)]
    fields = json.dumps(hashed_fields(spec))
    assert SECRET not in fields and '"secrets"' in fields
    assert SECRET not in repr(spec)
    before = spec.config_hash
    _encrypt(tmp_path / "api.token", SECRET, key)  # re-encrypted, same content
    assert load_stacks([path]).stacks[0].containers[0].config_hash == before
    _encrypt(tmp_path / "api.token", "rotated", key)
    assert load_stacks([path]).stacks[0].containers[0].config_hash != before


def test_bad_secret_files_are_located(tmp_path: Path, key: pyrage.x25519.Identity,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _encrypt(tmp_path / "tls.key.age", SECRET, pyrage.x25519.Identity.generate())
    path = tmp_path / "shop.yaml"
    path.write_text(FILES_STACK + "      - {source: ./tls.key.age, target: relative}\n")
    driver = InMemoryDriver()
    code, out, err = _run(capsys, tmp_path, driver, "apply", str(path))
    assert (code, driver.calls) == (3, [])
    assert (f"{path}:7:9: secret `./tls.key.age` (age-encrypted) cannot be decrypted with "
            "the given age key (wrong key?)") in err
    assert f"{path}:8:9: secret `./api.token` not found" in err
    assert "target `relative` must be a normalized absolute path" in err
    assert SECRET not in out + err
