"""The storage handler on a real data_dir: save and search round trips, AND semantics, files on disk."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemons.rpc.handler import HandlerContext
from daemons.rpc.loader import HandlerError
from daemons.storage import handler as storage
from daemons.storage.service import TooManyResults

EMPTY_PUBLICATION = storage.Publication(*[None] * len(storage.Publication._fields))
EMPTY_TREE = storage.Tree(*[None] * len(storage.Tree._fields))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def publication(**fields: object) -> storage.Publication:
    return EMPTY_PUBLICATION._replace(**fields)


def save(record: object) -> object:
    return storage.react(storage.SaveRequest(record), [].append)


def search(query: object, light: bool = False) -> list:
    return storage.react(storage.SearchRequest(query, light), [].append).records


@pytest.fixture
def configure(state_dir: Path) -> Iterator[Callable[..., Path]]:
    """Configure storage with options (as the INI gives them); returns its data_dir."""

    def apply(**options: str) -> Path:
        context = HandlerContext(name="storage", options=options, data_dir=state_dir / "storage", state_dir=state_dir)
        storage.configure(context)
        return Path(options.get("data_dir") or context.data_dir)

    yield apply
    if storage._storage is not None:
        storage._storage.close()
        storage._storage = None


@pytest.fixture
def data_dir(configure: Callable[..., Path]) -> Path:
    return configure(public_url="https://edeposit.example.org/files")


def test_saved_publication_comes_back_without_data_with_a_pointer_to_its_file(data_dir):
    content = "Žluťoučký kůň".encode() * 100
    stored = save(publication(title="Kniha", author="Autor", uuid="u-1", filename="kniha.epub", is_public=False,
                              b64_data=b64(content)))
    assert stored.b64_data is None and stored.title == "Kniha" and stored.uuid == "u-1"
    file = Path(stored.file_pointer)
    assert file.read_bytes() == content
    digest = hashlib.sha256(content).hexdigest()
    assert file == data_dir / "private" / digest[:2] / digest[2:4] / f"{digest}.epub"
    assert stored.url is None, "a private publication has no public URL"


def test_public_publication_gets_a_url_under_public_url_that_mirrors_its_file(data_dir):
    stored = save(publication(title="Veřejná", uuid="u-2", filename="x.PDF", is_public=True, b64_data=b64(b"%PDF")))
    relative = Path(stored.file_pointer).relative_to(data_dir / "public").as_posix()
    assert relative.endswith(".pdf")
    assert stored.url == f"https://edeposit.example.org/files/{relative}"


def test_search_round_trip_returns_the_content_and_light_request_leaves_it_out(data_dir):
    content = os.urandom(5000)
    save(publication(title="A", isbn="978-80-7304-000-1", uuid="u-3", filename="a.pdf", b64_data=b64(content)))
    full = search(publication(isbn="978-80-7304-000-1"))
    light = search(publication(isbn="978-80-7304-000-1"), light=True)
    assert [base64.b64decode(r.b64_data) for r in full] == [content]
    assert [r.b64_data for r in light] == [None]
    assert light[0]._replace(b64_data=full[0].b64_data) == full[0]


def test_search_matches_every_non_null_field_and_nothing_else(data_dir):
    save(publication(title="Babička", author="Němcová", pub_year="1855", uuid="a", filename="1"))
    save(publication(title="Babička", author="Jiný", pub_year="1855", uuid="b", filename="1"))
    save(publication(title="Divá Bára", author="Němcová", pub_year="1856", uuid="c", filename="1"))
    assert {r.uuid for r in search(publication(title="Babička"), light=True)} == {"a", "b"}
    assert {r.uuid for r in search(publication(author="Němcová"), light=True)} == {"a", "c"}
    assert [r.uuid for r in search(publication(title="Babička", author="Němcová"), light=True)] == ["a"]
    assert search(publication(title="Babička", pub_year="1856"), light=True) == []
    assert {r.uuid for r in search(EMPTY_PUBLICATION, light=True)} == {"a", "b", "c"}


def test_numbers_and_flags_match_as_the_old_clients_send_them(data_dir):
    save(publication(title="P", pub_year=2015, is_periodical=True, is_public=False, uuid="p", filename="f"))
    save(publication(title="Q", pub_year="2016", is_periodical=False, uuid="q", filename="f"))
    assert [r.uuid for r in search(publication(pub_year="2015"), light=True)] == ["p"]
    assert [r.uuid for r in search(publication(pub_year=2015), light=True)] == ["p"]
    assert [r.uuid for r in search(publication(is_periodical=True), light=True)] == ["p"]
    assert [r.uuid for r in search(publication(is_periodical=False), light=True)] == ["q"]
    assert search(publication(uuid="p"), light=True)[0].pub_year == "2015"


def test_search_by_content_and_by_file_pointer_finds_the_record(data_dir):
    stored = save(publication(title="Obsah", uuid="c1", filename="c.txt", b64_data=b64(b"unique content")))
    save(publication(title="Jiný", uuid="c2", filename="d.txt", b64_data=b64(b"other content")))
    assert [r.uuid for r in search(publication(b64_data=b64(b"unique content")), light=True)] == ["c1"]
    assert [r.uuid for r in search(publication(file_pointer=stored.file_pointer), light=True)] == ["c1"]
    assert search(publication(file_pointer="/etc/passwd"), light=True) == []


def test_saving_the_same_uuid_and_filename_again_replaces_the_record_and_its_old_file(data_dir):
    first = save(publication(title="v1", uuid="same", filename="book.epub", b64_data=b64(b"version 1")))
    second = save(publication(title="v2", uuid="same", filename="book.epub", b64_data=b64(b"version 2")))
    assert [r.title for r in search(publication(uuid="same"), light=True)] == ["v2"]
    assert not Path(first.file_pointer).exists()
    assert Path(second.file_pointer).read_bytes() == b"version 2"
    save(publication(title="other format", uuid="same", filename="book.pdf", b64_data=b64(b"pdf")))
    assert {r.filename for r in search(publication(uuid="same"), light=True)} == {"book.epub", "book.pdf"}


def test_a_metadata_only_save_keeps_the_file_of_the_replaced_record(data_dir):
    first = save(publication(title="with file", uuid="m", filename="m.txt", b64_data=b64(b"kept")))
    second = save(publication(title="renamed", uuid="m", filename="m.txt"))
    assert second.file_pointer == first.file_pointer
    assert base64.b64decode(search(publication(uuid="m"))[0].b64_data) == b"kept"


def test_making_a_publication_private_moves_its_file_out_of_the_public_tree(data_dir):
    public = save(publication(uuid="p", filename="p.pdf", is_public=True, b64_data=b64(b"was public")))
    private = save(publication(uuid="p", filename="p.pdf", is_public=False, b64_data=b64(b"was public")))
    assert not Path(public.file_pointer).exists()
    assert Path(private.file_pointer).is_relative_to(data_dir / "private") and private.url is None
    assert [p for p in (data_dir / "public").rglob("*") if p.is_file()] == []


def test_a_metadata_only_save_that_makes_a_publication_private_moves_its_file_too(data_dir):
    public = save(publication(uuid="q", filename="q.pdf", is_public=True, b64_data=b64(b"secret soon")))
    private = save(publication(uuid="q", filename="q.pdf", is_public=False))
    assert private.url is None and not Path(public.file_pointer).exists()
    assert Path(private.file_pointer).read_bytes() == b"secret soon"
    assert Path(private.file_pointer).is_relative_to(data_dir / "private")


def test_the_same_content_is_stored_once_and_stays_while_any_record_uses_it(data_dir):
    a = save(publication(uuid="x", filename="a.txt", b64_data=b64(b"shared")))
    b = save(publication(uuid="y", filename="b.txt", b64_data=b64(b"shared")))
    assert a.file_pointer == b.file_pointer
    save(publication(uuid="x", filename="a.txt", b64_data=b64(b"changed")))
    assert Path(b.file_pointer).read_bytes() == b"shared"


def test_files_are_spread_over_a_two_level_tree_with_no_temporary_files_left(data_dir):
    for number in range(40):
        save(publication(uuid=f"t{number}", filename="f.bin", b64_data=b64(f"file {number}".encode())))
    files = [p for p in (data_dir / "private").rglob("*") if p.is_file()]
    assert len(files) == 40
    assert all(len(p.relative_to(data_dir / "private").parts) == 3 for p in files)
    assert len({p.parent.parent for p in files}) > 20, "the first level spreads files over many directories"
    assert not [p for p in data_dir.rglob(".tmp-*")]


def test_records_survive_a_restart_of_the_daemon(configure, state_dir):
    configure()
    save(publication(title="Trvalá", uuid="keep", filename="k.txt", b64_data=b64(b"persist")))
    storage._storage.close()
    configure()
    assert base64.b64decode(search(publication(uuid="keep"))[0].b64_data) == b"persist"


def test_data_dir_option_moves_the_storage(configure, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    assert configure(data_dir=str(elsewhere)) == elsewhere
    stored = save(publication(uuid="e", filename="e.txt", b64_data=b64(b"e")))
    assert Path(stored.file_pointer).is_relative_to(elsewhere)
    assert (elsewhere / "catalog.sqlite3").is_file()


def test_catalogue_is_plain_sqlite_a_front_end_can_read(data_dir):
    save(publication(title="SQL", uuid="s", filename="s.txt"))
    with sqlite3.connect(data_dir / "catalog.sqlite3") as db:
        assert db.execute("SELECT title FROM publications WHERE uuid = 's'").fetchall() == [("SQL",)]


def test_tree_save_returns_tree_info_and_search_by_issn_returns_it_with_sub_trees(data_dir):
    volume = storage.Tree("2015", [], ["uuid-a", "uuid-b"], None, None, True, None)
    tree = storage.Tree("Noviny", [volume], [], "aleph-1", "1234-5678", True, None)
    info = save(tree)
    assert info == storage.TreeInfo("/Noviny", "https://edeposit.example.org/files/trees/Noviny",
                                    "https://edeposit.example.org/files/issn/1234-5678")
    [found] = search(EMPTY_TREE._replace(issn="1234-5678"))
    assert found.sub_trees[0] == volume._replace(path_array=["Noviny", "2015"])
    assert found.path_array == ["Noviny"]
    [sub] = search(EMPTY_TREE._replace(path_array=["Noviny", "2015"]))
    assert sub.sub_publications == ["uuid-a", "uuid-b"]


def test_a_private_tree_has_no_urls_and_saving_its_path_again_replaces_it(data_dir):
    save(storage.Tree("Interní", [], [], None, "1111-2222", False, ["Archiv", "Interní"]))
    info = save(storage.Tree("Interní", [], ["u"], None, "1111-2222", False, ["Archiv", "Interní"]))
    assert info == storage.TreeInfo("/Archiv/Interní", None, None)
    assert [t.sub_publications for t in search(EMPTY_TREE._replace(issn="1111-2222"))] == [["u"]]


@pytest.mark.parametrize("record, message", [
    (publication(is_public="yes"), r"Publication\.is_public = 'yes': expected true, false or null"),
    (publication(title=["a"]), r"Publication\.title = \['a'\]: expected a string or null"),
    (publication(b64_data="not base64!"), r"Publication\.b64_data is not valid base64"),
    (storage.Archive("1", "u", None, None, None), r"Archive\.b64_data = None: an archive to save needs"),
    (EMPTY_TREE, r"Tree\.name = None: every tree needs a name"),
    (EMPTY_TREE._replace(name="T", path_array=["a/b"]), r"Tree\.path_array = \['a/b'\]: names .* cannot contain"),
    ({"title": "x"}, r"SaveRequest\.record is a dict; expected a Publication, Archive or Tree"),
])
def test_bad_records_are_refused_naming_the_field_and_value(data_dir, record, message):
    with pytest.raises(ValueError, match=message):
        save(record)


def test_search_of_an_unknown_kind_names_what_is_expected(data_dir):
    with pytest.raises(ValueError, match=r"SearchRequest\.query is a str; expected a Publication, Archive or Tree"):
        search("everything")


def test_search_refuses_more_results_than_max_results(configure):
    configure(max_results="2")
    for number in range(3):
        save(publication(title="many", uuid=str(number), filename="f"))
    assert len(search(publication(title="many", uuid="1"), light=True)) == 1
    with pytest.raises(TooManyResults, match="more than max_results = 2"):
        search(publication(title="many"), light=True)


def test_an_unknown_option_is_refused_naming_the_known_ones(configure):
    with pytest.raises(HandlerError, match=r"unknown option 'root'; expected one of: data_dir, max_archive_bytes"):
        configure(root="/srv")


def test_an_unusable_data_dir_becomes_a_health_note_and_an_error_answer(configure, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    configure(data_dir=str(blocker / "storage"))
    note = storage.health()
    assert note and str(blocker / "storage") in note and "make it writable" in note
    with pytest.raises(storage.StorageUnavailable, match="cannot be used"):
        save(publication(title="x"))


def test_a_file_removed_by_hand_is_reported_by_name(data_dir):
    stored = save(publication(uuid="gone", filename="g.txt", b64_data=b64(b"soon gone")))
    Path(stored.file_pointer).unlink()
    with pytest.raises(RuntimeError, match=r"the file of publication uuid='gone' is missing: .*restore it"):
        search(publication(uuid="gone"))
    assert search(publication(uuid="gone"), light=True)[0].uuid == "gone"


SAVER = """
import base64, sys
from pathlib import Path
from daemons.rpc.handler import HandlerContext
from daemons.storage import handler as storage
storage.configure(HandlerContext("storage", {}, Path(sys.argv[1]), Path(sys.argv[1])))
empty = storage.Publication(*[None] * 15)
for n in range(40):
    content = base64.b64encode(f"{sys.argv[2]} {n}".encode()).decode()
    storage.react(storage.SaveRequest(empty._replace(uuid=f"{sys.argv[2]}-{n}", filename="f.txt", b64_data=content)),
                  None)
"""


def test_worker_processes_sharing_a_data_dir_save_without_losing_records(configure, tmp_path):
    shared = tmp_path / "shared"
    savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(shared), name], cwd=Path(__file__).parents[1])
              for name in ("first", "second", "third")]
    assert [saver.wait(60) for saver in savers] == [0, 0, 0]
    configure(data_dir=str(shared))
    records = search(EMPTY_PUBLICATION)
    assert len(records) == 120
    assert all(base64.b64decode(r.b64_data).decode() == r.uuid.replace("-", " ") for r in records)
