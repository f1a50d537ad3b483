"""Verify's bucket-wide checks: what guards the whole vault rather than one object. Once per run, a few calls per
vault and none per object (services/vault_verify.py runs them first; bench/README.md "Verify" counts them):

- KEY_STATE: each verified vault's KMS key, and the stack's, is Enabled;
- KEY_POLICY_DRIFT: the stack's vault key policy holds exactly the statements the template installs;
- BUCKET_POLICY_DRIFT: the bucket policy holds exactly the template's statements and every vault's own
  (domain/vault_policy.py): none missing, none changed, none added;
- OBJECT_LOCK_CONFIG / VERSIONING: Object Lock on with the template's default mode and retention; versioning Enabled;
- UNOWNED: a vault prefix (vaults/<name>/) no catalogued vault owns, or a prefix inside a vault outside its layout.

What the template installs is resolved from the template the stack was deployed with (domain/cfn_template.py).
"""

from __future__ import annotations

from coffer.domain.cfn_template import DeployedStack
from coffer.domain.policy_drift import drift
from coffer.domain.vault_policy import vault_statements
from coffer.domain.vaults import Vault
from coffer.domain.verify import Finding, FindingKind
from coffer.ports.key_inspection import KeyInspection
from coffer.ports.stack_template import StackTemplates
from coffer.ports.vault import VaultStore
from coffer.ports.vault_inspection import VaultInspection
from coffer.services.vaults import Vaults

#: the template's logical ids of what is checked
BUCKET, BUCKET_POLICY, KEY = "VaultBucket", "VaultBucketPolicy", "VaultKey"
#: what a vault's prefix holds (domain/manifest.py VaultLayout, services/vaults.py's descriptor)
VAULT_LAYOUT = ("blobs/", "recovery-points/", "vault.json")
_PAGE = 1000


class BucketChecks:
    def __init__(self, inspection: VaultInspection, keys: KeyInspection, stack: StackTemplates, vaults: Vaults,
                 store: VaultStore) -> None:
        self._inspect = inspection
        self._keys = keys
        self._stack = stack
        self._vaults = vaults
        self._store = store

    def check(self, names: list[str]) -> list[Finding]:
        """Every bucket-wide finding; `names`: the vaults of the run (their keys and layouts are checked)."""
        deployed = self._stack.deployed()
        every = self._vaults.all()
        verified = [v for v in every if v.name in names]
        return [*self.versioning_and_lock(deployed), *self.bucket_policy(deployed, every),
                *self.keys(deployed, verified), *self.unowned(every, verified)]

    def versioning_and_lock(self, deployed: DeployedStack) -> list[Finding]:
        rules, where = self._inspect.rules(), f"s3://{self._inspect.bucket}"
        found: list[Finding] = []
        if rules.versioning != "Enabled":
            found.append(Finding(kind=FindingKind.VERSIONING, key=where, expected="Enabled",
                                 found=rules.versioning or "never enabled",
                                 detail="the vault bucket's versioning is not Enabled: a write replaces an object's "
                                        "bytes instead of adding a version beside the locked one"))
        config = deployed.resolved_property(BUCKET, "ObjectLockConfiguration") or {}
        default = config.get("Rule", {}).get("DefaultRetention", {})
        expected = (True, default.get("Mode"), _int(default.get("Days")), _int(default.get("Years")))
        actual = (rules.object_lock, rules.default_mode, rules.default_days, rules.default_years)
        if actual != expected:
            found.append(Finding(kind=FindingKind.OBJECT_LOCK_CONFIG, key=where, expected=_lock_text(*expected),
                                 found=_lock_text(*actual),
                                 detail="the vault bucket's Object Lock configuration is not the template's"))
        return found

    def bucket_policy(self, deployed: DeployedStack, vaults: list[Vault]) -> list[Finding]:
        document = deployed.resolved_property(BUCKET_POLICY, "PolicyDocument") or {}
        bucket_arn = deployed.arn_of(BUCKET)
        expected = list(document.get("Statement", []))
        for vault in vaults:
            expected.extend(vault_statements(bucket_arn, vault))
        policy = self._inspect.policy()
        if policy is None:
            return [Finding(kind=FindingKind.BUCKET_POLICY_DRIFT, key=f"s3://{self._inspect.bucket}",
                            detail="the vault bucket has no policy: every guard of the template and the vaults is off",
                            expected=f"{len(expected)} statements", found="none")]
        return [Finding(kind=FindingKind.BUCKET_POLICY_DRIFT, key=f"s3://{self._inspect.bucket} Sid {sid}",
                        detail=f"bucket policy statement {sid}: {what}", found=statement,
                        command="coffer vault apply-policies (after redeploying the stack, as the operator role)")
                for sid, what, statement in drift(expected, policy)]

    def keys(self, deployed: DeployedStack, vaults: list[Vault]) -> list[Finding]:
        stack_key = deployed.arn_of(KEY)
        found: list[Finding] = []
        owners: dict[str, list[str]] = {stack_key: []}
        for vault in vaults:
            owners.setdefault(vault.key_arn, []).append(vault.name)
        for key_arn, names in owners.items():
            state = self._keys.state(key_arn)
            if state != "Enabled":
                used_by = f"vault(s) {', '.join(names)}" if names else "the stack (work bucket, Default vault)"
                found.append(Finding(kind=FindingKind.KEY_STATE, key=key_arn, expected="Enabled", found=state,
                                     detail=f"the KMS key of {used_by} is {state}: nothing encrypted with it can be "
                                            "read (restored, copied, verified) while it is"))
        policy = self._keys.policy(stack_key)
        expected = list((deployed.resolved_property(KEY, "KeyPolicy") or {}).get("Statement", []))
        if policy is not None:
            found.extend(Finding(kind=FindingKind.KEY_POLICY_DRIFT, key=f"{stack_key} Sid {sid}",
                                 detail=f"vault key policy statement {sid}: {what}", found=statement)
                         for sid, what, statement in drift(expected, policy))
        return found

    def unowned(self, every: list[Vault], verified: list[Vault]) -> list[Finding]:
        """A vault prefix of no catalogued vault; inside a verified vault, anything outside its layout."""
        known = {v.name for v in every}
        found = [Finding(kind=FindingKind.UNOWNED, key=prefix,
                         detail="a vault prefix no catalogued vault owns: planted, or the catalog was lost (then "
                                "`coffer catalog rebuild`)")
                 for prefix, _ in self._children("vaults/") if prefix.endswith("/")
                 and prefix.removeprefix("vaults/").rstrip("/") not in known]
        for vault in verified:
            root = f"vaults/{vault.name}/"
            found.extend(Finding(kind=FindingKind.UNOWNED, key=child,
                                 detail=f"vault {vault.name} holds something outside its layout "
                                        f"({', '.join(VAULT_LAYOUT)})")
                         for child, _ in self._children(root) if child.removeprefix(root) not in VAULT_LAYOUT)
        return found

    def _children(self, prefix: str) -> list[tuple[str, bool]]:
        """(key or common prefix, is a prefix) one level under `prefix`, every page."""
        children: list[tuple[str, bool]] = []
        token: str | None = None
        while True:
            objects, prefixes, token = self._store.list_page(prefix, token, _PAGE, delimiter="/")
            children.extend([(p, True) for p in prefixes] + [(o.key, False) for o in objects])
            if token is None:
                return children


def _int(value: object) -> int | None:
    return None if value in (None, "") else int(str(value))


def _lock_text(on: bool, mode: str | None, days: int | None, years: int | None) -> str:
    if not on:
        return "Object Lock off"
    period = f"{days} days" if days is not None else f"{years} years" if years is not None else "no default retention"
    return f"Object Lock on, default {mode or 'no mode'} for {period}"
