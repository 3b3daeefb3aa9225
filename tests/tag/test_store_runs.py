"""Several real `genrescope tag` processes on one store: a run holds it (a second one
says so in one line, exit 2, and changes nothing), a reader (--export) still reads it,
and every row's key is the file's after its tags were written, so a third run finds
everything done."""

import signal
import subprocess

from genrescope.stream.tag.store import FileKey, TagStore
from support import REPO, run_cli, tag_write_command, write_tone

FILES = 16


def test_a_second_run_on_a_held_store_stops_and_a_third_finds_all_done(test_model_path, tmp_path):
    folder, db = tmp_path / "library", tmp_path / "tags.sqlite"
    folder.mkdir()
    for i in range(FILES):
        write_tone(folder / f"t{i:02d}.flac", 20.0, rate=8_000, frequency=200.0 + 25 * i)
    command = tag_write_command(test_model_path, folder, db, "--min-confidence", "0")
    first = subprocess.Popen(command, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert first.stdout.readline()  # one file tagged, written and stored: the run is under way
    first.send_signal(signal.SIGSTOP)  # and stays under way, however fast it is, while the others run
    second = subprocess.run(command, cwd=REPO, text=True, capture_output=True, timeout=300)
    export = run_cli("tag", "--export", str(tmp_path / "now.jsonl"), "--db", str(db))
    first.send_signal(signal.SIGCONT)
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert second.returncode == 2 and second.stdout == "", second.stderr
    assert len(second.stderr.splitlines()) == 1 and "in use by another `genrescope tag` run" in second.stderr
    assert export.returncode == 0, export.stderr  # reading needs no hold
    assert "wrote tags into 16 files" in err
    third = subprocess.run(command, cwd=REPO, text=True, capture_output=True, timeout=300)
    assert third.returncode == 0 and third.stdout == "", third.stderr
    assert f"tagged 0 files (0.0 min of audio) this run, {FILES} already done" in third.stderr
    with TagStore(db) as store:
        stored = {(row.path, row.size, row.mtime_ns) for row in store.rows()}
    assert stored == {(key.path, key.size, key.mtime_ns) for key in map(FileKey.of, folder.iterdir())}
