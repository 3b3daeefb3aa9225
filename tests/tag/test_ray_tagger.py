"""`genrescope tag --engine ray` on a real two-node Ray cluster on this machine: files
tagged on both nodes, the same results as the local tagger, and a run that loses a
worker node resumed to the end."""

import subprocess
import time

import numpy as np
import pytest

from genrescope.stream.tag.batch_tagger import load_batch_tagger
from genrescope.stream.tag.library import find_audio
from genrescope.stream.tag.store import TagStore
from support import REPO, cli_command, run_cli, write_tone

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'genrescope[ray]')")
from ray.cluster_utils import Cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A head node and a worker node, one CPU each (the tests stay light on 2 cores)."""
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    cluster.worker = worker
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def make_library(folder, count, seconds):
    folder.mkdir()
    for i in range(count):
        write_tone(folder / f"tone{i:02d}.flac", seconds, frequency=150.0 + 37.0 * i, amplitude=0.1 + 0.02 * i)
    return folder


def stored(db):
    with TagStore(db) as store:
        return {row.path: row for row in store.rows()}


def test_both_nodes_tag_and_agree_with_the_local_tagger(cluster, test_model_path, tmp_path):
    from genrescope.stream.tag.ray_tagger import ray_results

    paths = find_audio([make_library(tmp_path / "lib", 8, 4.0)])
    try:
        results = list(ray_results(paths, test_model_path, cluster.address, actors=2))
    finally:
        ray.shutdown()
    assert len({node for _, node in results}) == 2  # rows from both nodes
    local = load_batch_tagger(test_model_path)
    assert sorted(tags.path for tags, _ in results) == sorted(map(str, paths))
    for tags, _ in results:
        expected = local.tag(tags.path)
        assert tags.audio_seconds == expected.audio_seconds and tags.key == expected.key
        np.testing.assert_allclose(list(tags.probabilities.values()), list(expected.probabilities.values()), atol=1e-4)


def test_cli_on_ray_equals_the_local_run_and_resumes_after_a_lost_worker(cluster, test_model_path, tmp_path):
    library = make_library(tmp_path / "lib", 16, 12.0)
    ray_db, local_db = tmp_path / "ray.sqlite", tmp_path / "local.sqlite"
    command = cli_command(
        "tag",
        str(library),
        "--db",
        str(ray_db),
        "--model",
        str(test_model_path),
        "--engine",
        "ray",
        "--address",
        cluster.address,
    )
    first = subprocess.Popen(command, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None and _rows(ray_db) < 2:
        time.sleep(0.2)
    cluster.remove_node(cluster.worker, allow_graceful=False)  # a worker machine dies mid-run
    _, err = first.communicate(timeout=400)
    assert first.returncode in (0, 1) and "Traceback" not in err, err
    if first.returncode == 1:  # the cluster could not go on: said so, finished files kept
        assert "run the same command again" in err, err
    done_first = _rows(ray_db)
    assert done_first >= 2
    cluster.worker = cluster.add_node(num_cpus=1)  # the machine comes back
    cluster.wait_for_nodes()
    resumed = run_cli(*command[3:], timeout=400)
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipping {done_first} files already tagged" in resumed.stderr  # nothing tagged twice
    local = run_cli(
        "tag", str(library), "--db", str(local_db), "--model", str(test_model_path), "--jobs", "1", timeout=400
    )
    assert local.returncode == 0, local.stderr
    on_ray, here = stored(ray_db), stored(local_db)
    assert sorted(on_ray) == sorted(here) and len(here) == 16
    for path, row in here.items():
        assert on_ray[path].genre == row.genre and on_ray[path].status == "done"
        assert on_ray[path].musical_key == row.musical_key and on_ray[path].musical_key
        np.testing.assert_allclose(
            list(on_ray[path].probabilities.values()), list(row.probabilities.values()), atol=1e-4
        )


def _rows(db):
    import sqlite3

    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute("SELECT count(*) FROM tags").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
