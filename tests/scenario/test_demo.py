"""README command one, as a test: the demo runs end to end and every claim it prints was checked."""

from pathlib import Path

from coffer.local.demo import run_demo


def test_demo_backs_up_restores_equal_copies_and_shows_the_vault_refusing_deletion(project_root: Path) -> None:
    lines: list[str] = []
    assert run_demo(project_root, say=lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    for claim in (
        "both backup jobs COMPLETED",
        "the same event delivered again makes no second job",
        "restored bucket is byte-identical, with content types, metadata and tags",
        "restored table holds the same items",
        "second backup copied 1 object and reused 14",
        "deleting a locked manifest version was refused",
    ):
        assert f"ok  {claim}" in text
