"""``genrescope tag --engine ray``: the batched tagger spread over a Ray cluster.

Ray Data streams the file list through a pool of actors; each actor holds one
single-threaded ``BatchTagger`` for its whole life (the model loads once per actor, not
per file) and decodes the files itself, so the files must be at the same path on every
node (a shared mount). Results stream back to the driver as they finish, and the
driver writes them to the same store and outputs as a local run: a stopped or failed
Ray run resumes like any other.

Actors ask for ``ACTOR_CPUS`` (< 1) of a CPU each. With whole CPUs, a 2-core node
whose cores all hold actors has nothing left for Ray Data's own tasks (splitting the
input, moving blocks), and the pipeline can stall.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genrescope.model.frontend.pitch import KeyEstimate
from genrescope.stream.segments.smoother import Segment
from genrescope.stream.tag.tags import FileTags, RunStopped

ACTOR_CPUS = 0.8
# Files are dealt only once every actor is up (model loaded), so that a short run is
# spread over all nodes instead of going to whichever actor started first.
ACTOR_START_TIMEOUT_S = 600


class RayTaggerActor:
    """One long-lived tagger: a batch of paths in, one result row per path out."""

    def __init__(self, model_path: str | None):
        import ray

        from genrescope.stream.engine.engine import numpy_on_one_thread
        from genrescope.stream.tag.batch_tagger import load_batch_tagger

        numpy_on_one_thread()
        self.tagger = load_batch_tagger(Path(model_path) if model_path else None)
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        rows = [self.tagger.tag(path) for path in batch["path"]]
        return {
            "path": [tags.path for tags in rows],
            "audio_seconds": [tags.audio_seconds for tags in rows],
            "probabilities": [json.dumps(tags.probabilities) for tags in rows],
            "error": [tags.error or "" for tags in rows],
            "node": [self.node] * len(rows),
            "key": [tags.key.tag or "" for tags in rows],
            "key_confidence": [tags.key.confidence for tags in rows],
            "segments": [json.dumps([s.to_json() for s in tags.segments]) for tags in rows],
        }


def ray_results(
    paths: list[Path], model_path: Path | None = None, address: str | None = None, actors: int | None = None
) -> Iterator[tuple[FileTags, str]]:
    """(tags, node id) for every path, in the order they finish. Joins the cluster at
    ``address`` ('auto', HOST:PORT) or starts a local one; ``actors`` defaults to the
    cluster's CPUs."""
    import ray

    if not ray.is_initialized():
        try:
            ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise RunStopped(f"cannot join the Ray cluster at {address}: {error}") from error
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = False
    context.wait_for_min_actors_s = ACTOR_START_TIMEOUT_S
    pool = actors or _actors_that_fit()
    dataset = ray.data.from_items([{"path": str(path)} for path in paths], override_num_blocks=len(paths))
    # One file in flight per actor: a file is seconds of work, so queueing more on one
    # actor would only leave others idle at the end.
    compute = ray.data.ActorPoolStrategy(size=pool, max_tasks_in_flight_per_actor=1)
    tagged = dataset.map_batches(
        RayTaggerActor,
        fn_constructor_kwargs={"model_path": str(model_path or "")},
        batch_size=1,
        num_cpus=ACTOR_CPUS,
        compute=compute,
    )
    try:
        for row in tagged.iter_rows():
            key = KeyEstimate.from_tag(row["key"], float(row["key_confidence"]))
            segments = tuple(Segment.from_json(s) for s in json.loads(row["segments"]))
            yield (
                FileTags(
                    row["path"],
                    float(row["audio_seconds"]),
                    json.loads(row["probabilities"]),
                    row["error"] or None,
                    key,
                    segments,
                ),
                row["node"],
            )
    except ray.exceptions.RayError as error:
        raise RunStopped(f"the Ray run stopped: {str(error).splitlines()[0]}") from error


def _actors_that_fit() -> int:
    """Actors of ``ACTOR_CPUS`` each that the cluster's live nodes hold, node by node."""
    import ray

    nodes = [node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node["Alive"]]
    return max(1, sum(int(cpus / ACTOR_CPUS) for cpus in nodes))


def tag_on_ray(
    paths: list[Path], model_path: Path | None = None, address: str | None = None, actors: int | None = None
) -> Iterator[FileTags]:
    """``ray_results`` without the node ids: what ``genrescope tag`` stores."""
    for tags, _ in ray_results(paths, model_path, address, actors):
        yield tags
