"""The secrets a data command's step receives: the names the command references."""

from __future__ import annotations

import pytest

from mlci import scaffold
from mlci.errors import InputError
from mlci.scaffold.deploy_env import MAX_SECRETS, command_secret_names


@pytest.mark.parametrize(
    ("command", "names"),
    [
        (None, ()),
        ("aws s3 sync s3://bucket/logs/ logs/", ()),
        ('python fetch.py --token "$BUCKET_TOKEN"', ("BUCKET_TOKEN",)),
        ('curl -H "Bearer ${API_KEY}" ${URL:-https://x} $API_KEY', ("API_KEY", "URL")),
        # shell variables, the runner's and mlci's own, and $$ are no secrets
        ("for f in $files; do cp $f $HOME/$RUNNER_TEMP; done", ()),
        ('echo $$ "$GITHUB_TOKEN" "$MLCI_RETRAIN_DATA_DIR" $PATH', ()),
        ("echo $$NOT_A_REF $_PRIVATE_2", ("_PRIVATE_2",)),
    ],
)
def test_command_secret_names(command: str | None, names: tuple[str, ...]) -> None:
    assert command_secret_names(command) == names


def test_too_many_secrets_for_one_step_is_exit_2() -> None:
    command = "fetch " + " ".join(f"$S{i}" for i in range(MAX_SECRETS + 1))
    answers = scaffold.Answers(monitor="yes", monitor_data_command=command)
    with pytest.raises(InputError, match=f"monitor.data_command references {MAX_SECRETS + 1}"):
        scaffold.render_files(answers)
