"""`voxq lexicon` against a running stack: a TSV file in, the stored entries out."""

from pathlib import Path

from deploy.stack import Stack
from tests.cli.test_main import voxq


def test_a_tsv_file_sets_the_lexicon_and_show_prints_it_back(sqlite_stack: Stack, tmp_path: Path) -> None:
    key = sqlite_stack.new_key("lexicon-cli")
    tsv = tmp_path / "lexicon.tsv"
    tsv.write_text("# word\treading\n重庆\tChong2Qing4\n\nVoxQueue\t沃克斯队列\n", encoding="utf-8")

    stored = voxq(sqlite_stack, "lexicon", "set", str(tsv), key=key)
    shown = voxq(sqlite_stack, "lexicon", "show", "--tsv", key=key)

    assert stored.returncode == 0 and "2 entries stored" in stored.stdout, stored.stderr
    assert shown.stdout == "重庆\tchong2 qing4\nVoxQueue\t沃克斯队列\n"


def test_a_bad_file_or_entry_exits_2_and_changes_nothing(sqlite_stack: Stack, tmp_path: Path) -> None:
    key = sqlite_stack.new_key("lexicon-cli-bad")
    no_tab, bad_tone = tmp_path / "no_tab.tsv", tmp_path / "bad_tone.tsv"
    no_tab.write_text("重庆 chong2 qing4\n", encoding="utf-8")
    bad_tone.write_text("重庆\tchong9 qing4\n", encoding="utf-8")

    results = [voxq(sqlite_stack, "lexicon", "set", str(path), key=key) for path in (no_tab, bad_tone)]

    assert [r.returncode for r in results] == [2, 2]
    assert "no_tab.tsv:1" in results[0].stderr and "not pinyin" in results[1].stderr
    assert voxq(sqlite_stack, "lexicon", "show", "--tsv", key=key).stdout == ""
