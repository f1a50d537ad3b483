"""Finding a copy's destination: a wrong destination is refused naming the field; AWS being busy is not."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from coffer.adapters.aws import TransientAwsError
from coffer.adapters.aws_services.copy_destinations import DestinationResolver
from coffer.domain.copies import VaultAddress
from coffer.domain.errors import InvalidInput
from coffer.settings import Settings

SETTINGS = Settings.from_env({"CATALOG_TABLE": "t", "VAULT_BUCKET": "v", "WORK_BUCKET": "w", "VAULT_KEY_ARN": "k",
                              "AWS_REGION": "us-east-1"})


def no_ports(settings: Settings, clients: Any) -> Any:
    raise AssertionError("a destination that was refused has no ports to build")
DESTINATION = VaultAddress.parse("arn:aws:backup:eu-west-1:222222222222:backup-vault:far")


class RefusingSts:
    def __init__(self, code: str, status: int) -> None:
        self.error = ClientError({"Error": {"Code": code, "Message": "no"},
                                  "ResponseMetadata": {"HTTPStatusCode": status}}, "AssumeRole")
        self.calls = 0

    def get_caller_identity(self) -> dict[str, Any]:
        return {"Account": "111111111111"}

    def assume_role(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        raise self.error


def test_a_role_that_cannot_be_assumed_is_refused_naming_the_field_and_the_fix() -> None:
    with pytest.raises(InvalidInput) as refused:
        DestinationResolver(RefusingSts("AccessDenied", 403), SETTINGS, no_ports).resolve(DESTINATION)
    [problem] = refused.value.problems
    assert problem.startswith("DestinationBackupVaultArn: cannot assume the copy role "
                              "arn:aws:iam::222222222222:role/coffer-copy (AccessDenied)")
    assert "trusting account 111111111111" in problem


@pytest.mark.parametrize(("code", "status", "name"), [("Throttling", 400, "ThrottlingException"),
                                                      ("ServiceUnavailable", 503, "ServiceUnavailable"),
                                                      ("InternalFailure", 500, "ServiceUnavailable")])
def test_throttling_that_outlasts_the_retries_is_tried_again_not_refused(code: str, status: int, name: str) -> None:
    sts = RefusingSts(code, status)
    resolver = DestinationResolver(sts, SETTINGS, no_ports)
    with pytest.raises(TransientAwsError) as busy:
        resolver.resolve(DESTINATION)
    assert type(busy.value).__name__ == name  # the name the copy workflow's Retry lists
    with pytest.raises(TransientAwsError):
        resolver.resolve(DESTINATION)  # nothing was remembered: the next attempt asks again
    assert sts.calls == 2
