"""ftp_manager's handler called directly on real files: the AuthUserFile, homes, lock files, reload."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from passlib.hash import sha512_crypt

from daemons.ftp_manager import handler as fm
from daemons.ftp_manager import users as ftp_users
from daemons.ftp_manager.homes import LOCK_FILE_TEXT
from daemons.ftp_manager.proftpd import reload_proftpd
from daemons.rpc.handler import HandlerContext
from daemons.rpc.loader import HandlerError, validate_options
from daemons.rpc.settings import DaemonSettings

LOCK = "delete_me_to_import_files.txt"
FAST_ROUNDS = 1000


@pytest.fixture
def ftp(tmp_path: Path) -> dict[str, Path]:
    """A configured ftp_manager on files in tmp_path; returns the [ftp] paths."""
    (tmp_path / "etc").mkdir()
    paths = {
        "passwd_file": tmp_path / "etc" / "ftpd.passwd",
        "home_root": tmp_path / "homes",
        "proftpd_pidfile": tmp_path / "proftpd.pid",
    }
    fm.configure(HandlerContext(
        name="ftp_manager", options={"uid": 2000, "gid": 2000, "shell": "/bin/false", "password_rounds": FAST_ROUNDS},
        data_dir=tmp_path / "data", state_dir=tmp_path, shared={"ftp": {**{k: str(v) for k, v in paths.items()},
                                                                        "lock_filename": LOCK}},
    ))
    return paths


def call(message: object) -> object:
    progress: list[object] = []
    answer = fm.react(message, progress.append)
    assert progress == []
    return answer


def passwd_lines(ftp: dict[str, Path]) -> list[str]:
    return ftp["passwd_file"].read_text().splitlines()


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def test_add_user_writes_sha512_crypt_line_home_and_lock_file(ftp: dict[str, Path]) -> None:
    assert call(fm.AddUser("alice", "s3cret-pass")) is True

    [line] = passwd_lines(ftp)
    name, password_hash, uid, gid, gecos, home, shell = line.split(":")
    assert (name, uid, gid, gecos, shell) == ("alice", "2000", "2000", "", "/bin/false")
    assert password_hash.startswith("$6$") and sha512_crypt.verify("s3cret-pass", password_hash)
    assert home == str(ftp["home_root"] / "alice")
    lock = Path(home) / LOCK
    assert lock.read_text(encoding="utf-8") == LOCK_FILE_TEXT
    assert "Smazáním" in LOCK_FILE_TEXT and "Delete this file" in LOCK_FILE_TEXT
    assert (os.stat(home).st_uid, lock.stat().st_uid) == (2000, 2000)


def test_configure_creates_an_empty_passwd_file_proftpd_can_start_with(ftp: dict[str, Path]) -> None:
    assert ftp["passwd_file"].read_text() == ""
    assert stat.S_IMODE(ftp["passwd_file"].stat().st_mode) == 0o600


def test_passwd_file_keeps_mode_0600_after_every_change(ftp: dict[str, Path]) -> None:
    modes = []
    for message in (fm.AddUser("alice", "a"), fm.AddUser("bob", "b"), fm.ChangePassword("alice", "c"),
                    fm.SetUserSettings("bob", True, False, True, False, True), fm.RemoveUser("alice")):
        call(message)
        modes.append(stat.S_IMODE(ftp["passwd_file"].stat().st_mode))
    assert modes == [0o600] * 5
    assert [p.name for p in ftp["passwd_file"].parent.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("username", ["..", ".", "../evil", "a/b", "", "with space", "kůň", "x" * 65, "a:b", None])
def test_unsafe_username_is_refused_and_nothing_is_touched(ftp: dict[str, Path], username: object) -> None:
    call(fm.AddUser("alice", "a"))
    before = (ftp["passwd_file"].read_bytes(), tree(ftp["home_root"].parent))

    for message in (fm.AddUser(username, "pw"), fm.RemoveUser(username), fm.ChangePassword(username, "pw"),
                    fm.GetUserSettings(username)):
        with pytest.raises(ftp_users.InvalidUsername) as refused:
            call(message)
        assert repr(username) in str(refused.value) and "A-Z, a-z, 0-9" in str(refused.value)

    assert (ftp["passwd_file"].read_bytes(), tree(ftp["home_root"].parent)) == before


def test_existing_user_is_refused_and_keeps_its_password(ftp: dict[str, Path]) -> None:
    call(fm.AddUser("alice", "first"))
    with pytest.raises(ftp_users.UserExists, match="'alice' already exists"):
        call(fm.AddUser("alice", "second"))
    [line] = passwd_lines(ftp)
    assert sha512_crypt.verify("first", line.split(":")[1])


def test_empty_password_is_refused(ftp: dict[str, Path]) -> None:
    with pytest.raises(ftp_users.FtpUserError, match="password is empty"):
        call(fm.AddUser("alice", ""))
    assert ftp["passwd_file"].read_text() == "" and tree(ftp["home_root"]) == []


def test_remove_user_deletes_its_line_and_home_only(ftp: dict[str, Path]) -> None:
    call(fm.AddUser("alice", "a"))
    call(fm.AddUser("bob", "b"))
    (ftp["home_root"] / "alice" / "book.epub").write_bytes(b"data")

    assert call(fm.RemoveUser("alice")) is True

    assert [line.split(":")[0] for line in passwd_lines(ftp)] == ["bob"]
    assert tree(ftp["home_root"]) == ["bob", f"bob/{LOCK}"]


def test_remove_user_whose_home_is_a_symlink_never_follows_it(ftp: dict[str, Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    call(fm.AddUser("alice", "a"))
    home = ftp["home_root"] / "alice"
    (home / LOCK).unlink()
    home.rmdir()
    home.symlink_to(outside)

    call(fm.RemoveUser("alice"))

    assert not home.is_symlink() and (outside / "precious.txt").read_text() == "keep me"


def test_add_user_refuses_a_symlink_in_place_of_the_home(ftp: dict[str, Path], tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    ftp["home_root"].mkdir()
    (ftp["home_root"] / "alice").symlink_to(outside)

    with pytest.raises(RuntimeError, match="is not a plain directory"):
        call(fm.AddUser("alice", "a"))
    assert list(outside.iterdir()) == [] and ftp["passwd_file"].read_text() == ""


def test_unknown_user_is_named_in_the_error(ftp: dict[str, Path]) -> None:
    for message in (fm.RemoveUser("ghost"), fm.ChangePassword("ghost", "x"), fm.GetUserSettings("ghost"),
                    fm.SetUserSettings("ghost", True, True, True, True, True)):
        with pytest.raises(ftp_users.UnknownUser, match="'ghost' does not exist"):
            call(message)


def test_change_password_replaces_the_hash_and_keeps_settings(ftp: dict[str, Path]) -> None:
    call(fm.AddUser("alice", "old"))
    call(fm.SetUserSettings("alice", False, True, False, True, False))

    call(fm.ChangePassword("alice", "new"))

    [line] = passwd_lines(ftp)
    password_hash = line.split(":")[1]
    assert sha512_crypt.verify("new", password_hash) and not sha512_crypt.verify("old", password_hash)
    assert call(fm.GetUserSettings("alice")) == fm.UserSettings("alice", False, True, False, True, False)


def test_user_without_settings_has_every_flag_on(ftp: dict[str, Path]) -> None:
    call(fm.AddUser("alice", "a"))
    assert call(fm.GetUserSettings("alice")) == fm.UserSettings("alice", True, True, True, True, True)
    assert ftp_users.load_user_settings(ftp["passwd_file"], "alice") == dict.fromkeys(ftp_users.SETTINGS_FLAGS, True)
    assert ftp_users.load_user_settings(ftp["passwd_file"], "nobody-here") == dict.fromkeys(
        ftp_users.SETTINGS_FLAGS, True)


def test_settings_are_kept_as_old_gecos_letters(ftp: dict[str, Path]) -> None:
    call(fm.AddUser("alice", "a"))
    answer = call(fm.SetUserSettings("alice", True, False, False, True, False))

    assert answer == fm.UserSettings("alice", True, False, False, True, False)
    assert passwd_lines(ftp)[0].split(":")[4] == "tfftf"
    assert ftp_users.load_user_settings(ftp["passwd_file"], "alice") == {
        "SAME_NAME_DIR_PAIRING": True, "SAME_DIR_PAIRING": False, "ISBN_PAIRING": False,
        "CREATE_IMPORT_LOG": True, "LEAVE_BAD_FILES": False}


def test_gecos_written_by_hand_means_no_settings() -> None:
    assert ftp_users.decode_settings("Jan Novák") == dict.fromkeys(ftp_users.SETTINGS_FLAGS, True)
    assert ftp_users.decode_settings("FTfTf")["SAME_DIR_PAIRING"] is True


def test_set_user_settings_refuses_a_flag_that_is_not_a_bool(ftp: dict[str, Path]) -> None:
    call(fm.AddUser("alice", "a"))
    with pytest.raises(fm.InvalidRequest, match=r"SetUserSettings.ISBN_PAIRING = 'yes': expected true or false"):
        call(fm.SetUserSettings("alice", True, True, "yes", True, True))
    assert passwd_lines(ftp)[0].split(":")[4] == ""


def test_list_registered_users_in_file_order(ftp: dict[str, Path]) -> None:
    assert call(fm.ListRegisteredUsers()) == fm.Userlist(users=[])
    for name in ("carol", "alice", "bob"):
        call(fm.AddUser(name, "pw"))
    assert call(fm.ListRegisteredUsers()) == fm.Userlist(users=["carol", "alice", "bob"])


def test_concurrent_writers_lose_no_user(ftp: dict[str, Path]) -> None:
    names = [f"user{i}" for i in range(8)]
    errors: list[BaseException] = []

    def add(name: str) -> None:
        try:
            call(fm.AddUser(name, "pw"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(call(fm.ListRegisteredUsers()).users) == names


def test_readers_never_see_a_half_written_passwd_file(ftp: dict[str, Path]) -> None:
    for name in ("alice", "bob", "carol"):
        call(fm.AddUser(name, "pw"))
    seen: list[int] = []
    done = threading.Event()

    def read_while_writing() -> None:
        while not done.is_set():
            seen.append(len(ftp_users.read_users(ftp["passwd_file"])))

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        for round_number in range(100):
            call(fm.SetUserSettings("bob", round_number % 2 == 0, True, False, True, True))
    finally:
        done.set()
        reader.join()

    assert len(seen) > 0 and set(seen) == {3}


def test_malformed_passwd_line_is_named_with_file_and_line(ftp: dict[str, Path]) -> None:
    ftp["passwd_file"].write_text("alice:x:2000:2000::/h/alice:/bin/false\nbroken line\n")
    with pytest.raises(ftp_users.PasswdFileError, match=r"ftpd.passwd, line 2: expected 7 fields"):
        call(fm.ListRegisteredUsers())


def test_missing_passwd_directory_is_reported_by_health_and_every_request(tmp_path: Path) -> None:
    fm.configure(HandlerContext(
        name="ftp_manager", options={}, data_dir=tmp_path, state_dir=tmp_path,
        shared={"ftp": {"passwd_file": str(tmp_path / "no-proftpd" / "ftpd.passwd"), "home_root": str(tmp_path),
                        "proftpd_pidfile": str(tmp_path / "pid"), "lock_filename": LOCK}}))

    note = fm.health()
    assert note is not None and "no-proftpd does not exist" in note and "apt-get install proftpd-basic" in note
    with pytest.raises(fm.BackendUnavailable, match="apt-get install proftpd-basic"):
        call(fm.ListRegisteredUsers())


def test_home_root_with_a_colon_is_refused_before_the_file_is_touched(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    passwd_file = tmp_path / "etc" / "ftpd.passwd"
    fm.configure(HandlerContext(
        name="ftp_manager", options={"password_rounds": FAST_ROUNDS}, data_dir=tmp_path, state_dir=tmp_path,
        shared={"ftp": {"passwd_file": str(passwd_file), "home_root": str(tmp_path / "a:b"),
                        "proftpd_pidfile": str(tmp_path / "pid"), "lock_filename": LOCK}}))
    with pytest.raises(ftp_users.PasswdFileError, match=r"home '.*a:b/alice' contains ':'"):
        call(fm.AddUser("alice", "pw"))
    assert passwd_file.read_text() == "" and not (tmp_path / "a:b" / "alice").exists()


def test_unknown_message_names_the_ones_it_answers(ftp: dict[str, Path]) -> None:
    with pytest.raises(fm.InvalidRequest, match="cannot answer dict: send AddUser"):
        call({"username": "alice"})


def test_options_are_validated_with_the_key_and_value(tmp_path: Path) -> None:
    settings = DaemonSettings(name="ftp_manager", handler="daemons.ftp_manager.handler:react", vhost="ftp",
                              exchange="ftp", input_queue="daemon", output_queue="plone", input_key="request",
                              output_key="result", options={"uid": "root"}, data_dir=tmp_path, state_dir=tmp_path)
    with pytest.raises(HandlerError, match=r"uid = 'root'"):
        validate_options(settings.name, settings.options, fm.OPTIONS_SPEC)
    defaults = validate_options(settings.name, {}, fm.OPTIONS_SPEC)
    assert defaults == {"uid": 2000, "gid": 2000, "shell": "/bin/false", "password_rounds": 656000}


def test_reload_leaves_a_process_that_is_not_proftpd_alone(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        pidfile = tmp_path / "proftpd.pid"
        pidfile.write_text(f"{bystander.pid}\n")
        assert reload_proftpd(pidfile) is False
        assert bystander.poll() is None  # a HUP would have ended sleep
    finally:
        bystander.send_signal(signal.SIGKILL)
        bystander.wait()


def test_reload_without_pidfile_does_not_fail_the_change(ftp: dict[str, Path]) -> None:
    assert not ftp["proftpd_pidfile"].exists()
    assert reload_proftpd(ftp["proftpd_pidfile"]) is False
    assert call(fm.AddUser("alice", "a")) is True
