"""ZeroGPU Spaces (xlmr_demo/zerogpu.py): heavy work in a borrowed call, results back as plain data, on CPU.

No ZeroGPU is reachable here, so :class:`ZeroGpuSpace` stands in for the ``spaces`` package there with
the same contract (spaces 0.51, ``zero/wrappers.py``): the call runs in a process forked for it, its
arguments and everything it yields cross pickled, closing the generator closes the call at its next
item, and its duration is computed from its arguments. The forked process has no GPU either, so these
tests show what crosses and how a stop travels, not CUDA speed.
"""

from __future__ import annotations

import functools
import inspect
import multiprocessing
import os
import pickle
import sys
import types

import numpy as np
import pytest

from xlmr_demo import encoders, zerogpu
from xlmr_demo.encoders import embed, load_encoder
from xlmr_demo.errors import UserError
from xlmr_demo.jobs import Stopped
from xlmr_demo.progress import Step

from .conftest import SAMPLE, stopped_after, tatoeba


class ZeroGpuSpace(types.ModuleType):
    """A stand-in for the ``spaces`` package on a ZeroGPU Space: ``GPU`` runs a generator function in a
    process forked for the call, pickling what crosses, and records each call's duration and process."""

    def __init__(self) -> None:
        super().__init__("spaces")
        self.durations: list[int] = []
        self.pids: list[int] = []

    def GPU(self, task=None, *, duration=None, size=None):
        if task is None:
            return functools.partial(self.GPU, duration=duration, size=size)
        assert inspect.isgeneratorfunction(task)

        def handler(*args, **kwargs):
            self.durations.append(duration(*args, **kwargs) if callable(duration) else duration)
            context = multiprocessing.get_context("fork")
            arguments, results = context.SimpleQueue(), context.SimpleQueue()
            stop, read = context.Event(), context.Event()

            def worker() -> None:
                results.put(("pid", os.getpid()))
                args, kwargs = arguments.get()
                work = task(*args, **kwargs)
                try:
                    for item in work:
                        if stop.is_set():  # as spaces does: the caller left, the call is closed
                            work.close()
                            break
                        results.put(("item", item))
                except Exception as exc:  # spaces hands back only the kind of a non-Gradio error
                    results.put(("error", type(exc).__name__))
                results.put(("end", None))
                read.wait(60)  # as spaces' worker lives on: tensors cross as handles to its shared memory

            process = context.Process(target=worker, daemon=True)
            process.start()
            arguments.put((args, kwargs))
            try:
                while (reply := results.get())[0] != "end":
                    kind, value = reply
                    if kind == "pid":
                        self.pids.append(value)
                    elif kind == "error":
                        raise RuntimeError(f"ZeroGPU worker error: {value}")
                    else:
                        try:
                            yield value
                        except GeneratorExit:
                            stop.set()
                            while results.get()[0] != "end":  # until the call ends
                                pass
                            raise
            finally:
                read.set()
                process.join(60)

        return handler


@pytest.fixture
def space(monkeypatch) -> ZeroGpuSpace:
    """This process as a ZeroGPU Space's server."""
    fake = ZeroGpuSpace()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    zerogpu._borrowed.cache_clear()
    zerogpu.prepare()
    yield fake
    zerogpu._borrowed.cache_clear()


def _pid(progress=None) -> int:
    return os.getpid()


def _refuses(progress=None):
    raise UserError("That file has no text column.")


def _steps(progress=None) -> str:
    for done in range(3):
        progress(Step("working", done, 3))
    return "done"


class _Rebuilt:
    """Records, when unpickled, whether that process is a borrowed call's; ``there_only``: it cannot be rebuilt
    anywhere else (as a model that does not load in the server)."""

    def __init__(self, there_only: bool = False, inside: bool | None = None) -> None:
        self.there_only, self.inside = there_only, inside

    def __reduce__(self):
        return (_rebuilt, (self.there_only,))


def _rebuilt(there_only: bool) -> _Rebuilt:
    if there_only and not zerogpu._inside:
        raise ValueError("this cannot be rebuilt in the server")
    return _Rebuilt(there_only, zerogpu._inside)


def _where_rebuilt(argument: _Rebuilt, progress=None) -> bool:
    return argument.inside


def _made_there(progress=None) -> _Rebuilt:
    return _Rebuilt(there_only=True)


def _takes_the_encoders_lock(progress=None) -> bool:
    return encoders._ENCODERS_LOCK.acquire(timeout=10)


def test_off_a_zero_gpu_space_the_work_runs_here(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setitem(sys.modules, "spaces", None)  # importing it would fail
    assert zerogpu.gpu_here() and not zerogpu.borrowing()
    assert zerogpu.call(_pid, seconds=10) == os.getpid()


def test_the_server_process_of_a_zero_gpu_space_has_no_gpu(monkeypatch):
    """There torch says CUDA is available (spaces patches it), but CUDA work fails outside a borrowed call."""
    monkeypatch.setattr(encoders, "_has_nvidia_driver", lambda: True)
    monkeypatch.setattr(encoders, "_torch_cuda", lambda: True)
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert encoders.default_device() == "cuda"  # a Space with a GPU of its own
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert encoders.default_device() == "cpu"
    monkeypatch.setattr(zerogpu, "_inside", True)
    assert encoders.default_device() == "cuda" and not zerogpu.borrowing()


def test_a_borrowed_call_runs_elsewhere_and_says_what_a_user_got_wrong(space):
    assert zerogpu.call(_pid, seconds=10) == space.pids[0] != os.getpid()
    with pytest.raises(UserError, match="no text column"):
        zerogpu.call(_refuses, seconds=10)
    assert space.durations == [11, 11]


def test_arguments_are_rebuilt_in_the_borrowed_call_and_results_in_the_server(space):
    """Encoders among the arguments load on the borrowed GPU (even in the call's first process), and a result
    that cannot be rebuilt in the server raises there, in the job, instead of stalling it."""
    assert zerogpu.call(_where_rebuilt, _Rebuilt(), seconds=10) is True
    with pytest.raises(ValueError, match="cannot be rebuilt in the server"):
        zerogpu.call(_made_there, seconds=10)
    assert zerogpu.call(_pid, seconds=10) != os.getpid()  # and the next call goes on


def test_a_borrowed_call_stops_its_work_before_its_time_is_up(space, monkeypatch):
    monkeypatch.setattr(zerogpu, "GRACE_SECONDS", 10**6)  # its duration is already over
    with pytest.raises(Stopped, match="the time this Space lends its GPU for was nearly up"):
        zerogpu.call(_steps, seconds=10)


def test_a_lock_held_when_the_call_is_forked_is_free_there(space):
    with encoders._ENCODERS_LOCK:  # another thread is building an encoder when the call's process is forked
        assert zerogpu.call(_takes_the_encoders_lock, seconds=10) is True


def test_fine_tuning_fits_a_borrowed_call(monkeypatch):
    from xlmr_demo.web import page
    from xlmr_demo.web.training import MEASURING_SECONDS, finetune_minutes

    assert page._budget_slider("").maximum == 30

    assert finetune_minutes(10) == 10
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    longest = (zerogpu.MAX_SECONDS - MEASURING_SECONDS) / 60
    assert finetune_minutes(longest) == longest
    with pytest.raises(UserError, match=f"at most {longest:g} minutes here: this Space lends its GPU"):
        finetune_minutes(longest + 1)
    assert page._budget_slider("", visible=True).maximum == int(longest)  # the page offers no more


def test_a_large_embedding_job_borrows_a_gpu_and_gets_the_same_vectors(space, encoder, monkeypatch):
    texts = tatoeba("deu", 150)[0] + tatoeba("fra", 150)[0]
    here = embed(texts, encoder, cache=False).embeddings
    monkeypatch.setattr(zerogpu, "BORROW_TEXTS", 100)
    monkeypatch.setattr(zerogpu, "BORROW_CHUNK", 200)  # more than a call's longest duration allows: two calls
    steps: list[Step] = []
    small = embed(texts[:99], encoder, cache=False)
    assert not space.pids  # below the threshold: the CPU here
    borrowed = embed(texts, encoder, cache=False, progress=steps.append)
    assert len(space.pids) == 2 and space.durations == [int(zerogpu.embedding_seconds(n)) + 1 for n in (200, 100)]
    assert borrowed.encoder is encoder and borrowed.embeddings.shape == here.shape
    assert np.einsum("ij,ij->i", borrowed.embeddings, here).min() > 0.9999
    np.testing.assert_allclose(small.embeddings, here[:99], atol=1e-6)
    done = [s.done for s in steps]  # the progress reached this process, counted over both calls
    assert done == sorted(done) and steps[-1].done == steps[-1].total == len(texts) and 200 in done


def test_encoders_pickle_as_how_to_build_them(encoder):
    """A call's results carry their encoders: they cross as a name and settings, a fine-tuned copy as its
    base and the weights it changed, and arrive as this process's (cached) encoder."""
    assert pickle.loads(pickle.dumps(load_encoder())) is load_encoder()
    assert len(pickle.dumps(load_encoder())) < 2_000  # never the network
    network = encoder.model[0].auto_model
    name = "encoder.layer.11.output.dense.weight"
    weight = network.state_dict()[name].float().numpy()
    changed = {name: (weight + np.random.default_rng(0).normal(0, 0.02, weight.shape)).astype(np.float16)}
    tuned = encoder.fine_tuned(changed, 128)
    crossed = pickle.loads(pickle.dumps(tuned))
    assert len(pickle.dumps(tuned)) < changed[name].nbytes + 100_000
    assert crossed.fingerprint == tuned.fingerprint and crossed.max_length == 128
    texts = tatoeba("spa", 16)[0]
    np.testing.assert_allclose(crossed.encode(texts), tuned.encode(texts), atol=1e-6)
    assert np.einsum("ij,ij->i", tuned.encode(texts), encoder.encode(texts)).min() < 0.9999  # really changed


def test_a_tagger_crosses_without_the_embeddings_it_shares(model_dir):
    from transformers import AutoModelForTokenClassification

    from finetune.token_classification import Tagger

    base = load_encoder(precision=encoders.auto_precision("cpu"))  # the tagger's: it shares their embeddings
    network = AutoModelForTokenClassification.from_pretrained(base.folder, num_labels=3)
    tagger = Tagger(network, base.tokenizer, ["O", "B-PER", "I-PER"], base)
    assert tagger.shared_embeddings is not None
    data = pickle.dumps(tagger)
    crossed = pickle.loads(data)
    embeddings = tagger.shared_embeddings.weight
    assert len(data) < tagger.nbytes + 10 * 2**20 < embeddings.numel() * embeddings.element_size()
    assert crossed.shared_embeddings is not None and crossed.shared_embeddings.weight is embeddings
    sentences = [s.split() for s in tatoeba("deu", 8)[0]]
    assert crossed.tag(sentences) == tagger.tag(sentences)


@pytest.mark.slow
def test_fine_tuning_on_a_borrowed_gpu_stops_and_keeps_its_best_weights(space, model_dir):
    """The app's fine-tuning stopped by the person watching: the stop reaches the borrowed call, which keeps
    the best weights measured and hands back the headline; the server gets the stop with its own message."""
    from finetune import text_classification
    from xlmr_demo.classifier import Classifier
    from xlmr_demo.dataset import load_dataset
    from xlmr_demo.training import LABEL_ERRORS, TRANSFER

    progress, _ = stopped_after(3)  # a person presses Stop after the third step

    results = []
    borrowed = zerogpu.stages(text_classification.finetune_stages, load_dataset(SAMPLE), seconds=420, progress=progress)
    with pytest.raises(Stopped, match=r"^Fine-tuning stopped\.$"):
        for result in borrowed:
            results.append(result)
    [kept] = results  # the headline, then the stop: no diagnostics
    tuned = kept.training["fine_tuning"]
    assert tuned["stopped"] == "Fine-tuning stopped." and tuned["steps"]["done"] >= 3  # it went on while told
    assert kept.pending == (TRANSFER, LABEL_ERRORS) and space.durations == [zerogpu.MAX_SECONDS]  # asked 420
    assert type(kept.classifier) is Classifier and kept.classifier.encoder is load_encoder()  # this process's
    test = kept.dataset.indices("test")
    predicted = kept.classifier.predict([kept.dataset.texts[i] for i in test])
    agree = np.mean(np.asarray(predicted) == np.asarray(kept.evaluated["predicted"]))
    assert agree > 0.95, agree  # measured there, predicted here: one classifier
