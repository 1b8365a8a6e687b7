from __future__ import annotations

import os
import re
import stat
import zipfile
from pathlib import Path

import pytest

from tui.local.engine.artifacts import (
    ArtifactError,
    UnsafeArtifactError,
    artifact_key,
    is_zip,
    safe_extract,
    zip_directory,
)


def write(path: Path, text: str = "x", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def names_in(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def link_entry(zf: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    zf.writestr(info, target)


def file_entry(zf: zipfile.ZipFile, name: str, data: bytes = b"data", mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFREG | mode) << 16
    zf.writestr(info, data)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    write(root / "a.txt", "a")
    write(root / ".hidden", "h")
    write(root / "run.sh", "#!/bin/sh\necho hi\n", 0o755)
    write(root / "dir" / "b.txt", "b")
    write(root / "dir" / ".env", "e")
    write(root / "dir" / "sub" / "c.txt", "c")
    write(root / "dir" / "sub" / "deep" / "d.bin", "d")
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to every destination that nothing may ever write into."""
    path = tmp_path / "outside"
    path.mkdir()
    write(path / "secret.txt", "do not touch")
    return path


def assert_untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "do not touch"


# --- artifact keys -------------------------------------------------------------------


def test_artifact_key_has_the_observed_shape() -> None:
    key = artifact_key("meerkat", "SourceArtifact")
    assert re.fullmatch(r"meerkat/SourceArti/[A-Za-z0-9]{7}", key)
    assert artifact_key("p", "a") != artifact_key("p", "a")


def test_artifact_key_keeps_within_100_characters_by_cutting_the_pipeline_name() -> None:
    pipeline = "p" * 100
    key = artifact_key(pipeline, "BuildArtifact")
    assert len(key) == 100
    assert key.startswith("p" * 81 + "/BuildArtif/")
    short = artifact_key("p" * 100, "ab")
    assert len(short) == 100
    assert short.split("/")[1] == "ab"


# --- zipping ---------------------------------------------------------------------------


def test_round_trip_keeps_contents_modes_and_inside_links(tree: Path, tmp_path: Path) -> None:
    os.symlink("dir/sub/c.txt", tree / "link-to-c")
    os.symlink(str(tree / "dir" / "b.txt"), tree / "dir" / "abs-link")
    dest = tmp_path / "out.zip"
    names = zip_directory(tree, dest)
    assert names == sorted(names)
    assert names == names_in(dest)
    assert ".hidden" in names
    assert "dir/.env" in names

    out = tmp_path / "unzipped"
    created = safe_extract(dest, out)
    assert sorted(str(p.relative_to(out)) for p in created) == names
    assert (out / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert stat.S_IMODE((out / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "a.txt").stat().st_mode) == 0o644
    assert (out / "dir" / "sub" / "deep" / "d.bin").read_text() == "d"
    assert os.readlink(out / "link-to-c") == "dir/sub/c.txt"
    assert (out / "link-to-c").read_text() == "c"
    # An absolute link inside the tree is stored relative so it still works elsewhere.
    assert os.readlink(out / "dir" / "abs-link") == "b.txt"
    assert (out / "dir" / "abs-link").read_text() == "b"


def test_zipping_is_deterministic_in_order(tree: Path, tmp_path: Path) -> None:
    first = zip_directory(tree, tmp_path / "1.zip")
    second = zip_directory(tree, tmp_path / "2.zip")
    assert first == second == names_in(tmp_path / "1.zip") == names_in(tmp_path / "2.zip")


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (
            ["**/*"],
            [
                ".hidden",
                "a.txt",
                "dir/.env",
                "dir/b.txt",
                "dir/sub/c.txt",
                "dir/sub/deep/d.bin",
                "run.sh",
            ],
        ),
        (["dir/*"], ["dir/.env", "dir/b.txt"]),
        (["dir/**/*"], ["dir/.env", "dir/b.txt", "dir/sub/c.txt", "dir/sub/deep/d.bin"]),
        (["*.txt"], ["a.txt"]),
        (["**/*.txt"], ["a.txt", "dir/b.txt", "dir/sub/c.txt"]),
        (["dir/sub"], ["dir/sub/c.txt", "dir/sub/deep/d.bin"]),
        (["./a.txt", "run.sh"], ["a.txt", "run.sh"]),
        (["dir/s?b/*"], ["dir/sub/c.txt"]),
        (["[ab].txt"], ["a.txt"]),
        (["dir/**"], ["dir/.env", "dir/b.txt", "dir/sub/c.txt", "dir/sub/deep/d.bin"]),
    ],
)
def test_glob_semantics(
    tree: Path, tmp_path: Path, patterns: list[str], expected: list[str]
) -> None:
    assert zip_directory(tree, tmp_path / "o.zip", include=patterns) == expected
    assert names_in(tmp_path / "o.zip") == expected


def test_exclude_wins_over_include(tree: Path, tmp_path: Path) -> None:
    names = zip_directory(
        tree, tmp_path / "o.zip", include=["**/*"], exclude=["**/.env", ".hidden", "dir/sub"]
    )
    assert names == ["a.txt", "dir/b.txt", "run.sh"]


def test_base_directory_as_in_the_codebuild_docs(tmp_path: Path) -> None:
    root = tmp_path / "build"
    write(root / "my-build1" / "my-file1.txt")
    write(root / "my-build2" / "my-file2.txt")
    write(root / "my-build2" / "my-subdirectory" / "my-file3.txt")
    write(root / "other" / "no.txt")

    names = zip_directory(
        root, tmp_path / "1.zip", include=["*/my-file3.txt"], base_directory="my-build2"
    )
    assert names == ["my-subdirectory/my-file3.txt"]

    names = zip_directory(
        root, tmp_path / "2.zip", include=["**/*"], base_directory="my-build*", discard_paths=True
    )
    assert names == ["my-file1.txt", "my-file2.txt", "my-file3.txt"]

    names = zip_directory(root, tmp_path / "3.zip", base_directory="my-build2")
    assert names == ["my-file2.txt", "my-subdirectory/my-file3.txt"]


def test_discard_paths_flattens(tree: Path, tmp_path: Path) -> None:
    names = zip_directory(tree, tmp_path / "o.zip", include=["dir/sub/**/*"], discard_paths=True)
    assert names == ["c.txt", "d.bin"]


def test_two_files_with_one_name_is_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root / "x" / "same.txt", "1")
    write(root / "y" / "same.txt", "2")
    dest = tmp_path / "o.zip"
    with pytest.raises(ArtifactError, match=r"same\.txt"):
        zip_directory(root, dest, discard_paths=True)
    assert not dest.exists()


def test_nothing_matching_is_an_error(tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "o.zip"
    with pytest.raises(ArtifactError, match="no matching artifact paths found"):
        zip_directory(tree, dest, include=["*.jar"])
    with pytest.raises(ArtifactError, match="no matching base directory path found"):
        zip_directory(tree, dest, base_directory="missing*")
    assert not dest.exists()


@pytest.mark.parametrize("pattern", ["../x", "/etc/*", "dir/../../x", "C:/x"])
def test_patterns_cannot_leave_the_tree(tree: Path, tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ArtifactError):
        zip_directory(tree, tmp_path / "o.zip", include=[pattern])
    with pytest.raises(ArtifactError):
        zip_directory(tree, tmp_path / "o.zip", base_directory=pattern)


def test_links_leaving_the_tree_are_rejected(tree: Path, tmp_path: Path, outside: Path) -> None:
    os.symlink(outside / "secret.txt", tree / "dir" / "steal")
    dest = tmp_path / "o.zip"
    with pytest.raises(ArtifactError, match="dir/steal"):
        zip_directory(tree, dest)
    assert not dest.exists()
    (tree / "dir" / "steal").unlink()
    os.symlink("../../outside/secret.txt", tree / "dir" / "steal")
    with pytest.raises(ArtifactError, match="outside"):
        zip_directory(tree, dest)
    # Excluded, the link does no harm.
    assert "dir/steal" not in zip_directory(tree, dest, exclude=["dir/steal"])


def test_link_to_a_directory_is_stored_not_followed(
    tree: Path, tmp_path: Path, outside: Path
) -> None:
    os.symlink("dir/sub", tree / "subdir-link")
    names = zip_directory(tree, tmp_path / "o.zip")
    assert "subdir-link" in names
    assert not any(n.startswith("subdir-link/") for n in names)
    os.symlink(outside, tree / "escape-dir")
    with pytest.raises(ArtifactError, match="escape-dir"):
        zip_directory(tree, tmp_path / "o.zip")


def test_links_inside_a_base_directory_may_not_point_above_it(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root / "top.txt")
    write(root / "out" / "f.txt")
    os.symlink("../top.txt", root / "out" / "up")
    with pytest.raises(ArtifactError, match="up"):
        zip_directory(root, tmp_path / "o.zip", base_directory="out")


def test_discarded_paths_cannot_turn_a_link_into_an_escape(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root / "a" / "x.txt")
    (root / "b").mkdir()
    os.symlink("../a/x.txt", root / "b" / "l")
    with pytest.raises(ArtifactError, match="discard-paths"):
        zip_directory(root, tmp_path / "o.zip", discard_paths=True)


def test_the_zip_being_written_is_not_archived(tree: Path) -> None:
    dest = tree / "out.zip"
    names = zip_directory(tree, dest)
    assert "out.zip" not in names
    assert "out.zip" not in zip_directory(tree, dest)


# --- unzipping -------------------------------------------------------------------------


def make_zip(path: Path, build: object) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        build(zf)  # type: ignore[operator]
    return path


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/evil", "absolute"),
        ("../evil", "'..'"),
        ("ok/../../evil", "'..'"),
        ("..\\evil", "'..'"),
        ("C:/evil", "drive letter"),
        ("c:evil", "drive letter"),
    ],
)
def test_escaping_names_are_rejected_before_anything_is_written(
    tmp_path: Path, outside: Path, name: str, reason: str
) -> None:
    def build(zf: zipfile.ZipFile) -> None:
        file_entry(zf, "fine.txt")
        file_entry(zf, name)

    archive = make_zip(tmp_path / "bad.zip", build)
    dest = outside.parent / "dest"
    with pytest.raises(UnsafeArtifactError, match=reason) as err:
        safe_extract(archive, dest)
    assert err.value.entry == name
    assert list(dest.iterdir()) == []
    assert_untouched(outside)
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside/secret.txt", "a/../../outside"])
def test_symlinks_out_of_the_destination_are_rejected(
    tmp_path: Path, outside: Path, target: str
) -> None:
    archive = make_zip(tmp_path / "bad.zip", lambda zf: link_entry(zf, "innocent", target))
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArtifactError, match="innocent"):
        safe_extract(archive, dest)
    assert not (dest / "innocent").is_symlink()
    assert_untouched(outside)


def test_writing_through_an_extracted_symlink_is_rejected(tmp_path: Path, outside: Path) -> None:
    def build(zf: zipfile.ZipFile) -> None:
        file_entry(zf, "sub/keep.txt")
        link_entry(zf, "l", "sub")
        file_entry(zf, "l/evil.txt", b"through the link")

    archive = make_zip(tmp_path / "bad.zip", build)
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArtifactError, match="through the symlink") as err:
        safe_extract(archive, dest)
    assert err.value.entry == "l/evil.txt"
    assert not (dest / "sub" / "evil.txt").exists()
    assert not (dest / "l").is_symlink()


def test_overwriting_an_extracted_symlink_is_rejected(tmp_path: Path, outside: Path) -> None:
    def build(zf: zipfile.ZipFile) -> None:
        file_entry(zf, "target.txt", b"original")
        link_entry(zf, "l", "target.txt")
        file_entry(zf, "l", b"overwrite")

    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = make_zip(tmp_path / "bad.zip", build)
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArtifactError, match="existing link"):
        safe_extract(archive, dest)
    assert (dest / "target.txt").read_bytes() == b"original"


def test_a_symlink_already_in_the_destination_is_never_followed(
    tmp_path: Path, outside: Path
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside / "secret.txt", dest / "x")
    os.symlink(outside, dest / "d")
    for name in ("x", "d/new.txt"):
        archive = make_zip(tmp_path / "bad.zip", lambda zf, n=name: file_entry(zf, n, b"pwned"))
        with pytest.raises(UnsafeArtifactError):
            safe_extract(archive, dest)
    assert_untouched(outside)


def test_symlink_chains_that_escape_are_caught(tmp_path: Path, outside: Path) -> None:
    # Each link looks harmless alone: up -> ../.. is the destination itself, and
    # l -> sub/sub2/up/.. looks like sub/sub2. On disk, up/.. is the destination's parent.
    def build(zf: zipfile.ZipFile) -> None:
        file_entry(zf, "sub/sub2/f.txt")
        link_entry(zf, "sub/sub2/up", "../..")
        link_entry(zf, "l", "sub/sub2/up/..")

    archive = make_zip(tmp_path / "bad.zip", build)
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArtifactError, match="resolves outside") as err:
        safe_extract(archive, dest)
    assert err.value.entry == "l"
    assert not (dest / "l").is_symlink()
    assert not (dest / "sub" / "sub2" / "up").is_symlink()


def test_modes_keep_executable_bits_and_drop_setuid(tmp_path: Path) -> None:
    def build(zf: zipfile.ZipFile) -> None:
        file_entry(zf, "bin/tool", b"#!/bin/sh\n", 0o4755)
        file_entry(zf, "ro.txt", b"r", 0o444)
        plain = zipfile.ZipInfo("plain.txt")  # no unix mode recorded (e.g. made on Windows)
        plain.create_system = 0
        zf.writestr(plain, b"p")

    archive = make_zip(tmp_path / "m.zip", build)
    dest = tmp_path / "dest"
    safe_extract(archive, dest)
    assert stat.S_IMODE((dest / "bin" / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "ro.txt").stat().st_mode) == 0o444
    assert stat.S_IMODE((dest / "plain.txt").stat().st_mode) == 0o644


def test_too_many_entries_is_rejected_before_writing(tmp_path: Path) -> None:
    def build(zf: zipfile.ZipFile) -> None:
        for i in range(2000):
            zf.writestr(f"f{i:05d}", b"")

    archive = make_zip(tmp_path / "many.zip", build)
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArtifactError, match="more than the limit of 1000") as err:
        safe_extract(archive, dest, max_entries=1000)
    assert err.value.entry == "f01000"
    assert list(dest.iterdir()) == []
    assert len(safe_extract(archive, tmp_path / "ok")) == 2000


def test_a_small_zip_that_expands_hugely_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * (20 * 1024 * 1024))
    assert archive.stat().st_size < 100_000
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArtifactError, match="zeros"):
        safe_extract(archive, dest, max_total_size=1024 * 1024)
    assert list(dest.iterdir()) == []


def test_not_a_zip_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "file.zip"
    bogus.write_text("hello, not a zip")
    assert not is_zip(bogus)
    with pytest.raises(ArtifactError, match="not a readable zip"):
        safe_extract(bogus, tmp_path / "dest")
    empty = make_zip(tmp_path / "empty.zip", lambda zf: None)
    assert is_zip(empty)
    assert safe_extract(empty, tmp_path / "dest") == []


def test_directory_entries_and_backslash_names(tmp_path: Path) -> None:
    def build(zf: zipfile.ZipFile) -> None:
        zf.writestr("emptydir/", b"")
        zf.writestr("win\\path\\file.txt", b"w")

    archive = make_zip(tmp_path / "d.zip", build)
    dest = tmp_path / "dest"
    safe_extract(archive, dest)
    assert (dest / "emptydir").is_dir()
    assert (dest / "win" / "path" / "file.txt").read_bytes() == b"w"
